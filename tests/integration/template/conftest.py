"""Apps with the roles a template's life needs, and a gRPC stub for internal RPCs.

Everything runs against the session's in-process mesh (tests/integration/conftest.py):
business-line calls go through the REST gateway, signed; internal RPCs go over gRPC.
"""
from __future__ import annotations

from collections.abc import Iterator

import grpc
import pytest

from tests.support.signed import SignedClient


def _client(mesh, apps, name: str, scopes: list[str]) -> SignedClient:
    created = apps.create(name, scopes)
    return SignedClient(mesh.base_url, created.app.app_id, created.secret, timeout=60.0)


@pytest.fixture(scope="session")
def uploader(mesh, apps) -> Iterator[SignedClient]:
    """Operations staff: upload templates and versions, no review rights."""
    client = _client(mesh, apps, "template-ops", ["template:read", "template:write"])
    yield client
    client.close()


@pytest.fixture(scope="session")
def reviewer(mesh, apps) -> Iterator[SignedClient]:
    """Legal: reviews versions, uploads nothing."""
    client = _client(mesh, apps, "template-legal", ["template:read", "template:review"])
    yield client
    client.close()


@pytest.fixture(scope="session")
def reviewing_uploader(mesh, apps) -> Iterator[SignedClient]:
    """An app holding both rights, to prove it still cannot approve its own upload."""
    client = _client(mesh, apps, "template-both", ["template:read", "template:write", "template:review"])
    yield client
    client.close()


@pytest.fixture(scope="session")
def template_stub(mesh):
    from econtract.template.v1 import template_pb2_grpc

    channel = grpc.insecure_channel(mesh.env["TEMPLATE_ADDR"])
    yield template_pb2_grpc.TemplateServiceStub(channel)
    channel.close()
