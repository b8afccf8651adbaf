"""``/healthz``: the gateway asks every service's standard health service, in parallel."""
from __future__ import annotations

import asyncio

import grpc
from grpc_health.v1 import health_pb2

from core.rpc.client import AsyncPeers
from core.settings import SERVICES

CHECK = "/grpc.health.v1.Health/Check"


async def _check(peers: AsyncPeers, service: str) -> str:
    try:
        reply = await peers.call(
            service, CHECK, health_pb2.HealthCheckRequest(), health_pb2.HealthCheckResponse, timeout=2.0
        )
    except grpc.RpcError as exc:
        return "UNAVAILABLE" if exc.code() in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED) else exc.code().name
    return health_pb2.HealthCheckResponse.ServingStatus.Name(reply.status)


async def check_all(peers: AsyncPeers) -> dict:
    states = await asyncio.gather(*(_check(peers, service) for service in SERVICES))
    services = dict(zip(SERVICES, states))
    return {"status": "SERVING" if all(s == "SERVING" for s in states) else "DEGRADED", "services": services}
