"""Calls to the services in a console user's name.

The user is forwarded exactly as the gateway forwards a business-line app (``x-app-id``,
``x-app-scopes``, client address and user agent), with ``console:<user id>`` as the app
id, so what the services enforce and record (e.g. an uploader cannot approve) holds for
console users as well.
"""
from __future__ import annotations

import importlib
from functools import cache

from google.protobuf import message_factory

from core.rpc.client import AsyncPeers
from gateway.console.roles import scopes_of
from gateway.console.users import User
from gateway.routes import SERVICE_MODULES


@cache
def _method(service: str, name: str):
    module = importlib.import_module(SERVICE_MODULES[service])
    (described,) = module.DESCRIPTOR.services_by_name.values()
    return described.methods_by_name.get(name)


class ConsoleRpc:
    def __init__(self, peers: AsyncPeers, user: User, client_ip: str, user_agent: str):
        self._peers = peers
        self._metadata = {
            "x-app-id": user.caller_id,
            "x-app-scopes": ",".join(scopes_of(user.role)),
            "x-client-ip": client_ip,
        }
        if user_agent:
            self._metadata["x-user-agent"] = user_agent[:512]

    async def call(self, service: str, name: str, request, *, read: bool = True, timeout: float | None = None):
        """``read`` calls may be retried when the service was unreachable; changes never are."""
        method = _method(service, name)
        if method is None:
            raise LookupError(f"{service} has no RPC {name}")
        return await self._peers.call(
            service,
            f"/{method.containing_service.full_name}/{name}",
            request,
            message_factory.GetMessageClass(method.output_type),
            idempotent=read,
            timeout=timeout,
            metadata=self._metadata,
        )
