"""Creating a contract: pin the approved template, check the request and the fill data,
render the documents, record the signers' subjects, store it all in one transaction.

Everything wrong with a request is reported at once (one INVALID_ARGUMENT with a field
violation each): request fields, signers against the template's roles, fill-data values
of the wrong type, subjects identity refuses, and the fields the strict render finds
missing. ``bizNo`` makes creation idempotent per business line: a known one returns the
existing contract, and two concurrent creates meet at the unique constraint, where the
loser returns the winner's contract.
"""
from __future__ import annotations

import io
import json
import logging
import re
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import sessionmaker

from core.blobs import BlobStore
from core.errors import DomainError, FieldViolation, InvalidArgument
from services.contract import audit, records
from services.contract.filegen_client import Filegen, Pdf
from services.contract.fill_data import check_values
from services.contract.identity_client import Identity
from services.contract.model import (
    Actor,
    Contract,
    ContractStatus,
    DocumentKind,
    Placement,
    SignerKind,
    SignerStatus,
    SignMode,
    SubjectRef,
)
from services.contract.peer_errors import violations_of
from services.contract.store import ContractRow, DocumentRow, GroupRow, RevisionRow, SignerRow
from services.contract.template_client import ApprovedTemplate, Templates
from services.contract.times import utcnow

log = logging.getLogger(__name__)

MAX_SIGNERS = 20
MAX_EXTRA_DOCUMENTS = 10
MAX_EXTRA_BYTES = 20 * 1024 * 1024
_GROUP_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}")
_BIZ_NO = re.compile(r"[\x21-\x7e]{1,128}")  # printable ASCII, no spaces
_MOBILE = re.compile(r"\+?[0-9][0-9 -]{5,19}")
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")


@dataclass(frozen=True)
class SignerInput:
    role: str
    kind: str  # PERSON, ORG, or "" when not given
    name: str
    subject: SubjectRef
    mobile: str = ""
    email: str = ""
    sign_mode: str = "E_SIGN"  # or AGREEMENT
    order: int = 0


@dataclass(frozen=True)
class ExtraInput:
    name: str
    file_name: str = ""
    data: bytes = field(default=b"", repr=False)
    template_id: str = ""
    fill_data: dict[str, Any] | None = None  # None: the contract's data


@dataclass(frozen=True)
class CreateInput:
    template_id: str
    title: str
    signers: tuple[SignerInput, ...]
    data: dict[str, Any] = field(default_factory=dict)
    biz_no: str = ""
    expire_at: datetime | None = None
    group_id: str = ""
    extras: tuple[ExtraInput, ...] = ()
    amount: str = ""


@dataclass
class _Draft:
    """A document on its way in: where it comes from, then its stored PDF."""

    name: str
    kind: DocumentKind
    field: str  # request field it came from, for error messages
    template: ApprovedTemplate | None = None
    data: dict[str, Any] | None = None
    data_field: str = "data"
    file_name: str = ""
    file: bytes = b""
    pages: int = 0  # of an uploaded PDF, read while checking it
    pdf: Pdf | None = None


def _new_id(prefix: str) -> str:
    return f"{prefix}_{secrets.token_hex(10)}"


def pdf_pages(data: bytes, field: str) -> int:
    """Pages of an uploaded PDF, read the way the signing service will read it."""
    from pyhanko.pdf_utils.reader import PdfFileReader

    if not data.startswith(b"%PDF-"):
        raise InvalidArgument(f"{field}: is not a PDF", [FieldViolation(field, "is not a PDF")])
    try:
        reader = PdfFileReader(io.BytesIO(data), strict=False)
        if reader.encrypted:
            raise InvalidArgument(f"{field}: is encrypted", [FieldViolation(field, "is an encrypted PDF; upload it without a password")])
        return int(reader.root["/Pages"]["/Count"])
    except InvalidArgument:
        raise
    except Exception:  # noqa: BLE001 - any parser failure means the same to the caller
        raise InvalidArgument(f"{field}: is not a readable PDF", [FieldViolation(field, "is not a readable PDF")]) from None


def _check_request(request: CreateInput, now: datetime) -> list[FieldViolation]:
    bad: list[FieldViolation] = []

    def need(ok: bool, path: str, description: str) -> None:
        if not ok:
            bad.append(FieldViolation(path, description))

    need(bool(request.template_id.strip()), "templateId", "is required")
    need(bool(request.title.strip()), "title", "is required")
    need(len(request.title) <= 200, "title", "must be at most 200 characters")
    need(not request.biz_no or bool(_BIZ_NO.fullmatch(request.biz_no)), "bizNo", "must be 1-128 printable ASCII characters without spaces")
    need(not request.group_id or bool(_GROUP_ID.fullmatch(request.group_id)),
         "groupId", "must be 1-64 letters, digits, '_', '.', ':' or '-'")
    need(request.expire_at is None or request.expire_at > now, "expireTime", "must be in the future")
    if request.amount:
        try:
            amount = Decimal(request.amount)
            need(amount.is_finite() and amount >= 0, "amount", "must be a non-negative decimal number of yuan")
        except InvalidOperation:
            need(False, "amount", "must be a decimal number of yuan, e.g. 120000.00")
    need(bool(request.signers), "signers", "at least one signer is required")
    need(len(request.signers) <= MAX_SIGNERS, "signers", f"at most {MAX_SIGNERS} signers")
    roles = [s.role for s in request.signers]
    for index, signer in enumerate(request.signers):
        at = f"signers[{index}]"
        need(bool(signer.role.strip()), f"{at}.role", "is required")
        need(roles.count(signer.role) == 1 or not signer.role, f"{at}.role", f"role {signer.role!r} is taken by two signers")
        need(signer.kind in SignerKind.__members__, f"{at}.kind", "must be PERSON or ORG")
        need(bool(signer.name.strip()), f"{at}.name", "is required")
        need(len(signer.name) <= 200, f"{at}.name", "must be at most 200 characters")
        need(bool(signer.subject.id_type.strip()), f"{at}.subject.idType", "is required, e.g. ID_CARD or USCC")
        need(bool(signer.subject.id.strip()), f"{at}.subject.id", "is required")
        need(signer.sign_mode in SignMode.__members__, f"{at}.signMode", "must be E_SIGN or AGREEMENT")
        need(signer.order >= 0, f"{at}.order", "must not be negative")
        need(not signer.mobile or bool(_MOBILE.fullmatch(signer.mobile)), f"{at}.mobile", "is not a mobile number")
        need(not signer.email or bool(_EMAIL.fullmatch(signer.email)), f"{at}.email", "is not an e-mail address")
    need(len(request.extras) <= MAX_EXTRA_DOCUMENTS, "extraDocuments", f"at most {MAX_EXTRA_DOCUMENTS} extra documents")
    for index, extra in enumerate(request.extras):
        at = f"extraDocuments[{index}]"
        need(bool(extra.name.strip()), f"{at}.name", "is required")
        if extra.template_id:
            need(not extra.data and not extra.file_name, at, "give either templateId or fileName and data, not both")
            continue
        suffix = extra.file_name.lower().rsplit(".", 1)[-1] if "." in extra.file_name else ""
        need(suffix in ("pdf", "docx"), f"{at}.fileName", "must end in .pdf or .docx")
        need(bool(extra.data), f"{at}.data", "is required (or give templateId)")
        need(len(extra.data) <= MAX_EXTRA_BYTES, f"{at}.data", f"must be at most {MAX_EXTRA_BYTES // (1024 * 1024)} MiB")
    return bad


def _check_roles(template: ApprovedTemplate, signers: Sequence[SignerInput]) -> list[FieldViolation]:
    bad = []
    given = {s.role for s in signers}
    known = ", ".join(r.role for r in template.roles)
    for index, signer in enumerate(signers):
        role = template.role(signer.role)
        if role is None:
            if signer.role:
                bad.append(FieldViolation(f"signers[{index}].role", f"the template has no role {signer.role!r} (roles: {known})"))
        elif signer.kind and role.kind != signer.kind:
            bad.append(FieldViolation(f"signers[{index}].kind", f"role {signer.role} is signed by a {role.kind}"))
    for role in template.roles:
        if role.role not in given:
            bad.append(FieldViolation("signers", f"the template's role {role.role!r} ({role.kind}) has no signer"))
    return bad


class Creation:
    def __init__(
        self,
        sessions: sessionmaker,
        templates: Templates,
        filegen: Filegen,
        identity: Identity,
        blobs: BlobStore,
        *,
        clock: Callable[[], datetime] = utcnow,
    ):
        self._sessions = sessions
        self._templates = templates
        self._filegen = filegen
        self._identity = identity
        self._blobs = blobs
        self._clock = clock

    def create(self, app_id: str, request: CreateInput, actor: Actor) -> tuple[Contract, bool]:
        """The new contract and True, or the business line's existing one for ``bizNo`` and False."""
        now = self._clock()
        bad = _check_request(request, now)
        if request.biz_no:
            existing = self._existing(app_id, request.biz_no)
            if existing is not None:
                return existing, False
        if not request.template_id.strip():
            raise _all(bad)
        template = self._templates.resolve_approved(request.template_id)
        bad += _check_roles(template, request.signers)
        drafts = self._drafts(request, template, bad)
        subject_ids = self._subjects(request.signers, bad)
        self._render(drafts, store=not bad, bad=bad)
        if bad:
            raise _all(bad)
        self._store_files(drafts)
        try:
            contract_id = self._insert(app_id, request, template, drafts, subject_ids, actor, now)
        except IntegrityError:
            # A concurrent create with the same bizNo won the unique constraint.
            existing = self._existing(app_id, request.biz_no) if request.biz_no else None
            if existing is None:
                raise
            return existing, False
        with self._sessions() as session:
            return records.load_owned(session, app_id, contract_id), True

    def _existing(self, app_id: str, biz_no: str) -> Contract | None:
        with self._sessions() as session:
            return records.find_by_biz_no(session, app_id, biz_no)

    def _drafts(self, request: CreateInput, template: ApprovedTemplate, bad: list[FieldViolation]) -> list[_Draft]:
        """Every document to make, with fill data checked (bad values replaced, see fill_data)."""
        problems, patched = check_values(template.fields, request.data, "data")
        bad += problems
        drafts = [_Draft(request.title, DocumentKind.MAIN, "templateId", template=template, data=patched)]
        for index, extra in enumerate(request.extras):
            at = f"extraDocuments[{index}]"
            if not extra.template_id:
                draft = _Draft(extra.name, DocumentKind.ATTACHMENT, f"{at}.data", file_name=extra.file_name, file=extra.data)
                if extra.file_name.lower().endswith(".pdf") and extra.data:
                    try:
                        draft.pages = pdf_pages(extra.data, draft.field)
                    except InvalidArgument as exc:
                        bad += exc.violations
                drafts.append(draft)
                continue
            try:
                other = self._templates.resolve_approved(extra.template_id, f"{at}.templateId")
            except DomainError as exc:
                if exc.code.name not in ("NOT_FOUND", "FAILED_PRECONDITION"):
                    raise
                bad.append(FieldViolation(f"{at}.templateId", exc.message))
                continue
            data_field = f"{at}.fillData" if extra.fill_data is not None else "data"
            source = extra.fill_data if extra.fill_data is not None else request.data
            problems, patched = check_values(other.fields, source, data_field)
            bad += [p for p in problems if p not in bad]
            drafts.append(_Draft(extra.name, DocumentKind.ATTACHMENT, f"{at}.templateId", template=other,
                                 data=patched, data_field=data_field))
        return drafts

    def _subjects(self, signers: Sequence[SignerInput], bad: list[FieldViolation]) -> list[str]:
        """Each signer's platform subject id (identity upserts by identifier)."""
        ids = []
        for index, signer in enumerate(signers):
            at = f"signers[{index}]"
            if any(v.field.startswith(f"{at}.") or v.field == at for v in bad):
                ids.append("")
                continue
            try:
                ids.append(self._identity.upsert_subject(signer.kind, signer.name, signer.subject))
            except InvalidArgument as exc:
                bad += [FieldViolation(f"{at}.subject", v.description) for v in violations_of(exc, f"{at}.subject")]
                ids.append("")
            except DomainError as exc:
                if exc.code.name != "FAILED_PRECONDITION":
                    raise
                bad.append(FieldViolation(f"{at}.subject", exc.message))
                ids.append("")
        return ids

    def _render(self, drafts: list[_Draft], *, store: bool, bad: list[FieldViolation]) -> None:
        """Strict renders; with problems already found, only to learn which fields are missing."""
        for draft in drafts:
            if draft.template is None:
                continue
            try:
                draft.pdf = self._filegen.render(draft.template.docx_ref, draft.data or {}, store=store, data_field=draft.data_field)
            except InvalidArgument as exc:
                bad += [v for v in violations_of(exc, draft.data_field) if v not in bad]

    def _store_files(self, drafts: list[_Draft]) -> None:
        for draft in drafts:
            if draft.template is not None:
                continue
            if draft.file_name.lower().endswith(".pdf"):
                ref = self._blobs.put(draft.file)
                draft.pdf = Pdf(ref.split(":", 1)[1], draft.pages, ref)
            else:
                draft.pdf = self._filegen.convert(draft.file, draft.file_name, draft.field)

    def _insert(
        self,
        app_id: str,
        request: CreateInput,
        template: ApprovedTemplate,
        drafts: list[_Draft],
        subject_ids: list[str],
        actor: Actor,
        now: datetime,
    ) -> str:
        contract_id = _new_id("ct")
        with self._sessions.begin() as session:
            if request.group_id and session.get(GroupRow, (app_id, request.group_id)) is None:
                session.add(GroupRow(app_id=app_id, group_id=request.group_id, created_at=now))
            session.add(
                ContractRow(
                    contract_id=contract_id,
                    app_id=app_id,
                    biz_no=request.biz_no or None,
                    title=request.title.strip(),
                    status=ContractStatus.SIGNING.value,
                    status_reason="",
                    template_id=template.template_id,
                    template_version=template.version,
                    template_docx_sha256=template.docx_sha256,
                    group_id=request.group_id or None,
                    data_json=json.dumps(request.data, ensure_ascii=False),
                    amount=request.amount,
                    expire_at=request.expire_at,
                    created_at=now,
                    updated_at=now,
                    finished_at=None,
                    version=1,
                    event_seq=0,
                    last_event_hash=audit.GENESIS,
                    lta_pending=False,
                )
            )
            session.flush()  # the group and the contract first: the rows below refer to them
            signer_ids = []
            for index, (signer, subject_id) in enumerate(zip(request.signers, subject_ids)):
                signer_id = _new_id("sg")
                signer_ids.append(signer_id)
                session.add(
                    SignerRow(
                        signer_id=signer_id,
                        contract_id=contract_id,
                        seq=index,
                        role=signer.role,
                        kind=signer.kind,
                        name=signer.name.strip(),
                        id_type=signer.subject.id_type.strip(),
                        id_value=signer.subject.id.strip(),
                        subject_id=subject_id,
                        mobile=signer.mobile,
                        email=signer.email,
                        sign_mode=signer.sign_mode,
                        sign_order=signer.order or 1,
                        status=SignerStatus.PENDING.value,
                        action_at=None,
                        reject_reason="",
                    )
                )
            documents = []
            for seq, draft in enumerate(drafts):
                assert draft.pdf is not None
                document_id = _new_id("doc")
                documents.append({"documentId": document_id, "name": draft.name, "sha256": draft.pdf.sha256,
                                  "pages": draft.pdf.pages})
                placements: dict[str, Placement] = (
                    {r.role: r.placement for r in draft.template.roles} if draft.template is not None else {}
                )
                session.add(
                    DocumentRow(
                        document_id=document_id,
                        contract_id=contract_id,
                        seq=seq,
                        name=draft.name.strip(),
                        kind=draft.kind.value,
                        pages=draft.pdf.pages,
                        revision=0,
                        blob_ref=draft.pdf.blob_ref,
                        sha256=draft.pdf.sha256,
                        template_id=draft.template.template_id if draft.template else "",
                        template_version=draft.template.version if draft.template else 0,
                        template_docx_sha256=draft.template.docx_sha256 if draft.template else "",
                        placements_json=records.placements_json(placements),
                    )
                )
                session.flush()
                session.add(
                    RevisionRow(
                        document_id=document_id,
                        revision=0,
                        contract_id=contract_id,
                        blob_ref=draft.pdf.blob_ref,
                        sha256=draft.pdf.sha256,
                        cause="generated",
                        signer_id="",
                        created_at=now,
                    )
                )
            session.flush()
            audit.append(
                session,
                contract_id,
                "contract.created",
                actor,
                details={
                    "templateId": template.template_id,
                    "templateVersion": template.version,
                    "templateDocxSha256": template.docx_sha256,
                    "bizNo": request.biz_no,
                    "groupId": request.group_id,
                    "documents": documents,
                    "signers": [{"signerId": i, "role": s.role, "order": s.order or 1} for i, s in zip(signer_ids, request.signers)],
                },
                now=now,
            )
        log.info("contract %s created by app %s from template %s v%d", contract_id, app_id, template.template_id, template.version)
        return contract_id


def _all(bad: list[FieldViolation]) -> InvalidArgument:
    unique = list(dict.fromkeys(bad))
    return InvalidArgument("; ".join(f"{v.field}: {v.description}" for v in unique), unique)
