"""The console's view of the certificates the platform CA issued: list them, revoke one.

A revocation goes through ``PlatformCa.revoke`` (the registry's conditional update, then
the CA's cached CRL and OCSP answers for it are dropped), so the next CRL and OCSP answer
of this replica already show it. CA certificates are not revoked this way: revoking the
issuing CA would stop every signature and timestamp at once, which is a key ceremony,
not a console click.
"""
from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from enum import StrEnum

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from core.errors import FailedPrecondition, invalid
from services.signing import pki
from services.signing.store import CertificateEntry, SqlCertificateRegistry, page_size

_SERIAL = re.compile(r"[0-9a-f]{1,40}")
# RFC 5280 reason names as written in the standard, and our snake_case values.
_REASONS = {
    "unspecified": pki.RevocationReason.UNSPECIFIED,
    "keycompromise": pki.RevocationReason.KEY_COMPROMISE,
    "affiliationchanged": pki.RevocationReason.AFFILIATION_CHANGED,
    "superseded": pki.RevocationReason.SUPERSEDED,
    "cessationofoperation": pki.RevocationReason.CESSATION_OF_OPERATION,
}


class Status(StrEnum):
    VALID = "VALID"
    EXPIRED = "EXPIRED"
    REVOKED = "REVOKED"


@dataclass(frozen=True)
class CertificateView:
    serial: str
    subject_dn: str
    issuer_dn: str
    subject_id: str
    subject_kind: str
    not_before: dt.datetime
    not_after: dt.datetime
    status: Status
    revoked_at: dt.datetime | None
    revocation_reason: str
    pem: str


def parse_serial(text: str) -> int:
    serial = text.strip().lower().removeprefix("0x").replace(":", "")
    if not _SERIAL.fullmatch(serial):
        raise invalid("serialNumber", "must be the certificate's serial number in hex")
    return int(serial, 16)


def parse_reason(text: str) -> tuple[pki.RevocationReason, str | None]:
    """An RFC 5280 reason name (``keyCompromise`` or ``key_compromise``), or free text,
    which is kept as a note under the reason ``unspecified``."""
    key = text.strip().replace("_", "").replace("-", "").lower()
    if not key:
        return pki.RevocationReason.UNSPECIFIED, None
    if key in _REASONS:
        return _REASONS[key], None
    if len(text) > 2000:
        raise invalid("reason", "at most 2000 characters")
    return pki.RevocationReason.UNSPECIFIED, text.strip()


class Certificates:
    def __init__(self, ca: pki.PlatformCa, registry: SqlCertificateRegistry):
        self._ca = ca
        self._registry = registry

    def list(self, *, subject_id: str = "", include_inactive: bool = False, size: int = 0,
             token: str = "", subject_name: str = "") -> tuple[list[CertificateView], str | None]:
        entries, next_token = self._registry.list(subject_id=subject_id or None, include_inactive=include_inactive,
                                                  size=page_size(size), token=token or None,
                                                  subject_name=subject_name.strip() or None)
        return [self._view(e) for e in entries], next_token

    def revoke(self, serial_text: str, reason_text: str = "") -> CertificateView:
        serial = parse_serial(serial_text)
        reason, note = parse_reason(reason_text)
        entry = self._registry.entry(serial)
        if entry.record.role is pki.CertRole.ISSUING_CA:
            raise FailedPrecondition("a CA certificate cannot be revoked through this call")
        self._ca.revoke(serial, reason)
        if note:
            self._registry.note(serial, note)
        return self._view(self._registry.entry(serial))

    def _view(self, entry: CertificateEntry) -> CertificateView:
        record = entry.record
        if record.status is pki.CertStatus.REVOKED:
            status = Status.REVOKED
        elif record.not_after <= dt.datetime.now(dt.timezone.utc):
            status = Status.EXPIRED
        else:
            status = Status.VALID
        issuer = self._ca.root_cert if record.issuer == "root" else self._ca.issuing_cert
        reason = record.revocation_reason or ""
        if entry.revocation_note:
            reason = f"{reason}: {entry.revocation_note}" if reason else entry.revocation_note
        return CertificateView(
            serial=format(record.serial, "x"), subject_dn=record.subject, issuer_dn=issuer.subject.rfc4514_string(),
            subject_id=record.subject_id or "", subject_kind=entry.subject_kind, not_before=record.not_before,
            not_after=record.not_after, status=status, revoked_at=record.revoked_at, revocation_reason=reason,
            pem=_pem(record.cert_der),
        )


def _pem(der: bytes) -> str:
    return x509.load_der_x509_certificate(der).public_bytes(serialization.Encoding.PEM).decode()
