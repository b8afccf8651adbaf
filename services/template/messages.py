"""Protobuf messages ↔ the template service's domain values (the RPC layer's half of api.py)."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from google.protobuf import json_format, timestamp_pb2

from econtract.common.v1 import common_pb2
from econtract.template.v1 import template_pb2 as pb
from services.template.fields import FillField
from services.template.records import Group, Template, Version
from services.template.redline import Redline
from services.template.signers import Position, SignerRole


def enum_name(enum_type, value: int) -> str:
    """The name of a set enum value; '' for unspecified or unknown numbers."""
    if value == 0:
        return ""
    try:
        return enum_type.Name(value)
    except ValueError:
        return ""


def timestamp(moment: datetime) -> timestamp_pb2.Timestamp:
    message = timestamp_pb2.Timestamp()
    message.FromDatetime(moment)
    return message


def struct_data(request, field: str = "data") -> dict[str, Any]:
    return json_format.MessageToDict(getattr(request, field)) if request.HasField(field) else {}


# --- signer roles --------------------------------------------------------------------


def position_in(message: common_pb2.SignaturePosition) -> Position:
    return Position(
        keyword=message.keyword,
        page=message.page,
        x=message.x,
        y=message.y,
        width=message.width,
        height=message.height,
    )


def position_out(position: Position) -> common_pb2.SignaturePosition:
    return common_pb2.SignaturePosition(
        keyword=position.keyword,
        page=position.page,
        x=position.x,
        y=position.y,
        width=position.width,
        height=position.height,
    )


def signer_in(message: pb.SignerRole) -> SignerRole:
    return SignerRole(
        role=message.role,
        kind=enum_name(common_pb2.SignerKind, message.kind),
        positions=tuple(position_in(p) for p in message.positions),
        riding_seal=message.riding_seal,
        date_position=position_in(message.date_position) if message.HasField("date_position") else None,
    )


def signer_out(signer: SignerRole) -> pb.SignerRole:
    message = pb.SignerRole(
        role=signer.role,
        kind=signer.kind or "SIGNER_KIND_UNSPECIFIED",
        positions=[position_out(p) for p in signer.positions],
        riding_seal=signer.riding_seal,
    )
    if signer.date_position is not None:
        message.date_position.CopyFrom(position_out(signer.date_position))
    return message


# --- fields, versions, templates, groups ---------------------------------------------


def field_out(field: FillField) -> common_pb2.FillField:
    kind = field.type if field.type in common_pb2.FillField.Type.keys() else "TYPE_UNSPECIFIED"
    return common_pb2.FillField(
        name=field.name,
        type=kind,
        required=field.required,
        item_fields=[field_out(f) for f in field.item_fields],
        label=field.label,
    )


def version_out(version: Version) -> pb.TemplateVersion:
    message = pb.TemplateVersion(
        template_id=version.template_id,
        version=version.version,
        status=version.status,
        docx_sha256=version.docx_sha256,
        fields=[field_out(f) for f in version.fields],
        signers=[signer_out(s) for s in version.signers],
        change_note=version.change_note,
        uploader=version.uploader,
        reviewer=version.reviewer,
        review_comment=version.review_comment,
        create_time=timestamp(version.created_at),
    )
    if version.reviewed_at is not None:
        message.review_time.CopyFrom(timestamp(version.reviewed_at))
    return message


def signing_page_in(request) -> dict[str, Any]:
    """The override a request carries, in proto3 JSON (only the fields it sets)."""
    return json_format.MessageToDict(request.signing_page) if request.HasField("signing_page") else {}


def template_out(template: Template) -> pb.Template:
    return pb.Template(
        template_id=template.template_id,
        name=template.name,
        group=template.group,
        status=template.status,
        latest_version=template.latest_version,
        approved_version=template.approved_version,
        latest_version_status=template.latest_status,
        signers=[signer_out(s) for s in template.signers],
        description=template.description,
        creator=template.creator,
        create_time=timestamp(template.created_at),
        update_time=timestamp(template.updated_at),
        signing_page=json_format.ParseDict(template.signing_page, pb.SigningPageOverride())
        if template.signing_page
        else None,
    )


def group_out(group: Group) -> pb.TemplateGroup:
    return pb.TemplateGroup(
        group_id=group.group_id, name=group.name, description=group.description, create_time=timestamp(group.created_at)
    )


def redline_out(redline: Redline) -> pb.GetTemplateVersionRedlineResponse:
    return pb.GetTemplateVersionRedlineResponse(
        template_id=redline.template_id,
        version=redline.version,
        base_version=redline.base_version,
        paragraphs=[
            pb.ParagraphChange(kind=c.kind, index=c.index, text=c.text, location=c.location) for c in redline.paragraphs
        ],
        changed_fields=[
            pb.FieldChange(
                kind=c.kind,
                name=c.name,
                before=field_out(c.before) if c.before else None,
                after=field_out(c.after) if c.after else None,
            )
            for c in redline.fields
        ],
        changed_signers=[
            pb.SignerChange(
                kind=c.kind,
                role=c.role,
                before=signer_out(c.before) if c.before else None,
                after=signer_out(c.after) if c.after else None,
            )
            for c in redline.signers
        ],
    )
