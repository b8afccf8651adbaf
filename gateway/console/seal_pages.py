"""Seals of a subject: list, generate, upload."""
from __future__ import annotations

import struct
from urllib.parse import urlencode

from starlette.responses import Response

from core.errors import invalid
from econtract.common.v1 import common_pb2
from econtract.signing.v1 import signing_pb2 as pb
from gateway.console.display import enum_name, png_data_uri
from gateway.console.pipeline import PREFIX, Ctx

# Every style the signing service draws, in the order the proto lists them.
STYLES = tuple(name for name in pb.Seal.Style.keys() if name != "STYLE_UNSPECIFIED")
SHOWN_SIZE = 120  # CSS pixels of a listed seal's longer side


def _page(id_type: str, subject_id: str) -> str:
    return f"{PREFIX}/seals?" + urlencode({"idType": id_type, "id": subject_id})


def _subject(ctx: Ctx) -> common_pb2.SubjectRef:
    id_type, subject_id = ctx.text("idType"), ctx.text("id")
    if not id_type or not subject_id:
        raise invalid("subject", "give the subject's id type and id")
    return common_pb2.SubjectRef(id_type=id_type, id=subject_id)


async def list_seals(ctx: Ctx) -> Response:
    id_type, subject_id = ctx.query("idType"), ctx.query("id")
    seals = None
    if id_type and subject_id:
        reply = await ctx.rpc.call(
            "signing", "ListSeals",
            pb.ListSealsRequest(subject=common_pb2.SubjectRef(id_type=id_type, id=subject_id), page_size=100),
        )
        seals = [{"seal": s, "image": png_data_uri(s.image), "size": _shown_size(s.image)} for s in reply.seals]
    id_types = ctx.parts.config.id_types
    return ctx.render(
        "seals.html", seals=seals, id_type=id_type, subject_id=subject_id, id_types=id_types, enum_name=enum_name,
        id_type_options=[(i, ctx.t.enum("id_type", i)) for i in id_types],
        style_options=[(s, ctx.t.enum("seal_style", s)) for s in STYLES],
    )


def _shown_size(png: bytes) -> tuple[int, int]:
    """Width and height to list a seal at, keeping its shape (oval and rectangular seals
    are not square)."""
    width, height = struct.unpack(">II", png[16:24])  # the PNG's IHDR chunk
    if not width or not height:
        return SHOWN_SIZE, SHOWN_SIZE
    scale = SHOWN_SIZE / max(width, height)
    return max(1, round(width * scale)), max(1, round(height * scale))


async def generate_seal(ctx: Ctx) -> Response:
    subject = _subject(ctx)
    style = ctx.text("style")
    if style not in STYLES:
        raise invalid("style", f"choose one of {', '.join(STYLES)}")
    await ctx.rpc.call(
        "signing", "GenerateSeal",
        pb.GenerateSealRequest(subject=subject, style=pb.Seal.Style.Value(style), text=ctx.text("text"),
                               horizontal_text=ctx.text("horizontal_text"), seal_code=ctx.text("seal_code"),
                               name=ctx.text("name")),
        read=False,
    )
    return ctx.done(_page(subject.id_type, subject.id), "seals.generated")


async def upload_seal(ctx: Ctx) -> Response:
    subject = _subject(ctx)
    _, image = await ctx.file("image")
    request = pb.CreateSealRequest(subject=subject, name=ctx.text("name"), image=image)
    await ctx.rpc.call("signing", "CreateSeal", request, read=False)
    return ctx.done(_page(subject.id_type, subject.id), "seals.uploaded")
