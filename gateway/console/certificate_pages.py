"""Certificates the platform CA issued: find them by subject id or name, see their status,
revoke one (the public CRL and OCSP answers show it at once)."""
from __future__ import annotations

from starlette.responses import Response

from core.errors import invalid
from econtract.signing.v1 import signing_pb2 as pb
from gateway.console.pipeline import PREFIX, Ctx

# RFC 5280 reason names the signing service understands; other text is kept as a note.
REASONS = ("unspecified", "keyCompromise", "affiliationChanged", "superseded", "cessationOfOperation")
PAGE_SIZE = 50


def status_name(certificate: pb.Certificate) -> str:
    """``VALID``, ``EXPIRED`` or ``REVOKED``."""
    return pb.Certificate.Status.Name(certificate.status).removeprefix("STATUS_")


async def list_certificates(ctx: Ctx) -> Response:
    subject_id, name, show = ctx.query("subject_id"), ctx.query("name"), ctx.query("show", "all")
    request = pb.ListCertificatesRequest(subject_id=subject_id, subject_name=name, include_inactive=show != "active",
                                         page_size=PAGE_SIZE, page_token=ctx.query("page"))
    reply = await ctx.rpc.call("signing", "ListCertificates", request)
    return ctx.render("certificates.html", certificates=reply.certificates, next_page=reply.next_page_token,
                      subject_id=subject_id, subject_name=name, show=show, status_name=status_name,
                      reason_options=[(r, ctx.t.enum("revocation", r)) for r in REASONS])


async def revoke_certificate(ctx: Ctx) -> Response:
    serial = ctx.request.path_params["serial"]
    reason, note = ctx.text("reason"), ctx.text("note")
    if reason not in REASONS:
        raise invalid("reason", f"choose one of {', '.join(REASONS)}")
    said = note if reason == "unspecified" and note else reason
    await ctx.rpc.call("signing", "RevokeCertificate", pb.RevokeCertificateRequest(serial_number=serial, reason=said),
                       read=False)
    back = ctx.back if ctx.back.startswith(PREFIX + "/certificates") else PREFIX + "/certificates"
    return ctx.done(back, "certificates.revoked", serial=serial)
