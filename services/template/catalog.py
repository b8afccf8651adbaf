"""Templates, their versions and groups: creating, reading, listing, disabling.

An upload is vetted (see ``vetting``) before anything is written; then the rows and the
.docx blob are stored together: the blob is written last inside the transaction, so a
failure leaves no rows, and a failed commit leaves at most an unreferenced blob, which is
harmless in a content-addressed store.
"""
from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timezone

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from core import paging
from core.blobs import BlobStore
from core.errors import Aborted, AlreadyExists, FieldViolation, NotFound, invalid
from services.template.fields import fields_to_json
from services.template.paging import Page
from services.template.page_override import override_to_json, override_violations
from services.template.records import (
    ACTIVE,
    APPROVED,
    DISABLED,
    PENDING_REVIEW,
    REJECTED,
    Group,
    Template,
    TemplateDetail,
    Version,
    group_record,
    template_record,
    utc,
    version_record,
)
from services.template.signers import SignerRole, signers_from_json, signers_to_json, validate_signers
from services.template.store import GroupRow, TemplateRow, VersionRow
from services.template.vetting import Vetting, VettedDocx, docx_violations, refuse

GROUP_KEY = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
MAX_NAME = 200
MAX_TEXT = 2000


@dataclass(frozen=True)
class TemplateQuery:
    """Filters of a template list; empty strings mean no filter."""

    group: str = ""
    status: str = ""
    review_status: str = ""
    name_query: str = ""
    page_size: int = 0
    page_token: str = ""


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _text_violations(name: str, description: str, group: str) -> list[FieldViolation]:
    problems = []
    if not name.strip():
        problems.append(FieldViolation("name", "is required"))
    elif len(name) > MAX_NAME:
        problems.append(FieldViolation("name", f"must be at most {MAX_NAME} characters"))
    if len(description) > MAX_TEXT:
        problems.append(FieldViolation("description", f"must be at most {MAX_TEXT} characters"))
    if group and not GROUP_KEY.match(group):
        problems.append(FieldViolation("group", "must be 1 to 64 letters, digits, '-' or '_'"))
    return problems


class Catalog:
    def __init__(self, sessions: sessionmaker, blobs: BlobStore, vetting: Vetting):
        self._sessions = sessions
        self._blobs = blobs
        self._vetting = vetting

    # --- uploads -----------------------------------------------------------------------

    def create_template(
        self,
        *,
        name: str,
        group: str,
        description: str,
        docx: bytes,
        signers: tuple[SignerRole, ...],
        creator: str,
    ) -> tuple[Template, Version]:
        """A new template whose first version waits for legal review."""
        name = name.strip()
        problems = _text_violations(name, description, group) + docx_violations(docx) + validate_signers(signers)
        if problems:
            raise refuse(problems)
        vetted = self._vetting.vet(docx, signers)
        now = _now()
        template_id = "tpl_" + secrets.token_hex(8)
        with self._sessions.begin() as session:
            if group:
                _ensure_group(session, group, now)
            template = TemplateRow(
                template_id=template_id,
                name=name,
                group_id=group or None,
                description=description,
                status=ACTIVE,
                creator=creator,
                latest_version=1,
                latest_status=PENDING_REVIEW,
                approved_version=0,
                disabled_reason="",
                created_at=now,
                updated_at=now,
            )
            session.add(template)
            session.flush()  # the template row must exist before its version references it
            version = self._store_version(session, template_id, 1, vetted, signers, "", creator, now)
            return template_record(template, signers), version

    def add_version(
        self,
        template_id: str,
        *,
        docx: bytes,
        signers: tuple[SignerRole, ...] | None,
        change_note: str,
        uploader: str,
    ) -> Version:
        """A new version of ``template_id``, PENDING_REVIEW; ``signers=None`` keeps the newest version's."""
        with self._sessions() as session:
            template = _template_row(session, template_id)
            expected = template.latest_version
            if signers is None:
                signers = signers_from_json(session.get(VersionRow, (template_id, expected)).signers_json)
        problems = docx_violations(docx) + validate_signers(signers)
        if len(change_note) > MAX_TEXT:
            problems.append(FieldViolation("changeNote", f"must be at most {MAX_TEXT} characters"))
        if problems:
            raise refuse(problems)
        vetted = self._vetting.vet(docx, signers)
        now = _now()
        number = expected + 1
        with self._sessions.begin() as session:
            moved = session.execute(
                sa.update(TemplateRow)
                .where(TemplateRow.template_id == template_id, TemplateRow.latest_version == expected)
                .values(latest_version=number, latest_status=PENDING_REVIEW, updated_at=now)
                .execution_options(synchronize_session=False)
            ).rowcount
            if moved != 1:
                raise Aborted(f"another version of {template_id} was uploaded at the same time; upload again")
            return self._store_version(session, template_id, number, vetted, signers, change_note, uploader, now)

    def _store_version(
        self,
        session: Session,
        template_id: str,
        number: int,
        vetted: VettedDocx,
        signers: tuple[SignerRole, ...],
        change_note: str,
        uploader: str,
        now: datetime,
    ) -> Version:
        row = VersionRow(
            template_id=template_id,
            version=number,
            status=PENDING_REVIEW,
            docx_ref="",  # set below, once the rows are known to fit
            docx_sha256=vetted.sha256,
            fields_json=fields_to_json(vetted.fields),
            signers_json=signers_to_json(signers),
            change_note=change_note,
            uploader=uploader,
            reviewer="",
            review_comment="",
            created_at=now,
            reviewed_at=None,
        )
        session.add(row)
        try:
            session.flush()
        except IntegrityError:
            raise Aborted(f"version {number} of {template_id} was uploaded at the same time; upload again") from None
        # The blob goes last, once the rows are accepted: a failure before it stores nothing,
        # and a failed commit after it leaves only an unreferenced (content-addressed) blob.
        row.docx_ref = self._blobs.put(vetted.data)
        return version_record(row)

    # --- reading -----------------------------------------------------------------------

    def get(self, template_id: str) -> TemplateDetail:
        with self._sessions() as session:
            template = _template_row(session, template_id)
            rows = session.scalars(
                sa.select(VersionRow).where(VersionRow.template_id == template_id).order_by(VersionRow.version)
            ).all()
            versions = tuple(version_record(r) for r in rows)
            return TemplateDetail(template_record(template, versions[-1].signers), versions)

    def version(self, template_id: str, number: int) -> Version:
        if number < 1:
            raise invalid("version", "must be a version number ≥ 1")
        with self._sessions() as session:
            row = session.get(VersionRow, (template_id, number))
            if row is None:
                _template_row(session, template_id)
                raise NotFound(f"template {template_id} has no version {number}")
            return version_record(row)

    def version_for_preview(self, template_id: str, number: int) -> Version:
        """``number``, or (0) the approved version, or the newest when none is approved yet."""
        if number:
            return self.version(template_id, number)
        with self._sessions() as session:
            template = _template_row(session, template_id)
            chosen = template.approved_version or template.latest_version
            return version_record(session.get(VersionRow, (template_id, chosen)))

    def read_docx(self, version: Version) -> bytes:
        return self._blobs.get(version.docx_ref)

    def list(self, query: TemplateQuery) -> Page[Template]:
        """Newest first (create time, then id, both descending), filtered, one page."""
        problems = []
        if query.status not in ("", ACTIVE, DISABLED):
            problems.append(FieldViolation("status", "must be ACTIVE or DISABLED"))
        if query.review_status not in ("", PENDING_REVIEW, APPROVED, REJECTED):
            problems.append(FieldViolation("reviewStatus", "must be PENDING_REVIEW, APPROVED or REJECTED"))
        if len(query.name_query) > MAX_NAME:
            problems.append(FieldViolation("nameQuery", f"must be at most {MAX_NAME} characters"))
        if problems:
            raise refuse(problems)
        size = paging.page_size(query.page_size)
        scope = paging.scope(query.group, query.status, query.review_status, query.name_query)
        after = paging.decode(query.page_token, scope)
        statement = sa.select(TemplateRow, VersionRow.signers_json).join(
            VersionRow,
            sa.and_(VersionRow.template_id == TemplateRow.template_id, VersionRow.version == TemplateRow.latest_version),
        )
        if query.group:
            statement = statement.where(TemplateRow.group_id == query.group)
        if query.status:
            statement = statement.where(TemplateRow.status == query.status)
        if query.review_status:
            statement = statement.where(TemplateRow.latest_status == query.review_status)
        if query.name_query:
            statement = statement.where(
                sa.func.lower(TemplateRow.name).contains(query.name_query.lower(), autoescape=True)
            )
        if after is not None:
            created, last_id = _template_position(after)
            statement = statement.where(
                sa.or_(
                    TemplateRow.created_at < created,
                    sa.and_(TemplateRow.created_at == created, TemplateRow.template_id < last_id),
                )
            )
        statement = statement.order_by(TemplateRow.created_at.desc(), TemplateRow.template_id.desc()).limit(size + 1)
        with self._sessions() as session:
            rows = session.execute(statement).all()
        page = rows[:size]
        items = tuple(template_record(row, signers_from_json(signers)) for row, signers in page)
        next_token = ""
        if len(rows) > size:
            last = page[-1][0]
            position = {"t": utc(last.created_at).isoformat(), "id": last.template_id}
            next_token = paging.encode(position, scope)
        return Page(items, next_token)

    # --- changing ----------------------------------------------------------------------

    def disable(self, template_id: str, reason: str) -> Template:
        """No new contracts from the template; contracts already made are not touched."""
        if len(reason) > MAX_TEXT:
            raise invalid("reason", f"must be at most {MAX_TEXT} characters")
        with self._sessions.begin() as session:
            template = _template_row(session, template_id)
            if template.status != DISABLED:
                template.status = DISABLED
                template.disabled_reason = reason
                template.updated_at = _now()
            signers = signers_from_json(session.get(VersionRow, (template_id, template.latest_version)).signers_json)
            return template_record(template, signers)

    def set_signing_page(self, template_id: str, override: dict) -> Template:
        """Replace the template's signing-page override (proto3 JSON); an empty one removes it."""
        problems = override_violations(override)
        if problems:
            raise refuse(problems)
        with self._sessions.begin() as session:
            template = _template_row(session, template_id)
            template.signing_page_json = override_to_json(override)
            template.updated_at = _now()
            signers = signers_from_json(session.get(VersionRow, (template_id, template.latest_version)).signers_json)
            return template_record(template, signers)

    # --- groups ------------------------------------------------------------------------

    def create_group(self, group_id: str, name: str, description: str) -> Group:
        problems = []
        if not GROUP_KEY.match(group_id):
            problems.append(FieldViolation("groupId", "must be 1 to 64 letters, digits, '-' or '_'"))
        if len(name) > MAX_NAME:
            problems.append(FieldViolation("name", f"must be at most {MAX_NAME} characters"))
        if len(description) > MAX_TEXT:
            problems.append(FieldViolation("description", f"must be at most {MAX_TEXT} characters"))
        if problems:
            raise refuse(problems)
        row = GroupRow(group_id=group_id, name=name.strip() or group_id, description=description, created_at=_now())
        try:
            with self._sessions.begin() as session:
                session.add(row)
        except IntegrityError:
            raise AlreadyExists(f"template group {group_id!r} already exists") from None
        return group_record(row)

    def list_groups(self, requested_size: int, page_token: str) -> Page[Group]:
        """Groups by key."""
        size = paging.page_size(requested_size)
        scope = paging.scope("groups")
        after = paging.decode(page_token, scope)
        statement = sa.select(GroupRow).order_by(GroupRow.group_id).limit(size + 1)
        if after is not None:
            statement = statement.where(GroupRow.group_id > str(after.get("id", "")))
        with self._sessions() as session:
            rows = session.scalars(statement).all()
        page = rows[:size]
        next_token = paging.encode({"id": page[-1].group_id}, scope) if len(rows) > size else ""
        return Page(tuple(group_record(r) for r in page), next_token)


def _template_row(session: Session, template_id: str) -> TemplateRow:
    row = session.get(TemplateRow, template_id) if template_id else None
    if row is None:
        raise NotFound(f"template {template_id!r} not found")
    return row


def _template_position(position: dict) -> tuple[datetime, str]:
    try:
        created = datetime.fromisoformat(position["t"])
        last_id = str(position["id"])
    except (KeyError, TypeError, ValueError):
        raise invalid("pageToken", "is not a token returned by this list") from None
    return created, last_id


def _ensure_group(session: Session, group_id: str, now: datetime) -> None:
    """Create the group on first use, so business lines can name groups as they go."""
    dialect = session.get_bind().dialect.name
    insert = {"postgresql": postgresql.insert, "sqlite": sqlite.insert}[dialect]
    session.execute(
        insert(GroupRow)
        .values(group_id=group_id, name=group_id, description="", created_at=now)
        .on_conflict_do_nothing(index_elements=["group_id"])
    )
