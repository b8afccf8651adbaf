"""The platform PKI over plain HTTP: OCSP, CRLs, CA certificates and the RFC 3161 TSA.

Relying parties (PDF validators such as pdfsig/NSS, Acrobat, pyHanko with fetching on)
fetch these without any app signature, at the URLs the platform's certificates carry
(``ECONTRACT_PUBLIC_URL`` + the paths below). The gateway holds no key: each request
becomes one internal signing RPC carrying the raw DER bytes, and the DER answer is
returned with the media type the RFCs name.

- ``POST /pki/ocsp`` (RFC 6960, ``application/ocsp-request``) and
  ``GET /pki/ocsp/{url-encoded base64 of the DER request}`` (RFC 6960 appendix A.1)
- ``GET /pki/crl/root.crl``, ``GET /pki/crl/issuing.crl`` (RFC 5280, ``application/pkix-crl``)
- ``GET /pki/certs/root.cer``, ``GET /pki/certs/issuing.cer`` (``application/pkix-cert``)
- ``POST /pki/tsa`` (RFC 3161, ``application/timestamp-query`` → ``application/timestamp-reply``)
"""
from __future__ import annotations

import base64
import binascii
import urllib.parse
from collections.abc import Callable

import grpc
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from core.rpc.client import AsyncPeers
from core.tracing import current_trace_id
from gateway.errors import rpc_error_response
from services.signing.pki import (
    ISSUING_CERT_PATH,
    ISSUING_CRL_PATH,
    OCSP_PATH,
    ROOT_CERT_PATH,
    ROOT_CRL_PATH,
    TSA_PATH,
)

MAX_REQUEST = 64 * 1024  # OCSP and timestamp requests are a few hundred bytes
_SERVICE = "/econtract.signing.v1.SigningService/"


def pki_routes(peers: Callable[[], AsyncPeers]) -> list[Route]:
    """The routes, calling the signing service through ``peers()`` (made in the app's lifespan)."""
    from econtract.signing.v1 import signing_pb2 as pb

    async def call(method: str, message, response_type):
        return await peers().call("signing", _SERVICE + method, message, response_type)

    async def answer(method: str, message, response_type, field: str, media_type: str,
                     cache: str = "no-cache") -> Response:
        try:
            reply = await call(method, message, response_type)
        except grpc.RpcError as exc:
            return rpc_error_response(exc, current_trace_id())
        return Response(getattr(reply, field), media_type=media_type, headers={"Cache-Control": cache})

    async def ocsp_post(request: Request) -> Response:
        body = await _body(request)
        if isinstance(body, Response):
            return body
        return await answer("RespondOcsp", pb.RespondOcspRequest(request=body), pb.RespondOcspResponse,
                            "response", "application/ocsp-response")

    async def ocsp_get(request: Request) -> Response:
        # The raw path: '+' and '/' of the base64 may arrive encoded or not, and must stay what they are.
        raw = request.scope.get("raw_path", request.url.path.encode()).decode("latin-1")
        encoded = urllib.parse.unquote(raw[len(OCSP_PATH) + 1:])
        try:
            der = base64.b64decode(encoded, validate=True)
        except (binascii.Error, ValueError):
            der = b""  # answered by the responder as malformedRequest, as RFC 6960 wants
        return await answer("RespondOcsp", pb.RespondOcspRequest(request=der), pb.RespondOcspResponse,
                            "response", "application/ocsp-response")

    def crl(authority: int):
        async def handler(_request: Request) -> Response:
            return await answer("GetCrl", pb.GetCrlRequest(authority=authority), pb.GetCrlResponse,
                                "crl", "application/pkix-crl")
        return handler

    def certificate(authority: int):
        async def handler(_request: Request) -> Response:
            return await answer("GetCaCertificate", pb.GetCaCertificateRequest(authority=authority),
                                pb.GetCaCertificateResponse, "certificate", "application/pkix-cert",
                                cache="public, max-age=86400")
        return handler

    async def tsa(request: Request) -> Response:
        content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if content_type != "application/timestamp-query":
            return Response("expected Content-Type: application/timestamp-query\n", status_code=415,
                            media_type="text/plain")
        body = await _body(request)
        if isinstance(body, Response):
            return body
        return await answer("RespondTimestamp", pb.RespondTimestampRequest(request=body),
                            pb.RespondTimestampResponse, "response", "application/timestamp-reply")

    root, issuing = pb.CERTIFICATE_AUTHORITY_ROOT, pb.CERTIFICATE_AUTHORITY_ISSUING
    return [
        Route(OCSP_PATH, ocsp_post, methods=["POST"]),
        Route(OCSP_PATH + "/{encoded:path}", ocsp_get, methods=["GET"]),
        Route(ROOT_CRL_PATH, crl(root), methods=["GET"]),
        Route(ISSUING_CRL_PATH, crl(issuing), methods=["GET"]),
        Route(ROOT_CERT_PATH, certificate(root), methods=["GET"]),
        Route(ISSUING_CERT_PATH, certificate(issuing), methods=["GET"]),
        Route(TSA_PATH, tsa, methods=["POST"]),
    ]


async def _body(request: Request) -> bytes | Response:
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_REQUEST:
            return Response(f"request body is larger than {MAX_REQUEST} bytes\n", status_code=413,
                            media_type="text/plain")
        chunks.append(chunk)
    return b"".join(chunks)
