"""The signing service's tables and queries: issued certificates, seals, evidence records,
client-side signing preparations.

``SqlCertificateRegistry`` is the registry the platform CA writes every certificate to and
builds CRLs and OCSP answers from (``pki.CertificateRegistry``): with several replicas the
database, not a file, is the single source of revocation truth, and a revocation is one
conditional UPDATE, so two revocations of one certificate cannot overwrite each other.
"""
from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace

import sqlalchemy as sa
from cryptography import x509
from cryptography.x509.oid import NameOID
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, sessionmaker

from core.errors import NotFound, invalid
from services.signing.pki import CertRole, CertStatus, IssuedCertificate

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 500


class SigningBase(DeclarativeBase):
    """Metadata of the signing service's own tables."""


class CertificateRow(SigningBase):
    """A certificate the platform CA issued, with its revocation status."""

    __tablename__ = "certificates"

    serial: Mapped[str] = mapped_column(sa.String(40), primary_key=True)  # lowercase hex
    issuer: Mapped[str] = mapped_column(sa.String(16))  # "root" or "issuing"
    role: Mapped[str] = mapped_column(sa.String(16))
    subject_dn: Mapped[str] = mapped_column(sa.Text)
    subject_name: Mapped[str] = mapped_column(sa.String(200))
    subject_kind: Mapped[str] = mapped_column(sa.String(16))  # PERSON, ORG or PLATFORM
    subject_id: Mapped[str | None] = mapped_column(sa.String(64), nullable=True)
    not_before: Mapped[dt.datetime] = mapped_column(sa.DateTime(timezone=True))
    not_after: Mapped[dt.datetime] = mapped_column(sa.DateTime(timezone=True))
    status: Mapped[str] = mapped_column(sa.String(16))
    revoked_at: Mapped[dt.datetime | None] = mapped_column(sa.DateTime(timezone=True), nullable=True)
    revocation_reason: Mapped[str | None] = mapped_column(sa.String(32), nullable=True)
    revocation_note: Mapped[str | None] = mapped_column(sa.Text, nullable=True)
    cert_der: Mapped[bytes] = mapped_column(sa.LargeBinary)
    issued_at: Mapped[dt.datetime] = mapped_column(sa.DateTime(timezone=True))

    __table_args__ = (
        sa.Index("ix_certificates_issuer_status", "issuer", "status"),
        sa.Index("ix_certificates_subject", "subject_id", "issued_at"),
        sa.Index("ix_certificates_issued", "issued_at", "serial"),
        sa.Index("ix_certificates_name", "subject_name", "issued_at"),
    )


class SealRow(SigningBase):
    """A seal image of a subject. The owner's identifier is kept only as a keyed hash."""

    __tablename__ = "seals"

    seal_id: Mapped[str] = mapped_column(sa.String(40), primary_key=True)
    owner_hash: Mapped[str] = mapped_column(sa.String(64))
    id_type: Mapped[str] = mapped_column(sa.String(32))
    subject_id: Mapped[str | None] = mapped_column(sa.String(64), nullable=True)
    name: Mapped[str] = mapped_column(sa.String(100))
    style: Mapped[str] = mapped_column(sa.String(24))
    source: Mapped[str] = mapped_column(sa.String(16))
    image_ref: Mapped[str] = mapped_column(sa.String(80))
    width: Mapped[int] = mapped_column(sa.Integer)
    height: Mapped[int] = mapped_column(sa.Integer)
    created_by_app: Mapped[str] = mapped_column(sa.String(40))
    is_default: Mapped[bool] = mapped_column(sa.Boolean)
    created_at: Mapped[dt.datetime] = mapped_column(sa.DateTime(timezone=True))

    __table_args__ = (
        sa.Index("ix_seals_owner", "owner_hash", "created_at", "seal_id"),
        # At most one default seal per owner, even when two requests race to make the first.
        sa.Index("ux_seals_default", "owner_hash", unique=True,
                 postgresql_where=sa.text("is_default"), sqlite_where=sa.text("is_default")),
    )


class EvidenceRow(SigningBase):
    """What a signature or a checkbox agreement rests on, kept as evidence."""

    __tablename__ = "evidence"

    evidence_id: Mapped[str] = mapped_column(sa.String(40), primary_key=True)
    kind: Mapped[str] = mapped_column(sa.String(16))  # SIGNATURE or AGREEMENT
    contract_id: Mapped[str] = mapped_column(sa.String(64))
    signer_id: Mapped[str] = mapped_column(sa.String(64))
    intent_token_id: Mapped[str | None] = mapped_column(sa.String(64), nullable=True)
    field_name: Mapped[str] = mapped_column(sa.String(128))
    certificate_serial: Mapped[str] = mapped_column(sa.String(40))
    document_sha256: Mapped[str] = mapped_column(sa.String(64))
    signed_sha256: Mapped[str] = mapped_column(sa.String(64))
    record_json: Mapped[str] = mapped_column(sa.Text)
    record_sha256: Mapped[str] = mapped_column(sa.String(64))
    created_at: Mapped[dt.datetime] = mapped_column(sa.DateTime(timezone=True))

    __table_args__ = (
        # An intent token signs each document it covers once; a repeated request gets the first result.
        sa.UniqueConstraint("intent_token_id", "contract_id", "document_sha256", name="uq_evidence_intent_document"),
        sa.Index("ix_evidence_contract", "contract_id", "created_at"),
    )


class PreparationRow(SigningBase):
    """A client-side signing waiting for the signer's signature value (see client_signing)."""

    __tablename__ = "preparations"

    preparation_id: Mapped[str] = mapped_column(sa.String(40), primary_key=True)
    app_id: Mapped[str] = mapped_column(sa.String(64))
    contract_id: Mapped[str] = mapped_column(sa.String(64))
    signer_id: Mapped[str] = mapped_column(sa.String(64))
    intent_token_id: Mapped[str] = mapped_column(sa.String(64))
    document_sha256: Mapped[str] = mapped_column(sa.String(64))
    field_name: Mapped[str] = mapped_column(sa.String(128))
    certificate_serial: Mapped[str] = mapped_column(sa.String(64))
    certificate_chain: Mapped[str] = mapped_column(sa.Text)  # PEM, signer's certificate first
    prepared_pdf: Mapped[bytes] = mapped_column(sa.LargeBinary)  # emptied once completed
    document_digest: Mapped[bytes] = mapped_column(sa.LargeBinary)
    region_start: Mapped[int] = mapped_column(sa.BigInteger)
    region_end: Mapped[int] = mapped_column(sa.BigInteger)
    signed_attrs: Mapped[bytes] = mapped_column(sa.LargeBinary)
    signing_time: Mapped[dt.datetime] = mapped_column(sa.DateTime(timezone=True))
    details_json: Mapped[str] = mapped_column(sa.Text)
    state: Mapped[str] = mapped_column(sa.String(16))  # PREPARED or COMPLETED
    created_at: Mapped[dt.datetime] = mapped_column(sa.DateTime(timezone=True))
    expires_at: Mapped[dt.datetime] = mapped_column(sa.DateTime(timezone=True))
    completed_at: Mapped[dt.datetime | None] = mapped_column(sa.DateTime(timezone=True), nullable=True)
    signed_sha256: Mapped[str | None] = mapped_column(sa.String(64), nullable=True)

    __table_args__ = (sa.Index("ix_preparations_expires", "expires_at"),)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def _utc(value: dt.datetime | None) -> dt.datetime | None:
    # SQLite gives back naive datetimes; everything here is UTC.
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=dt.timezone.utc)


# ------------------------------------------------------------------ paging


def encode_page_token(created: dt.datetime, key: str) -> str:
    raw = json.dumps([_utc(created).isoformat(), key]).encode()  # type: ignore[union-attr]
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_page_token(token: str) -> tuple[dt.datetime, str]:
    try:
        created, key = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
        return dt.datetime.fromisoformat(created), str(key)
    except (ValueError, TypeError, binascii.Error):
        raise invalid("pageToken", "is not a token this service returned") from None


def page_size(requested: int) -> int:
    if requested < 0:
        raise invalid("pageSize", "must not be negative")
    return min(requested or DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE)


# ------------------------------------------------------------ certificates


def _subject_kind(role: CertRole, cert: x509.Certificate) -> str:
    if role is not CertRole.SIGNER:
        return "PLATFORM"
    return "ORG" if cert.subject.get_attributes_for_oid(NameOID.ORGANIZATION_IDENTIFIER) else "PERSON"


def _common_name(cert: x509.Certificate) -> str:
    names = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    return str(names[0].value)[:200] if names else ""


def _record(row: CertificateRow) -> IssuedCertificate:
    return IssuedCertificate(
        serial=int(row.serial, 16), issuer=row.issuer, role=CertRole(row.role), subject=row.subject_dn,
        not_before=_utc(row.not_before), not_after=_utc(row.not_after),  # type: ignore[arg-type]
        cert_der=row.cert_der, status=CertStatus(row.status), revoked_at=_utc(row.revoked_at),
        revocation_reason=row.revocation_reason, subject_id=row.subject_id,
    )


@dataclass(frozen=True)
class CertificateEntry:
    """A registry record with what listing adds: the subject's kind and name, the note."""

    record: IssuedCertificate
    subject_kind: str
    subject_name: str
    revocation_note: str | None
    issued_at: dt.datetime


class SqlCertificateRegistry:
    """``pki.CertificateRegistry`` over the service's database."""

    def __init__(self, sessions: sessionmaker):
        self._sessions = sessions

    def add(self, record: IssuedCertificate) -> None:
        cert = x509.load_der_x509_certificate(record.cert_der)
        row = CertificateRow(
            serial=format(record.serial, "x"), issuer=record.issuer, role=record.role.value,
            subject_dn=record.subject, subject_name=_common_name(cert),
            subject_kind=_subject_kind(record.role, cert), subject_id=record.subject_id,
            not_before=record.not_before, not_after=record.not_after, status=record.status.value,
            revoked_at=record.revoked_at, revocation_reason=record.revocation_reason,
            cert_der=record.cert_der, issued_at=_now(),
        )
        try:
            with self._sessions.begin() as session:
                session.add(row)
        except IntegrityError:
            # Recorded already (a replica re-registering a platform certificate): same bytes, same record.
            if self.get(record.serial) is None:
                raise

    def get(self, serial: int) -> IssuedCertificate | None:
        with self._sessions() as session:
            row = session.get(CertificateRow, format(serial, "x"))
            return _record(row) if row is not None else None

    def revoke(self, serial: int, when: dt.datetime, reason: str) -> IssuedCertificate:
        key = format(serial, "x")
        with self._sessions.begin() as session:
            # Conditional: the first revocation's time and reason stand.
            session.execute(
                sa.update(CertificateRow)
                .where(CertificateRow.serial == key, CertificateRow.status == CertStatus.GOOD.value)
                .values(status=CertStatus.REVOKED.value, revoked_at=when, revocation_reason=reason)
            )
            row = session.get(CertificateRow, key)
            if row is None:
                raise NotFound(f"certificate {key} was not issued here")
            return _record(row)

    def revoked(self, issuer: str) -> list[IssuedCertificate]:
        with self._sessions() as session:
            rows = session.scalars(sa.select(CertificateRow).where(
                CertificateRow.issuer == issuer, CertificateRow.status == CertStatus.REVOKED.value))
            return [_record(row) for row in rows]

    def note(self, serial: int, text: str) -> None:
        """Keep the free-text explanation of a revocation (the CRL carries only the reason code)."""
        with self._sessions.begin() as session:
            session.execute(sa.update(CertificateRow).where(CertificateRow.serial == format(serial, "x"))
                            .values(revocation_note=text[:2000]))

    def entry(self, serial: int) -> CertificateEntry:
        with self._sessions() as session:
            row = session.get(CertificateRow, format(serial, "x"))
            if row is None:
                raise NotFound(f"certificate {serial:x} was not issued here")
            return _entry(row)

    def list(self, *, subject_id: str | None, include_inactive: bool, size: int,
             token: str | None, subject_name: str | None = None) -> tuple[list[CertificateEntry], str | None]:
        query = sa.select(CertificateRow)
        if subject_id:
            query = query.where(CertificateRow.subject_id == subject_id)
        if subject_name:
            query = query.where(CertificateRow.subject_name == subject_name[:200])
        if not include_inactive:
            query = query.where(CertificateRow.status == CertStatus.GOOD.value, CertificateRow.not_after > _now())
        if token:
            issued, serial = decode_page_token(token)
            query = query.where(sa.or_(
                CertificateRow.issued_at < issued,
                sa.and_(CertificateRow.issued_at == issued, CertificateRow.serial < serial)))
        query = query.order_by(CertificateRow.issued_at.desc(), CertificateRow.serial.desc()).limit(size + 1)
        with self._sessions() as session:
            rows = list(session.scalars(query))
        more = len(rows) > size
        rows = rows[:size]
        next_token = encode_page_token(rows[-1].issued_at, rows[-1].serial) if more else None
        return [_entry(row) for row in rows], next_token


def _entry(row: CertificateRow) -> CertificateEntry:
    return CertificateEntry(_record(row), row.subject_kind, row.subject_name, row.revocation_note,
                            _utc(row.issued_at))  # type: ignore[arg-type]


# ------------------------------------------------------------------ seals


@dataclass(frozen=True)
class StoredSeal:
    seal_id: str
    owner_hash: str
    id_type: str
    subject_id: str | None
    name: str
    style: str
    source: str
    image_ref: str
    width: int
    height: int
    created_by_app: str
    is_default: bool
    created_at: dt.datetime


def _seal(row: SealRow) -> StoredSeal:
    return StoredSeal(
        seal_id=row.seal_id, owner_hash=row.owner_hash, id_type=row.id_type, subject_id=row.subject_id,
        name=row.name, style=row.style, source=row.source, image_ref=row.image_ref, width=row.width,
        height=row.height, created_by_app=row.created_by_app, is_default=row.is_default,
        created_at=_utc(row.created_at),  # type: ignore[arg-type]
    )


class SealStore:
    def __init__(self, sessions: sessionmaker):
        self._sessions = sessions

    def add(self, seal: StoredSeal) -> StoredSeal:
        """Store ``seal``; it becomes the owner's default when the owner has none yet."""
        with self._sessions() as session:
            has_default = session.scalar(sa.select(sa.func.count()).select_from(SealRow).where(
                SealRow.owner_hash == seal.owner_hash, SealRow.is_default.is_(True))) > 0
        for is_default in ((False,) if has_default else (True, False)):
            row = SealRow(**{**asdict(seal), "is_default": is_default})
            try:
                with self._sessions.begin() as session:
                    session.add(row)
                return _seal(row)
            except IntegrityError:
                if not is_default:
                    raise
                # Another first seal of this owner won the default: store this one as a plain seal.
        raise AssertionError("unreachable")

    def get(self, seal_id: str) -> StoredSeal | None:
        with self._sessions() as session:
            row = session.get(SealRow, seal_id)
            return _seal(row) if row is not None else None

    def default(self, owner_hash: str) -> StoredSeal | None:
        with self._sessions() as session:
            row = session.scalar(sa.select(SealRow).where(
                SealRow.owner_hash == owner_hash, SealRow.is_default.is_(True)))
            return _seal(row) if row is not None else None

    def first(self, owner_hash: str, created_by_app: str, style: str | None = None) -> StoredSeal | None:
        """The owner's oldest seal made by ``created_by_app`` ("" = the platform), of ``style`` if given."""
        query = sa.select(SealRow).where(SealRow.owner_hash == owner_hash, SealRow.created_by_app == created_by_app)
        if style is not None:
            query = query.where(SealRow.style == style)
        with self._sessions() as session:
            row = session.scalar(query.order_by(SealRow.created_at, SealRow.seal_id).limit(1))
            return _seal(row) if row is not None else None

    def list(self, owner_hash: str, *, size: int, token: str | None,
             apps: Sequence[str] | None = None) -> tuple[list[StoredSeal], str | None]:
        """The owner's seals, newest first; only those made by ``apps`` when given."""
        query = sa.select(SealRow).where(SealRow.owner_hash == owner_hash)
        if apps is not None:
            query = query.where(SealRow.created_by_app.in_(list(apps)))
        if token:
            created, seal_id = decode_page_token(token)
            query = query.where(sa.or_(
                SealRow.created_at < created, sa.and_(SealRow.created_at == created, SealRow.seal_id < seal_id)))
        query = query.order_by(SealRow.created_at.desc(), SealRow.seal_id.desc()).limit(size + 1)
        with self._sessions() as session:
            rows = list(session.scalars(query))
        more = len(rows) > size
        rows = rows[:size]
        next_token = encode_page_token(rows[-1].created_at, rows[-1].seal_id) if more else None
        return [_seal(row) for row in rows], next_token


# ---------------------------------------------------------------- evidence


@dataclass(frozen=True)
class EvidenceRecord:
    evidence_id: str
    kind: str
    contract_id: str
    signer_id: str
    intent_token_id: str | None
    field_name: str
    certificate_serial: str
    document_sha256: str
    signed_sha256: str
    record_json: str
    record_sha256: str
    created_at: dt.datetime


class EvidenceStore:
    def __init__(self, sessions: sessionmaker):
        self._sessions = sessions

    def add(self, record: EvidenceRecord) -> bool:
        """Store ``record``; False when the intent token already signed this document."""
        try:
            with self._sessions.begin() as session:
                session.add(EvidenceRow(**asdict(record)))
        except IntegrityError:
            if record.intent_token_id is None or self.find(
                    record.intent_token_id, record.contract_id, record.document_sha256) is None:
                raise
            return False
        return True

    def find(self, intent_token_id: str, contract_id: str, document_sha256: str) -> EvidenceRecord | None:
        with self._sessions() as session:
            row = session.scalar(sa.select(EvidenceRow).where(
                EvidenceRow.intent_token_id == intent_token_id, EvidenceRow.contract_id == contract_id,
                EvidenceRow.document_sha256 == document_sha256))
            return _evidence(row) if row is not None else None

    def for_contract(self, contract_id: str) -> Sequence[EvidenceRecord]:
        with self._sessions() as session:
            rows = session.scalars(sa.select(EvidenceRow).where(EvidenceRow.contract_id == contract_id)
                                   .order_by(EvidenceRow.created_at))
            return [_evidence(row) for row in rows]


def _evidence(row: EvidenceRow) -> EvidenceRecord:
    record = EvidenceRecord(**{c.name: getattr(row, c.name) for c in EvidenceRow.__table__.columns})
    return replace(record, created_at=_utc(record.created_at))


# ------------------------------------------------------------ preparations


PREPARED = "PREPARED"
COMPLETED = "COMPLETED"


@dataclass(frozen=True)
class PreparationRecord:
    preparation_id: str
    app_id: str
    contract_id: str
    signer_id: str
    intent_token_id: str
    document_sha256: str
    field_name: str
    certificate_serial: str
    certificate_chain: str
    prepared_pdf: bytes
    document_digest: bytes
    region_start: int
    region_end: int
    signed_attrs: bytes
    signing_time: dt.datetime
    details_json: str
    state: str
    created_at: dt.datetime
    expires_at: dt.datetime
    completed_at: dt.datetime | None = None
    signed_sha256: str | None = None


class PreparationStore:
    def __init__(self, sessions: sessionmaker):
        self._sessions = sessions

    def add(self, record: PreparationRecord) -> None:
        with self._sessions.begin() as session:
            session.add(PreparationRow(**asdict(record)))

    def get(self, preparation_id: str) -> PreparationRecord | None:
        with self._sessions() as session:
            row = session.get(PreparationRow, preparation_id)
            if row is None:
                return None
            record = PreparationRecord(**{c.name: getattr(row, c.name) for c in PreparationRow.__table__.columns})
        return replace(record, signing_time=_utc(record.signing_time), created_at=_utc(record.created_at),
                       expires_at=_utc(record.expires_at), completed_at=_utc(record.completed_at))

    def complete(self, preparation_id: str, signed_sha256: str, when: dt.datetime) -> bool:
        """Mark a prepared (unexpired) signing completed; False when another request did first.
        The prepared document is dropped: only the signed one is kept."""
        with self._sessions.begin() as session:
            result = session.execute(
                sa.update(PreparationRow)
                .where(PreparationRow.preparation_id == preparation_id, PreparationRow.state == PREPARED,
                       PreparationRow.expires_at > when)
                .values(state=COMPLETED, completed_at=when, signed_sha256=signed_sha256, prepared_pdf=b"")
            )
            return result.rowcount == 1

    def purge(self, before: dt.datetime) -> int:
        """Delete preparations that expired before ``before`` (completed or not)."""
        with self._sessions.begin() as session:
            result = session.execute(sa.delete(PreparationRow).where(PreparationRow.expires_at < before))
            return result.rowcount
