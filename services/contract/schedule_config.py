"""Typed configuration of the contract service's scheduled work and evidence log.

| variable | default | meaning |
|---|---|---|
| ``CONTRACT_SCHEDULER_TICK_SECONDS`` | ``1`` | how often each replica checks whether a job is due |
| ``CONTRACT_SCHEDULER_LEASE_SECONDS`` | ``300`` | how long a replica holds a job it runs; one that died frees it after this |
| ``CONTRACT_REMINDER_SECONDS`` | ``86400`` | time between reminders to a signer whose turn it is (the first comes this long after the turn starts) |
| ``CONTRACT_REMINDER_MAX`` | ``3`` | most reminders per signer and contract |
| ``CONTRACT_NOTICE_POLL_SECONDS`` | ``2`` | how often due reminders and expiry notices are looked for and sent |
| ``CONTRACT_NOTICE_TIMEZONE`` | ``Asia/Shanghai`` | time zone of the times written in notices |
| ``CONTRACT_DELEGATION_SECONDS`` | ``10`` | how often contracts are looked for that a signing grant signs |
| ``CONTRACT_EVIDENCE_LOG_SECONDS`` | ``10`` | how often completed contracts are appended to the evidence log |
| ``CONTRACT_EVIDENCE_STH_SECONDS`` | ``60`` | how often a signed tree head is issued (when the log grew) and pushed to the ledger |
| ``CONTRACT_EVIDENCE_LOG_ID`` | ``econtract-evidence-log`` | name of the log in its signed tree heads |
| ``CONTRACT_EVIDENCE_LEDGER`` | ``file`` | where tree heads are pushed: ``file``, ``http`` or ``none`` (see ledger.py) |
| ``CONTRACT_EVIDENCE_LEDGER_FILE`` | ``$ECONTRACT_VAR_DIR/evidence/ledger.jsonl`` | the ``file`` ledger's file (``none``: push nowhere) |
| ``CONTRACT_EVIDENCE_LEDGER_URL`` | — | the ``http`` ledger's endpoint (http or https) that tree heads are POSTed to |
| ``CONTRACT_EVIDENCE_LEDGER_TOKEN`` | — | bearer token for the ``http`` ledger, if it asks for one |
| ``CONTRACT_EVIDENCE_LEDGER_TIMEOUT_SECONDS`` | ``10`` | how long one push to the ``http`` ledger may take |
| ``CONTRACT_CERTIFICATE_FONT`` | ``/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc`` | CJK font of the certificate of completion (of a collection, its Simplified Chinese face) |

A bad value fails at start-up with a ``SettingsError`` naming the variable.
"""
from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from core.settings import SettingsError
from services.contract.config import _number

DEFAULT_FONT = "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc"
LEDGERS = ("file", "http", "none")


@dataclass(frozen=True)
class ScheduleConfig:
    tick_seconds: float = 1.0
    lease_seconds: float = 300.0
    reminder_seconds: float = 86400.0
    reminder_max: int = 3
    notice_poll_seconds: float = 2.0
    notice_timezone: str = "Asia/Shanghai"
    delegation_seconds: float = 10.0
    evidence_log_seconds: float = 10.0
    evidence_sth_seconds: float = 60.0
    evidence_log_id: str = "econtract-evidence-log"
    ledger_file: Path | None = None
    certificate_font: Path = Path(DEFAULT_FONT)
    ledger: str = "file"  # one of LEDGERS
    ledger_url: str = ""
    ledger_token: str = field(default="", repr=False)
    ledger_timeout_seconds: float = 10.0


def load_schedule_config(var_dir: Path, env: Mapping[str, str] | None = None) -> ScheduleConfig:
    env = os.environ if env is None else env
    timezone = (env.get("CONTRACT_NOTICE_TIMEZONE") or "Asia/Shanghai").strip()
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise SettingsError(f"CONTRACT_NOTICE_TIMEZONE={timezone!r} is not a known time zone") from None
    ledger_raw = (env.get("CONTRACT_EVIDENCE_LEDGER_FILE") or "").strip()
    ledger = None if ledger_raw.lower() == "none" else Path(ledger_raw or var_dir / "evidence" / "ledger.jsonl")
    # Unset, the file ledger; or nothing, when its file is ``none`` (as before there was a choice).
    kind = (env.get("CONTRACT_EVIDENCE_LEDGER") or ("file" if ledger is not None else "none")).strip().lower()
    if kind not in LEDGERS:
        raise SettingsError(f"CONTRACT_EVIDENCE_LEDGER={kind!r} must be one of {', '.join(LEDGERS)}")
    ledger_url = (env.get("CONTRACT_EVIDENCE_LEDGER_URL") or "").strip()
    if kind == "http":
        parts = urlsplit(ledger_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise SettingsError("CONTRACT_EVIDENCE_LEDGER_URL must be the http(s) URL of the ledger's endpoint "
                                "when CONTRACT_EVIDENCE_LEDGER=http")
    if kind == "file" and ledger is None:
        raise SettingsError("CONTRACT_EVIDENCE_LEDGER=file needs a file: CONTRACT_EVIDENCE_LEDGER_FILE is 'none'")
    ledger_timeout = _number(env, "CONTRACT_EVIDENCE_LEDGER_TIMEOUT_SECONDS", 10.0)
    font = Path((env.get("CONTRACT_CERTIFICATE_FONT") or DEFAULT_FONT).strip())
    log_id = (env.get("CONTRACT_EVIDENCE_LOG_ID") or "econtract-evidence-log").strip()
    if not log_id.isascii() or len(log_id) > 100:
        raise SettingsError(f"CONTRACT_EVIDENCE_LOG_ID={log_id!r} must be ASCII, at most 100 characters")
    reminder_max = _number(env, "CONTRACT_REMINDER_MAX", 3)
    if reminder_max != int(reminder_max):
        raise SettingsError(f"CONTRACT_REMINDER_MAX={reminder_max!r} must be a whole number")
    return ScheduleConfig(
        tick_seconds=_number(env, "CONTRACT_SCHEDULER_TICK_SECONDS", 1.0),
        lease_seconds=_number(env, "CONTRACT_SCHEDULER_LEASE_SECONDS", 300.0),
        reminder_seconds=_number(env, "CONTRACT_REMINDER_SECONDS", 86400.0),
        reminder_max=int(reminder_max),
        notice_poll_seconds=_number(env, "CONTRACT_NOTICE_POLL_SECONDS", 2.0),
        notice_timezone=timezone,
        delegation_seconds=_number(env, "CONTRACT_DELEGATION_SECONDS", 10.0),
        evidence_log_seconds=_number(env, "CONTRACT_EVIDENCE_LOG_SECONDS", 10.0),
        evidence_sth_seconds=_number(env, "CONTRACT_EVIDENCE_STH_SECONDS", 60.0),
        evidence_log_id=log_id,
        ledger_file=ledger,
        certificate_font=font,
        ledger=kind,
        ledger_url=ledger_url,
        ledger_token=(env.get("CONTRACT_EVIDENCE_LEDGER_TOKEN") or "").strip(),
        ledger_timeout_seconds=ledger_timeout,
    )
