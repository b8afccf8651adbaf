"""Opening a signing link: the contract service resolves (and thereby spends) the token."""
from __future__ import annotations

import re
from dataclasses import dataclass

import grpc

from gateway.pages.problems import PageRefusal
from gateway.pages.rpc import Client, Rpc

# What ``:signUrl`` makes: 32 random bytes, URL-safe base64 (43 characters).
_TOKEN = re.compile(r"^[A-Za-z0-9_-]{20,128}$")


@dataclass(frozen=True)
class Link:
    contract_id: str
    signer_id: str
    app_id: str
    source: str  # PC | H5
    scene: str  # NORMAL | HEADLESS
    redirect_url: str


def unusable(kind: str) -> PageRefusal:
    """``kind``: used, expired or unknown; 410 Gone for a link that once worked."""
    code = grpc.StatusCode.NOT_FOUND if kind == "unknown" else grpc.StatusCode.FAILED_PRECONDITION
    return PageRefusal(f"link.{kind}", code, body=f"link.{kind}.body", http=404 if kind == "unknown" else 410)


def well_formed(token: str) -> bool:
    return bool(_TOKEN.match(token))


async def resolve(rpc: Rpc, token: str, client: Client) -> Link:
    from econtract.contract.v1 import contract_pb2 as pb

    if not well_formed(token):
        raise unusable("unknown")
    try:
        reply = await rpc.call("contract", "ResolveSignUrl", pb.ResolveSignUrlRequest(token=token),
                               pb.ResolveSignUrlResponse, client=client, idempotent=False)
    except grpc.RpcError as exc:
        if exc.code() == grpc.StatusCode.NOT_FOUND:
            raise unusable("unknown") from None
        if exc.code() == grpc.StatusCode.FAILED_PRECONDITION:
            # The contract service words the two cases differently (services/contract/sign_urls.py).
            raise unusable("used" if "already used" in (exc.details() or "") else "expired") from None
        raise
    return Link(
        contract_id=reply.contract_id,
        signer_id=reply.signer_id,
        app_id=reply.app_id,
        source=pb.SignPageSource.Name(reply.source) if reply.source else "PC",
        scene=pb.SignPageScene.Name(reply.scene) if reply.scene else "NORMAL",
        redirect_url=reply.redirect_url,
    )
