"""Outside CA certificates a business line trusts (trust anchors): register by pasting a
PEM, remove one. Signatures chaining to them count as trusted for that business line."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from urllib.parse import quote

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.serialization import Encoding
from google.protobuf import field_mask_pb2
from starlette.responses import Response

from core.errors import invalid
from econtract.identity.v1 import identity_pb2 as pb
from gateway.console.pipeline import PREFIX, Ctx

MAX_PEM = 64 * 1024


@dataclass(frozen=True)
class Anchor:
    fingerprint: str  # SHA-256 of the DER, lowercase hex: how a removal names it
    subject: str
    issuer: str
    not_before: datetime
    not_after: datetime
    pem: str


def anchors_of(pems) -> list[Anchor]:
    return [_anchor(x509.load_pem_x509_certificate(pem.encode())) for pem in pems]


def _anchor(cert: x509.Certificate) -> Anchor:
    return Anchor(cert.fingerprint(hashes.SHA256()).hex(), cert.subject.rfc4514_string(),
                  cert.issuer.rfc4514_string(), cert.not_valid_before_utc, cert.not_valid_after_utc,
                  cert.public_bytes(Encoding.PEM).decode("ascii"))


def _pasted(ctx: Ctx) -> list[Anchor]:
    text = ctx.text("pem")
    if not text or len(text) > MAX_PEM:
        raise invalid("pem", f"paste one or more PEM certificates (at most {MAX_PEM} characters)")
    try:
        return [_anchor(cert) for cert in x509.load_pem_x509_certificates(text.encode())]
    except ValueError:
        raise invalid("pem", "is not a PEM certificate (-----BEGIN CERTIFICATE----- … -----END CERTIFICATE-----)") from None


async def _current(ctx: Ctx, app_id: str) -> list[Anchor]:
    reply = await ctx.rpc.call("identity", "GetApp", pb.GetAppRequest(app_id=app_id))
    return anchors_of(reply.app.trust_anchors)


async def _save(ctx: Ctx, app_id: str, anchors: list[Anchor]) -> None:
    app = pb.App(app_id=app_id, trust_anchors=[a.pem for a in anchors])
    request = pb.UpdateAppRequest(app=app, update_mask=field_mask_pb2.FieldMask(paths=["trust_anchors"]))
    await ctx.rpc.call("identity", "UpdateApp", request, read=False)


async def add_anchors(ctx: Ctx) -> Response:
    app_id = ctx.request.path_params["app_id"]
    added = _pasted(ctx)
    current = await _current(ctx, app_id)
    known = {a.fingerprint for a in current}
    await _save(ctx, app_id, current + [a for a in added if a.fingerprint not in known])
    return ctx.done(f"{PREFIX}/apps/{quote(app_id)}", "anchors.added", count=len(added))


async def remove_anchor(ctx: Ctx) -> Response:
    app_id = ctx.request.path_params["app_id"]
    fingerprint = ctx.text("fingerprint")
    current = await _current(ctx, app_id)
    kept = [a for a in current if a.fingerprint != fingerprint]
    if len(kept) == len(current):
        raise invalid("fingerprint", "names no trust anchor of this business line")
    await _save(ctx, app_id, kept)
    return ctx.done(f"{PREFIX}/apps/{quote(app_id)}", "anchors.removed")
