"""Legal review of template versions, and which version new contracts use.

Separation of duties: whoever uploaded a version can neither approve nor reject it.
Approving makes a version the template's current one; an older version cannot be
approved after a newer one, so a stale review never rolls a template back. Each
decision is one conditional UPDATE, so two reviewers acting at once cannot both win.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone

import sqlalchemy as sa
from sqlalchemy.orm import Session, sessionmaker

from core.errors import Aborted, FailedPrecondition, NotFound, PermissionDenied, invalid
from services.template.catalog import MAX_TEXT
from services.template.records import APPROVED, DISABLED, PENDING_REVIEW, REJECTED, Version, version_record
from services.template.store import TemplateRow, VersionRow


@dataclass(frozen=True)
class ApprovedVersion:
    """What a new contract pins: the template's current approved version."""

    template_id: str
    template_name: str
    version: Version


class Review:
    def __init__(self, sessions: sessionmaker):
        self._sessions = sessions

    def approve(self, template_id: str, number: int, reviewer: str, comment: str) -> Version:
        if len(comment) > MAX_TEXT:
            raise invalid("comment", f"must be at most {MAX_TEXT} characters")
        now = datetime.now(timezone.utc)
        with self._sessions.begin() as session:
            row = self._pending(session, template_id, number, reviewer, "approve")
            self._decide(session, row, APPROVED, reviewer, comment, now)
            moved = session.execute(
                sa.update(TemplateRow)
                .where(TemplateRow.template_id == template_id, TemplateRow.approved_version < number)
                .values(
                    approved_version=number,
                    latest_status=sa.case((TemplateRow.latest_version == number, APPROVED), else_=TemplateRow.latest_status),
                    updated_at=now,
                )
                .execution_options(synchronize_session=False)
            ).rowcount
            if moved != 1:
                current = session.get(TemplateRow, template_id).approved_version
                raise FailedPrecondition(
                    f"version {number} of {template_id} is older than its approved version {current}; "
                    "upload it again as a new version to bring it back"
                )
            session.refresh(row)
            return version_record(row)

    def reject(self, template_id: str, number: int, reviewer: str, comment: str) -> Version:
        if not comment.strip():
            raise invalid("comment", "a rejection needs the reviewer's reason")
        if len(comment) > MAX_TEXT:
            raise invalid("comment", f"must be at most {MAX_TEXT} characters")
        now = datetime.now(timezone.utc)
        with self._sessions.begin() as session:
            row = self._pending(session, template_id, number, reviewer, "reject")
            self._decide(session, row, REJECTED, reviewer, comment, now)
            session.execute(
                sa.update(TemplateRow)
                .where(TemplateRow.template_id == template_id)
                .values(
                    latest_status=sa.case((TemplateRow.latest_version == number, REJECTED), else_=TemplateRow.latest_status),
                    updated_at=now,
                )
                .execution_options(synchronize_session=False)
            )
            session.refresh(row)
            return version_record(row)

    def resolve_approved(self, template_id: str) -> ApprovedVersion:
        """The version a new contract must use; FAILED_PRECONDITION when there is none."""
        with self._sessions() as session:
            template = session.get(TemplateRow, template_id) if template_id else None
            if template is None:
                raise NotFound(f"template {template_id!r} not found")
            if template.status == DISABLED:
                reason = f" ({template.disabled_reason})" if template.disabled_reason else ""
                raise FailedPrecondition(f"template {template_id} is disabled{reason}; no new contracts can use it")
            if template.approved_version == 0:
                raise FailedPrecondition(
                    f"template {template_id} has no approved version yet; legal must approve one before contracts use it"
                )
            version = session.get(VersionRow, (template_id, template.approved_version))
            return ApprovedVersion(template_id, template.name, version_record(version))

    def _pending(self, session: Session, template_id: str, number: int, reviewer: str, action: str) -> VersionRow:
        if number < 1:
            raise invalid("version", "must be a version number ≥ 1")
        row = session.get(VersionRow, (template_id, number))
        if row is None:
            if session.get(TemplateRow, template_id) is None:
                raise NotFound(f"template {template_id!r} not found")
            raise NotFound(f"template {template_id} has no version {number}")
        if row.uploader == reviewer:
            raise PermissionDenied(
                f"version {number} of {template_id} was uploaded by {reviewer}, who cannot {action} it; "
                "another reviewer must (separation of duties)"
            )
        if row.status != PENDING_REVIEW:
            raise FailedPrecondition(f"version {number} of {template_id} is already {row.status}")
        return row

    def _decide(self, session: Session, row: VersionRow, status: str, reviewer: str, comment: str, now: datetime) -> None:
        decided = session.execute(
            sa.update(VersionRow)
            .where(
                VersionRow.template_id == row.template_id,
                VersionRow.version == row.version,
                VersionRow.status == PENDING_REVIEW,
            )
            .values(status=status, reviewer=reviewer, review_comment=comment, reviewed_at=now)
            .execution_options(synchronize_session=False)
        ).rowcount
        if decided != 1:
            raise Aborted(f"version {row.version} of {row.template_id} was reviewed by someone else at the same time")
