"""The template service's tables: groups, templates and their versions."""
from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class TemplateBase(DeclarativeBase):
    """Metadata of the template service's own tables."""


class GroupRow(TemplateBase):
    """A template group (category), by its key."""

    __tablename__ = "template_groups"

    group_id: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(200))
    description: Mapped[str] = mapped_column(sa.Text, default="")
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True))


class TemplateRow(TemplateBase):
    """A template; the review state of its versions is mirrored here for listing."""

    __tablename__ = "templates"
    __table_args__ = (sa.Index("ix_templates_created", "created_at", "template_id"),)

    template_id: Mapped[str] = mapped_column(sa.String(40), primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(200))
    group_id: Mapped[str | None] = mapped_column(sa.ForeignKey("template_groups.group_id"), index=True)
    description: Mapped[str] = mapped_column(sa.Text, default="")
    status: Mapped[str] = mapped_column(sa.String(16))
    creator: Mapped[str] = mapped_column(sa.String(64))
    latest_version: Mapped[int] = mapped_column(sa.Integer)
    latest_status: Mapped[str] = mapped_column(sa.String(16))
    # 0 until a version is approved; contracts use this one.
    approved_version: Mapped[int] = mapped_column(sa.Integer, default=0)
    disabled_reason: Mapped[str] = mapped_column(sa.Text, default="")
    # The template's own signing-page settings (proto3 JSON of SigningPageOverride); NULL = none.
    signing_page_json: Mapped[str | None] = mapped_column(sa.Text, default=None)
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True))


class VersionRow(TemplateBase):
    """One uploaded .docx of a template (kept in the blob store) and its legal review."""

    __tablename__ = "template_versions"

    template_id: Mapped[str] = mapped_column(sa.ForeignKey("templates.template_id"), primary_key=True)
    version: Mapped[int] = mapped_column(sa.Integer, primary_key=True)
    status: Mapped[str] = mapped_column(sa.String(16))
    docx_ref: Mapped[str] = mapped_column(sa.String(80))
    docx_sha256: Mapped[str] = mapped_column(sa.String(64))
    fields_json: Mapped[str] = mapped_column(sa.Text)
    signers_json: Mapped[str] = mapped_column(sa.Text)
    change_note: Mapped[str] = mapped_column(sa.Text, default="")
    uploader: Mapped[str] = mapped_column(sa.String(64))
    reviewer: Mapped[str] = mapped_column(sa.String(64), default="")
    review_comment: Mapped[str] = mapped_column(sa.Text, default="")
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True))
    reviewed_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
