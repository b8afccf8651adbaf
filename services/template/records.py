"""What the template service's domain hands around: groups, templates, versions."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from services.template.fields import FillField, fields_from_json
from services.template.page_override import override_from_json
from services.template.signers import SignerRole, signers_from_json
from services.template.store import GroupRow, TemplateRow, VersionRow

ACTIVE, DISABLED = "ACTIVE", "DISABLED"
PENDING_REVIEW, APPROVED, REJECTED = "PENDING_REVIEW", "APPROVED", "REJECTED"


@dataclass(frozen=True)
class Group:
    group_id: str
    name: str
    description: str
    created_at: datetime


@dataclass(frozen=True)
class Version:
    template_id: str
    version: int
    status: str
    docx_ref: str
    docx_sha256: str
    fields: tuple[FillField, ...]
    signers: tuple[SignerRole, ...]
    change_note: str
    uploader: str
    reviewer: str
    review_comment: str
    created_at: datetime
    reviewed_at: datetime | None


@dataclass(frozen=True)
class Template:
    template_id: str
    name: str
    group: str
    status: str
    latest_version: int
    approved_version: int
    latest_status: str
    description: str
    creator: str
    created_at: datetime
    updated_at: datetime
    signers: tuple[SignerRole, ...]  # of the newest version
    signing_page: dict[str, Any] = field(default_factory=dict)  # proto3 JSON of SigningPageOverride


@dataclass(frozen=True)
class TemplateDetail:
    template: Template
    versions: tuple[Version, ...]  # oldest first


def utc(moment: datetime) -> datetime:
    """SQLite hands back naive datetimes; everything stored is UTC."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=timezone.utc)


def group_record(row: GroupRow) -> Group:
    return Group(row.group_id, row.name, row.description, utc(row.created_at))


def version_record(row: VersionRow) -> Version:
    return Version(
        template_id=row.template_id,
        version=row.version,
        status=row.status,
        docx_ref=row.docx_ref,
        docx_sha256=row.docx_sha256,
        fields=fields_from_json(row.fields_json),
        signers=signers_from_json(row.signers_json),
        change_note=row.change_note,
        uploader=row.uploader,
        reviewer=row.reviewer,
        review_comment=row.review_comment,
        created_at=utc(row.created_at),
        reviewed_at=utc(row.reviewed_at) if row.reviewed_at else None,
    )


def template_record(row: TemplateRow, signers: tuple[SignerRole, ...]) -> Template:
    return Template(
        template_id=row.template_id,
        name=row.name,
        group=row.group_id or "",
        status=row.status,
        latest_version=row.latest_version,
        approved_version=row.approved_version,
        latest_status=row.latest_status,
        description=row.description,
        creator=row.creator,
        created_at=utc(row.created_at),
        updated_at=utc(row.updated_at),
        signers=signers,
        signing_page=override_from_json(row.signing_page_json),
    )
