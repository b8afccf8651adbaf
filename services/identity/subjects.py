"""Subjects: persons and organisations, known by identifiers in several id systems.

The same person known to two business lines by two ids (an ID card number and a user id)
is one subject: upsert by any of the given identifiers finds it, and adds the others.
Identifiers held by two different subjects are a conflict, never silently merged.

Identifier values are stored only as a keyed HMAC (for lookups) and as master-key
ciphertext (to give them back), so a database dump does not reveal ID numbers. Every
message that names an identifier masks it.

Rules that keep a subject trustworthy:
* ``ID_CARD`` belongs to persons and ``USCC`` to organisations; a subject has at most one
  of each (two ID numbers are two people).
* The name a real-name check confirmed cannot be changed by a plain upsert; only a new
  verification at the same or a higher level replaces it.
* Authorised agents of an organisation are existing PERSON subjects.
* An organisation's legal representative may be recorded with an ID number, kept only as
  the keyed HMAC its ID_CARD identifier has; it names the one person who is the legal
  representative (a name alone matches anyone of that name). A new legal representative
  (another name) forgets the old one's number.
"""
from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from core.errors import Aborted, FailedPrecondition, FieldViolation, InvalidArgument, NotFound, invalid
from core.masterkey import MasterKey
from services.identity.idnumbers import check_credit_code, check_id_number
from services.identity.masking import mask_id_number, mask_text
from services.identity.policy import SignerKind
from services.identity.realname import RealNameLevel, RealNameResult
from services.identity.store import SubjectAgentRow, SubjectIdRow, SubjectRow

ID_CARD = "ID_CARD"
USCC = "USCC"
# The identifier types that name exactly one kind of subject, at most once per subject.
_KIND_OF = {ID_CARD: SignerKind.PERSON, USCC: SignerKind.ORG}
_MAX_ID_CHARS = 128
_MAX_NAME_CHARS = 200
_ATTEMPTS = 3
_RETRYABLE_SQLSTATES = ("40001", "40P01")  # serialization failure, deadlock detected


def mask_identifier(id_type: str, value: str) -> str:
    """110101********4514 for national numbers; first and last two characters otherwise."""
    if id_type in _KIND_OF:
        return mask_id_number(value)
    if len(value) <= 4:
        return "*" * len(value)
    return value[:2] + "*" * (len(value) - 4) + value[-2:]


@dataclass(frozen=True)
class Identifier:
    id_type: str
    value: str = field(repr=False)

    @property
    def masked(self) -> str:
        return f"{self.id_type} {mask_identifier(self.id_type, self.value)}"


@dataclass(frozen=True)
class RealNameRecord:
    method: str
    level: RealNameLevel
    verified_at: datetime
    evidence_sha256: str
    reference: str | None = None


@dataclass(frozen=True)
class Subject:
    subject_id: str
    kind: SignerKind
    name: str
    identifiers: tuple[Identifier, ...]
    legal_representative: str
    real_name: RealNameRecord | None
    agent_ids: tuple[str, ...]
    created_at: datetime
    updated_at: datetime
    legal_representative_id_hash: str = field(default="", repr=False)

    @property
    def legal_representative_id_set(self) -> bool:
        return bool(self.legal_representative_id_hash)

    @property
    def level(self) -> RealNameLevel:
        return self.real_name.level if self.real_name else RealNameLevel.NONE

    def identifier(self, id_type: str) -> str | None:
        return next((i.value for i in self.identifiers if i.id_type == id_type), None)


@dataclass(frozen=True)
class Upserted:
    subject: Subject
    created: bool


@dataclass(frozen=True)
class Recorded:
    """What became of a verification result: accepted for the subject, or why not."""

    subject_id: str
    accepted: bool
    reason: str = ""


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _utc(moment: datetime | None) -> datetime | None:
    # SQLite hands back naive datetimes; everything stored is UTC.
    return moment if moment is None or moment.tzinfo else moment.replace(tzinfo=timezone.utc)


class Subjects:
    def __init__(self, sessions: sessionmaker, master_key: MasterKey, lookup_key: bytes, id_types: Sequence[str]):
        if len(lookup_key) < 32:
            raise ValueError("the subject lookup key must be at least 32 bytes")
        self._sessions = sessions
        self._master = master_key
        self._lookup_key = lookup_key
        self.id_types = tuple(id_types)

    # -- identifiers ------------------------------------------------------------------

    def identifier(self, id_type: str, value: str, field_path: str = "subject") -> Identifier:
        """Check and normalise one identifier; errors name ``field_path`` and mask the value."""
        id_type = id_type.strip()
        if id_type not in self.id_types:
            raise invalid(f"{field_path}.idType", f"unknown identifier type {id_type[:40]!r}; known: {', '.join(self.id_types)}")
        value = value.strip()
        if not value or len(value) > _MAX_ID_CHARS:
            raise invalid(f"{field_path}.id", f"must be 1 to {_MAX_ID_CHARS} characters")
        if id_type == ID_CARD:
            check = check_id_number(value)
            if not check.valid:
                raise invalid(f"{field_path}.id", f"{mask_identifier(id_type, check.number)} is not a valid resident "
                                                   f"ID number: {mask_text('; '.join(check.reasons))}")
            value = check.number
        elif id_type == USCC:
            code = check_credit_code(value)
            if not code.valid:
                raise invalid(f"{field_path}.id", f"{mask_identifier(id_type, code.code)} is not a valid unified social "
                                                   f"credit code: {'; '.join(code.reasons)}")
            value = code.code
        return Identifier(id_type, value)

    def _hash(self, identifier: Identifier) -> str:
        message = f"subject-id\0{identifier.id_type}\0{identifier.value}".encode()
        return hmac.new(self._lookup_key, message, hashlib.sha256).hexdigest()

    def _context(self, id_type: str, id_hash: str) -> bytes:
        # Binds a ciphertext to its row: swapping values between rows fails to decrypt.
        return f"subject-id:{id_type}:{id_hash}".encode()

    def _find(self, session: Session, identifier: Identifier) -> SubjectIdRow | None:
        return session.get(SubjectIdRow, (identifier.id_type, self._hash(identifier)))

    # -- reads ------------------------------------------------------------------------

    def get(self, subject_id: str) -> Subject:
        with self._sessions() as session:
            row = session.get(SubjectRow, subject_id)
            if row is None:
                raise NotFound(f"subject {subject_id[:60]} not found")
            return self._subject(session, row)

    def resolve(self, identifier: Identifier) -> Subject:
        with self._sessions() as session:
            found = self._find(session, identifier)
            if found is None:
                raise NotFound(f"no subject is known by {identifier.masked}")
            return self._subject(session, session.get(SubjectRow, found.subject_id))

    def _subject(self, session: Session, row: SubjectRow) -> Subject:
        id_rows = session.scalars(
            sa.select(SubjectIdRow).where(SubjectIdRow.subject_id == row.subject_id).order_by(SubjectIdRow.created_at)
        ).all()
        identifiers = tuple(
            Identifier(r.id_type, self._master.decrypt(r.id_ciphertext, self._context(r.id_type, r.id_hash)).decode())
            for r in id_rows
        )
        agents = session.scalars(
            sa.select(SubjectAgentRow.agent_subject_id)
            .where(SubjectAgentRow.org_subject_id == row.subject_id)
            .order_by(SubjectAgentRow.created_at, SubjectAgentRow.agent_subject_id)
        ).all()
        real_name = None
        if row.realname_level:
            real_name = RealNameRecord(
                row.realname_method or "",
                RealNameLevel[row.realname_level],
                _utc(row.realname_at),
                row.realname_evidence_sha256 or "",
                row.realname_reference,
            )
        return Subject(
            subject_id=row.subject_id,
            kind=SignerKind(row.kind),
            name=row.name,
            identifiers=identifiers,
            legal_representative=row.legal_representative,
            real_name=real_name,
            agent_ids=tuple(agents),
            created_at=_utc(row.created_at),
            updated_at=_utc(row.updated_at),
            legal_representative_id_hash=row.legal_representative_id_hash or "",
        )

    def is_legal_representative(self, org: Subject, person: Identifier) -> bool:
        """Whether ``person`` is the ID number recorded for ``org``'s legal representative."""
        return (person.id_type == ID_CARD and org.legal_representative_id_set
                and hmac.compare_digest(self._hash(person), org.legal_representative_id_hash))

    # -- writes -----------------------------------------------------------------------

    def upsert(
        self,
        kind: SignerKind,
        name: str,
        identifiers: Sequence[Identifier],
        legal_representative: str = "",
        agents: Sequence[Identifier] = (),
        legal_representative_id: Identifier | None = None,
    ) -> Upserted:
        """Create the subject, or update the one holding any of ``identifiers``; for an
        organisation, ``legal_representative_id`` is its legal representative's ID_CARD."""
        name, legal_representative = name.strip(), legal_representative.strip()
        self._check_upsert(kind, name, identifiers, legal_representative, agents, legal_representative_id)
        return self._retrying(lambda session: self._upsert_in(session, kind, name, identifiers, legal_representative,
                                                              agents, legal_representative_id))

    def record_verification(
        self, kind: SignerKind, name: str, identifier: Identifier, result: RealNameResult, legal_representative: str = ""
    ) -> Recorded:
        """Record the subject a verification was about, and the result when it is at least as
        strong as the one on record (a weaker check never overwrites a stronger one)."""
        name, legal_representative = name.strip(), legal_representative.strip()

        def record(session: Session) -> Recorded:
            found = self._find(session, identifier)
            row = self._locked(session, found.subject_id) if found else None
            if row is None:
                row = self._new_subject(session, kind, name, legal_representative)
                self._add_identifier(session, row.subject_id, identifier)
            elif result.verified and result.level.value < self._level(row).value and (
                name != row.name or (legal_representative and legal_representative != row.legal_representative)
            ):
                return Recorded(
                    row.subject_id,
                    False,
                    f"the name differs from the one verified for {identifier.masked} at level {row.realname_level}",
                )
            if result.verified and result.level.value >= self._level(row).value:
                row.name = name
                if kind is SignerKind.ORG:
                    if legal_representative != row.legal_representative:
                        row.legal_representative_id_hash = None  # the number was the former representative's
                    row.legal_representative = legal_representative
                row.realname_method = result.method
                row.realname_level = result.level.name
                row.realname_at = result.verified_at
                row.realname_evidence_sha256 = result.evidence_sha256
                row.realname_reference = result.provider_reference
                row.updated_at = _now()
            return Recorded(row.subject_id, result.verified)

        return self._retrying(record)

    def _retrying(self, work):
        # Two first-time upserts of one identifier race on its primary key; the loser
        # starts over and finds the winner's subject.
        for _ in range(_ATTEMPTS):
            try:
                with self._sessions.begin() as session:
                    return work(session)
            except IntegrityError:
                continue
            except OperationalError as exc:
                if getattr(exc.orig, "sqlstate", None) not in _RETRYABLE_SQLSTATES:
                    raise
        raise Aborted("the subject was changed concurrently; retry")

    @staticmethod
    def _level(row: SubjectRow) -> RealNameLevel:
        return RealNameLevel[row.realname_level] if row.realname_level else RealNameLevel.NONE

    def _check_upsert(
        self, kind: SignerKind, name: str, identifiers: Sequence[Identifier], legal_representative: str,
        agents: Sequence[Identifier], legal_representative_id: Identifier | None = None,
    ) -> None:
        violations: list[FieldViolation] = []
        if not identifiers:
            violations.append(FieldViolation("identifiers", "at least one identifier is required"))
        if len(name) > _MAX_NAME_CHARS or len(legal_representative) > _MAX_NAME_CHARS:
            violations.append(FieldViolation("name", f"names are at most {_MAX_NAME_CHARS} characters"))
        for i, ident in enumerate(identifiers):
            expected = _KIND_OF.get(ident.id_type)
            if expected is not None and expected is not kind:
                violations.append(FieldViolation(f"identifiers[{i}].idType", f"{ident.id_type} identifies a {expected}, not a {kind}"))
        for id_type in _KIND_OF:
            if len({i.value for i in identifiers if i.id_type == id_type}) > 1:
                violations.append(FieldViolation("identifiers", f"a subject has only one {id_type}"))
        if kind is SignerKind.PERSON and (legal_representative or agents or legal_representative_id):
            violations.append(FieldViolation("legalRepresentative", "only organisations have a legal representative or agents"))
        if legal_representative_id is not None and legal_representative_id.id_type != ID_CARD:
            violations.append(FieldViolation("legalRepresentativeIdNumber", "must be a resident ID number"))
        if violations:
            raise InvalidArgument("; ".join(f"{v.field}: {v.description}" for v in violations), violations)

    def _upsert_in(
        self, session: Session, kind: SignerKind, name: str, identifiers: Sequence[Identifier],
        legal_representative: str, agents: Sequence[Identifier], legal_representative_id: Identifier | None = None,
    ) -> Upserted:
        # One order for every writer: concurrent upserts then wait on each other's
        # identifiers instead of deadlocking on them.
        unique = sorted(dict.fromkeys(identifiers), key=lambda i: (i.id_type, self._hash(i)))
        found = {ident: self._find(session, ident) for ident in unique}
        owners: dict[str, list[Identifier]] = {}
        for ident, id_row in found.items():
            if id_row is not None:
                owners.setdefault(id_row.subject_id, []).append(ident)
        if len(owners) > 1:
            held = "; ".join(f"{', '.join(i.masked for i in idents)} → {owner}" for owner, idents in owners.items())
            raise FailedPrecondition(f"the identifiers belong to different subjects ({held}); they cannot be one subject")
        created = not owners
        if created:
            if not name:
                raise invalid("name", "a new subject needs a name")
            row = self._new_subject(session, kind, name, legal_representative)
        else:
            row = self._locked(session, next(iter(owners)))
            self._update(row, kind, name, legal_representative)
        held = {
            (id_type, id_hash)
            for id_type, id_hash in session.execute(
                sa.select(SubjectIdRow.id_type, SubjectIdRow.id_hash).where(SubjectIdRow.subject_id == row.subject_id)
            )
        }
        for ident, id_row in found.items():
            key = (ident.id_type, self._hash(ident))
            # Looked up one statement at a time, an identifier a concurrent upsert just gave
            # this subject can read as missing above; it is here now.
            if id_row is not None or key in held:
                continue
            if ident.id_type in _KIND_OF and any(t == ident.id_type for t, _ in held):
                raise FailedPrecondition(f"subject {row.subject_id} already has another {ident.id_type}; not adding {ident.masked}")
            self._add_identifier(session, row.subject_id, ident)
            held.add(key)
        for i, agent in enumerate(agents):
            self._add_agent(session, row.subject_id, agent, f"authorizedAgents[{i}]")
        if legal_representative_id is not None:
            self._set_representative_id(session, row, legal_representative_id)
        session.flush()
        return Upserted(self._subject(session, row), created)

    def _update(self, row: SubjectRow, kind: SignerKind, name: str, legal_representative: str) -> None:
        if row.kind != kind.value:
            raise FailedPrecondition(f"subject {row.subject_id} is a {row.kind}, not a {kind}")
        verified = self._level(row) is not RealNameLevel.NONE
        if verified and name and name != row.name:
            raise FailedPrecondition(
                f"the name differs from the real name verified for subject {row.subject_id}; verify again to change it"
            )
        if verified and legal_representative and legal_representative != row.legal_representative:
            raise FailedPrecondition(
                f"the legal representative differs from the one verified for subject {row.subject_id}; verify again to change it"
            )
        if name:
            row.name = name
        if legal_representative and legal_representative != row.legal_representative:
            row.legal_representative = legal_representative
            row.legal_representative_id_hash = None  # the number was the former representative's
        row.updated_at = _now()

    def _set_representative_id(self, session: Session, org: SubjectRow, identifier: Identifier) -> None:
        if not org.legal_representative:
            raise invalid("legalRepresentative", "is needed with legalRepresentativeIdNumber: whose ID number it is")
        found = self._find(session, identifier)
        person = session.get(SubjectRow, found.subject_id) if found else None
        if person is not None and (person.kind != SignerKind.PERSON.value or person.name != org.legal_representative):
            raise FailedPrecondition(
                f"legalRepresentativeIdNumber: {identifier.masked} is known as another subject than "
                f"{org.legal_representative}; check the legal representative's name and ID number"
            )
        org.legal_representative_id_hash = self._hash(identifier)

    def _add_agent(self, session: Session, org_subject_id: str, agent: Identifier, field_path: str) -> None:
        found = self._find(session, agent)
        if found is None:
            raise FailedPrecondition(f"{field_path}: no subject is known by {agent.masked}; record the person first")
        person = session.get(SubjectRow, found.subject_id)
        if person.kind != SignerKind.PERSON.value:
            raise FailedPrecondition(f"{field_path}: subject {person.subject_id} is not a person")
        if session.get(SubjectAgentRow, (org_subject_id, person.subject_id)) is None:
            session.add(SubjectAgentRow(org_subject_id=org_subject_id, agent_subject_id=person.subject_id, created_at=_now()))

    def _locked(self, session: Session, subject_id: str) -> SubjectRow:
        return session.execute(
            sa.select(SubjectRow).where(SubjectRow.subject_id == subject_id).with_for_update()
        ).scalar_one()

    def _new_subject(self, session: Session, kind: SignerKind, name: str, legal_representative: str) -> SubjectRow:
        now = _now()
        row = SubjectRow(
            subject_id="sub_" + secrets.token_hex(10),
            kind=kind.value,
            name=name,
            legal_representative=legal_representative if kind is SignerKind.ORG else "",
            created_at=now,
            updated_at=now,
        )
        session.add(row)
        session.flush()
        return row

    def _add_identifier(self, session: Session, subject_id: str, identifier: Identifier) -> None:
        id_hash = self._hash(identifier)
        session.add(
            SubjectIdRow(
                id_type=identifier.id_type,
                id_hash=id_hash,
                subject_id=subject_id,
                id_ciphertext=self._master.encrypt(identifier.value.encode(), self._context(identifier.id_type, id_hash)),
                created_at=_now(),
            )
        )
        session.flush()
