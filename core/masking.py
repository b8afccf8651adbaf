"""Masking of personal identifiers in logs, traces and error messages.

ID numbers keep region and last four (110101********4514), mobiles keep the carrier prefix
and last four (138****0000), e-mail addresses keep the first character and the domain
(z***@example.com): enough for support staff to tell records apart, not enough to reuse.
``mask_text`` finds all three in free text; it errs towards masking (any standalone
18-character digit run looks like an ID number), since a masked order number costs little
and a leaked ID number cannot be taken back.

Shared by every service that holds such identifiers (identity, contract):
``install_masking`` puts ``MaskingFilter`` on the root logger and its handlers.
"""
from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from typing import Any

_ID_RE = re.compile(r"(?<![0-9A-Za-z])(\d{6})(\d{8})(\d{3}[\dXx])(?![0-9A-Za-z])")
_MOBILE_RE = re.compile(r"(?<![0-9A-Za-z])(\+?86[- ]?)?(1[3-9]\d)(\d{4})(\d{4})(?![0-9A-Za-z])")
_EMAIL_RE = re.compile(r"(?<![\w.%+-])([A-Za-z0-9._%+-])[A-Za-z0-9._%+-]*@([A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,})")


def mask_id_number(number: str) -> str:
    """110101199003074514 → 110101********4514 (also for malformed input of any length)."""
    n = number.strip()
    if len(n) <= 10:
        return "*" * len(n)
    return n[:6] + "*" * (len(n) - 10) + n[-4:]


def mask_mobile(mobile: str) -> str:
    """13800000000 → 138****0000; a +86 prefix is kept."""
    m = mobile.strip()
    prefix = ""
    if m.startswith("+86"):
        prefix, m = "+86", m[3:].lstrip(" -")
    if len(m) < 8:
        return prefix + "*" * len(m)
    return prefix + m[:3] + "*" * (len(m) - 7) + m[-4:]


def mask_email(email: str) -> str:
    """zhangsan@example.com → z***@example.com."""
    local, at, domain = email.strip().rpartition("@")
    if not at or not local:
        return "***"
    return f"{local[0]}***@{domain}"


def mask_text(text: str) -> str:
    """Mask every ID number, mobile and e-mail address found in ``text``."""
    text = _ID_RE.sub(lambda m: m.group(1) + "********" + m.group(3)[-4:], text)
    text = _MOBILE_RE.sub(lambda m: (m.group(1) or "") + m.group(2) + "****" + m.group(4), text)
    return _EMAIL_RE.sub(lambda m: f"{m.group(1)}***@{m.group(2)}", text)


def mask_value(value: Any) -> Any:
    """Mask strings inside nested dicts/lists/tuples (span attributes, error details)."""
    if isinstance(value, str):
        return mask_text(value)
    if isinstance(value, Mapping):
        return {k: mask_value(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(mask_value(v) for v in value)
    return value


class MaskingFilter(logging.Filter):
    """Masks identifiers in a record's message, arguments and exception text.

    The message is rendered with its arguments before masking: an argument of any type
    (an int mobile number, an object whose ``str`` includes an e-mail) could carry an
    identifier, so masking the format string and the string arguments alone would leak.
    Attach it to handlers, so records from every logger pass through it.
    """

    _formatter = logging.Formatter()

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except (TypeError, ValueError):  # a broken format string: mask the parts instead
            message = f"{record.msg} {record.args!r}"
        record.msg = mask_text(message)
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = self._formatter.formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = mask_text(record.exc_text)
        if record.stack_info:
            record.stack_info = mask_text(record.stack_info)
        return True


def install_masking(logger: logging.Logger | None = None) -> None:
    """Mask ID numbers, mobiles and e-mails in what the root logger and its handlers write.

    A logger's own filters see only records logged on it, not those propagated from child
    loggers, so the filter goes on the handlers too. Idempotent.
    """
    root = logger or logging.getLogger()
    for target in (root, *root.handlers):
        if not any(isinstance(f, MaskingFilter) for f in target.filters):
            target.addFilter(MaskingFilter())
