"""Delivery of one-time codes: e-mail over SMTP, SMS through a provider's HTTP API, and a
Redis outbox standing in for both in dev mode (read back by ``GET /v1/dev/outbox``).

Texts are Chinese by default, English on request. Senders raise domain errors: the
recipient was refused → INVALID_ARGUMENT; our credentials or configuration were refused →
FAILED_PRECONDITION; the provider is unreachable or failing → UNAVAILABLE.
"""
from __future__ import annotations

import datetime as dt
import enum
import json
import secrets
import smtplib
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from typing import Any, Literal, Protocol

import httpx
from redis import Redis

from core.errors import FailedPrecondition, InvalidArgument, Unavailable
from services.identity.masking import mask_email, mask_mobile, mask_text
from services.identity.provider_http import ProviderEndpoint, SignedJsonClient


class Channel(enum.StrEnum):
    SMS = "SMS"
    EMAIL = "EMAIL"


@dataclass(frozen=True)
class OutgoingMessage:
    channel: Channel
    recipient: str = field(repr=False)
    body: str = field(repr=False)  # carries the code: never logged
    subject: str = ""
    message_id: str = field(default_factory=lambda: "msg_" + secrets.token_urlsafe(12))
    # What the message carries, for the dev outbox only; real senders send just the body.
    code: str = field(default="", repr=False)
    challenge_id: str = ""


_TEXTS = {
    "zh": {
        "brand": "电子合同",
        "body": "【{brand}】您的验证码为{code}，{minutes}分钟内有效，请勿泄露。",
        "subject": "【{brand}】签署验证码",
    },
    "en": {
        "brand": "E-Contract",
        "body": "[{brand}] Your verification code is {code}. It is valid for {minutes} minutes. Do not share it with anyone.",
        "subject": "[{brand}] Your signing verification code",
    },
}


def code_message(
    channel: Channel | str,
    recipient: str,
    code: str,
    *,
    minutes: int = 5,
    language: Literal["zh", "en"] = "zh",
    brand: str | None = None,
    challenge_id: str = "",
) -> OutgoingMessage:
    """The verification-code message, e.g. 【电子合同】您的验证码为123456，5分钟内有效，请勿泄露。"""
    if language not in _TEXTS:
        raise InvalidArgument(f"language must be one of {', '.join(_TEXTS)}")
    texts = _TEXTS[language]
    values = {"brand": brand or texts["brand"], "code": code, "minutes": minutes}
    channel = Channel(channel)
    subject = texts["subject"].format(**values) if channel is Channel.EMAIL else ""
    body = texts["body"].format(**values)
    return OutgoingMessage(channel, recipient, body, subject, code=code, challenge_id=challenge_id)


class MessageSender(Protocol):
    def send(self, message: OutgoingMessage) -> str:
        """Deliver (or hand over for delivery) and return the message's id."""
        ...


class SmtpEmailSender:
    """Sends e-mail through an SMTP server.

    ``security``: ``starttls`` (submission port 587, upgrade required), ``ssl`` (implicit
    TLS, port 465) or ``none`` (a trusted local relay only). Certificates are verified
    against ``ssl_context`` (default: the system's trust store). Every network step is
    bounded by ``timeout`` seconds. No automatic retry: a message may have been accepted
    before a connection dropped, and the user can ask for a new code.
    """

    def __init__(
        self,
        host: str,
        port: int,
        from_address: str,
        *,
        security: Literal["starttls", "ssl", "none"] = "starttls",
        username: str | None = None,
        password: str | None = None,
        timeout: float = 10.0,
        ssl_context: ssl.SSLContext | None = None,
    ):
        if security not in ("starttls", "ssl", "none"):
            raise ValueError(f"smtp security must be starttls, ssl or none, got {security!r}")
        if (username is None) != (password is None):
            raise ValueError("smtp username and password go together")
        self._host, self._port, self._from = host, port, from_address
        self._security = security
        self._username, self._password = username, password
        self._timeout = timeout
        self._ssl_context = ssl_context

    def send(self, message: OutgoingMessage) -> str:
        if message.channel is not Channel.EMAIL:
            raise InvalidArgument("SmtpEmailSender only sends e-mail")
        email = EmailMessage()
        email["From"] = self._from
        email["To"] = message.recipient
        email["Subject"] = message.subject
        email["Date"] = format_datetime(dt.datetime.now(dt.UTC))
        email["Message-ID"] = make_msgid(idstring=message.message_id, domain=self._from.rpartition("@")[2] or None)
        email.set_content(message.body, charset="utf-8")
        context = self._ssl_context or ssl.create_default_context()
        try:
            smtp: smtplib.SMTP
            if self._security == "ssl":
                smtp = smtplib.SMTP_SSL(self._host, self._port, timeout=self._timeout, context=context)
            else:
                smtp = smtplib.SMTP(self._host, self._port, timeout=self._timeout)
            with smtp:
                if self._security == "starttls":
                    smtp.starttls(context=context)  # raises if the server does not offer it
                if self._username is not None:
                    smtp.login(self._username, self._password or "")
                smtp.send_message(email)
        except smtplib.SMTPRecipientsRefused as exc:
            raise InvalidArgument(f"the mail server refused recipient {mask_email(message.recipient)}") from exc
        except smtplib.SMTPAuthenticationError as exc:
            raise FailedPrecondition("the mail server refused our credentials") from exc
        except smtplib.SMTPNotSupportedError as exc:
            raise FailedPrecondition(f"the mail server does not support a required feature: {exc}") from exc
        except (smtplib.SMTPException, OSError) as exc:  # OSError covers refused, timeouts and TLS errors
            raise Unavailable(f"e-mail delivery failed: {type(exc).__name__}: {mask_text(str(exc))[:200]}") from exc
        return email["Message-ID"]


class HttpSmsSender:
    """Adapter for an SMS gateway speaking signed JSON over HTTPS (signing as in ``provider_http``).

    ``POST /v1/sms/send`` with ``{"phoneNumber": "13800000000", "content": "【电子合同】…",
    "outId": "msg_…"}``; a 200 answer ``{"code": "OK", "messageId": "…"}`` means accepted,
    any other ``code`` (with ``message``) means refused: ``INVALID_PHONE`` → INVALID_ARGUMENT,
    the rest → FAILED_PRECONDITION. ``outId`` is our message id, the same on every retry, so
    the gateway can drop a duplicate when a 5xx answer hid an accepted message.
    """

    def __init__(self, endpoint: ProviderEndpoint, name: str = "sms", client: httpx.Client | None = None):
        self._http = SignedJsonClient(endpoint, f"SMS ({name})", client=client)

    def close(self) -> None:
        self._http.close()

    def send(self, message: OutgoingMessage) -> str:
        if message.channel is not Channel.SMS:
            raise InvalidArgument("HttpSmsSender only sends SMS")
        answer = self._http.post(
            "/v1/sms/send", {"phoneNumber": message.recipient, "content": message.body, "outId": message.message_id}
        ).body
        code, provider_id = answer.get("code"), answer.get("messageId")
        if code == "OK" and isinstance(provider_id, str) and provider_id:
            return provider_id
        detail = mask_text(str(answer.get("message", "")))[:200]
        if code == "INVALID_PHONE":
            raise InvalidArgument(f"the SMS gateway refused {mask_mobile(message.recipient)}: {detail}")
        if code is None:
            raise Unavailable("the SMS gateway answered without a code")
        raise FailedPrecondition(f"the SMS gateway refused the message ({code}): {detail}")


@dataclass(frozen=True)
class OutboxEntry:
    """One stored message; fields as ``econtract.identity.v1.OutboxMessage``."""

    message_id: str
    channel: Channel
    recipient: str
    subject: str
    body: str
    code: str
    challenge_id: str
    created_at: dt.datetime

    def to_json(self) -> dict[str, Any]:
        """The proto3-JSON shape for ``GET /v1/dev/outbox``."""
        return {
            "messageId": self.message_id,
            "channel": self.channel.value,
            "recipient": self.recipient,
            "subject": self.subject,
            "body": self.body,
            "code": self.code,
            "challengeId": self.challenge_id,
            "createTime": self.created_at.isoformat().replace("+00:00", "Z"),
        }


class DevOutboxSender:
    """Keeps messages in Redis instead of delivering them; dev mode only.

    ``{ns}:outbox:to:{recipient}`` (per recipient) and ``{ns}:outbox:all`` are lists, newest
    first, trimmed to ``keep`` entries and expiring ``ttl_seconds`` after the last message.
    Recipients are keyed trimmed and lower-cased; pass mobiles in one form (11 digits).
    """

    def __init__(
        self,
        redis: Redis,
        *,
        dev_mode: bool,
        namespace: str = "econtract:identity",
        keep: int = 20,
        ttl_seconds: int = 86_400,
        clock: Callable[[], float] = time.time,
    ):
        if not dev_mode:
            raise FailedPrecondition("the dev outbox exists only in dev mode (ECONTRACT_ENV=dev)")
        if keep < 1 or ttl_seconds < 1:
            raise ValueError("outbox keep and ttl_seconds must be positive")
        self._redis = redis
        self._namespace = namespace
        self._keep = keep
        self._ttl = ttl_seconds
        self._clock = clock

    def _key(self, recipient: str | None) -> str:
        if not recipient:
            return f"{self._namespace}:outbox:all"
        return f"{self._namespace}:outbox:to:{recipient.strip().lower()}"

    def send(self, message: OutgoingMessage) -> str:
        entry = {
            "messageId": message.message_id,
            "channel": message.channel.value,
            "recipient": message.recipient,
            "subject": message.subject,
            "body": message.body,
            "code": message.code,
            "challengeId": message.challenge_id,
            "createdAt": self._clock(),
        }
        raw = json.dumps(entry, ensure_ascii=False)
        pipe = self._redis.pipeline(transaction=True)  # push, trim and expire together
        for key in (self._key(message.recipient), self._key(None)):
            pipe.lpush(key, raw)
            pipe.ltrim(key, 0, self._keep - 1)
            pipe.expire(key, self._ttl)
        pipe.execute()
        return message.message_id

    def list_outbox(self, recipient: str | None = None, limit: int | None = None) -> list[OutboxEntry]:
        """Messages to ``recipient`` (None or empty: to anyone), newest first."""
        if limit is not None and limit < 1:
            return []
        stop = -1 if limit is None else limit - 1
        entries = []
        for raw in self._redis.lrange(self._key(recipient), 0, stop):
            data = json.loads(raw)
            entries.append(
                OutboxEntry(
                    message_id=data["messageId"],
                    channel=Channel(data["channel"]),
                    recipient=data["recipient"],
                    subject=data["subject"],
                    body=data["body"],
                    code=data["code"],
                    challenge_id=data["challengeId"],
                    created_at=dt.datetime.fromtimestamp(data["createdAt"], dt.UTC),
                )
            )
        return entries
