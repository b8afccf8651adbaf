"""How the pages call the services: the gateway's channels, a deadline on every call, and
the metadata the services read to know who acts.

The caller named in ``x-app-id`` is the business line that owns the contract (from the
resolved link), so the services apply the same ownership rules as for its REST calls; the
signer's address and browser go along for the audit trail. The app's secret is never
involved: the link token, spent when the page session opened, is the signer's authority.
"""
from __future__ import annotations

from dataclasses import dataclass

from core.rpc.client import AsyncPeers


@dataclass(frozen=True)
class Client:
    """The signer's browser as the gateway sees it."""

    ip: str
    user_agent: str


def method_path(service: str, method: str) -> str:
    return f"/econtract.{service}.v1.{service.capitalize()}Service/{method}"


class Rpc:
    def __init__(self, peers: AsyncPeers, slow_timeout: float):
        self._peers = peers
        self._slow_timeout = slow_timeout

    async def call(self, service: str, method: str, request, response_type, *, client: Client, app_id: str = "",
                   slow: bool = False, idempotent: bool = True):
        """``slow`` for signatures and renders; a call that is not ``idempotent`` is never retried."""
        metadata = {"x-client-ip": client.ip, "x-user-agent": client.user_agent[:512]}
        if app_id:
            metadata["x-app-id"] = app_id
        return await self._peers.call(service, method_path(service, method), request, response_type,
                                      timeout=self._slow_timeout if slow else None, idempotent=idempotent,
                                      metadata=metadata)
