"""The contract service under test: the session mesh's contract server replaced (same
address, so the gateway and identity reach it) by one with fast webhook and sweep
timings that signs through a stand-in signing service; restored afterwards.

Business-line calls go through the REST gateway, signed; internal RPCs over gRPC.
"""
from __future__ import annotations

from collections.abc import Callable, Iterator

import grpc
import pytest

from core.blobs import BlobStore
from services.contract.config import ContractConfig
from services.identity.apps import SCOPES
from tests.fixtures.docx_fixtures import loan_contract_docx_bytes
from tests.integration.contract.fake_signing import RunningFake, start_fake_signing
from tests.integration.contract.helpers import ContractServer, approved_template
from tests.support.signed import AppClients, SignedClient

TEST_CONFIG = ContractConfig(
    webhook_allow_private=True,
    webhook_timeout=5.0,
    webhook_poll_seconds=0.1,
    webhook_backoff_seconds=0.3,
    webhook_backoff_max_seconds=1.0,
    webhook_give_up_hours=1.0,
    sign_url_ttl=600,
    sweep_seconds=0.5,
)
BUSINESS_SCOPES = [s for s in SCOPES if s != "template:review"]


@pytest.fixture(scope="package")
def fake_signing(mesh) -> Iterator[RunningFake]:
    fake = start_fake_signing(BlobStore(mesh.settings("contract").blob_dir))
    yield fake
    fake.stop()


@pytest.fixture(scope="package")
def contract_server(mesh, fake_signing) -> Iterator[ContractServer]:
    server = ContractServer(mesh)
    server.restart(signing_addr=fake_signing.address, config=TEST_CONFIG)
    yield server
    server.restart()  # the mesh's own again: real signing, configuration from the environment


@pytest.fixture(scope="package")
def new_app(mesh, apps, contract_server) -> Iterator[Callable[..., SignedClient]]:
    """Makes business-line clients (one app each, so webhook URLs and visibility are their own)."""
    clients = AppClients(mesh.base_url, apps)

    def make(name: str = "contracts", scopes: list[str] | None = None) -> SignedClient:
        return clients.new(name, scopes or BUSINESS_SCOPES)

    yield make
    clients.close()


@pytest.fixture(scope="package")
def business(new_app) -> SignedClient:
    return new_app("loans-business")


@pytest.fixture(scope="package")
def reviewer(new_app) -> SignedClient:
    return new_app("legal", ["template:read", "template:review"])


@pytest.fixture(scope="package")
def template(business, reviewer) -> dict:
    """The three-page loan template, approved: lender (ORG, keyword) and borrower (PERSON, page 3)."""
    return approved_template(business, reviewer, loan_contract_docx_bytes())


@pytest.fixture(scope="package")
def contract_stub(mesh, contract_server):
    from econtract.contract.v1 import contract_pb2_grpc

    channel = grpc.insecure_channel(mesh.env["CONTRACT_ADDR"])
    yield contract_pb2_grpc.ContractServiceStub(channel)
    channel.close()
