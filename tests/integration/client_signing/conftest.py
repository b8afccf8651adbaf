"""Client-side signing through REST against the session mesh's real services: business
lines as signed REST clients, an outside CA made by the test with its CRL served locally."""
from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from services.identity.apps import SCOPES
from tests.fixtures.docx_fixtures import loan_contract_docx_bytes
from tests.integration.client_signing.outside_ca import CrlServer, OutsideCa
from tests.integration.contract.helpers import approved_template
from tests.support.pdfsig import require_pdfsig
from tests.support.signed import AppClients, SignedClient

BUSINESS_SCOPES = [s for s in SCOPES if s != "template:review"]
BORROWER_ONLY = [{"role": "borrower", "kind": "PERSON", "positions": [{"page": 3, "x": 400, "y": 120}]}]


@pytest.fixture(scope="package")
def crl_server() -> Iterator[CrlServer]:
    server = CrlServer()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def pdfsig_tools() -> None:
    """Skips a test that checks with poppler's pdfsig when it or NSS's certutil is missing."""
    require_pdfsig()


@pytest.fixture(scope="package")
def outside_ca(crl_server) -> OutsideCa:
    ca = OutsideCa(crl_url=crl_server.url)
    crl_server.ca = ca
    return ca


@pytest.fixture(scope="package")
def new_app(mesh, apps) -> Iterator[Callable[..., SignedClient]]:
    clients = AppClients(mesh.base_url, apps)

    def make(name: str, scopes: list[str] | None = None) -> SignedClient:
        return clients.new(name, scopes or BUSINESS_SCOPES)

    yield make
    clients.close()


@pytest.fixture(scope="package")
def business(new_app, outside_ca) -> SignedClient:
    """A business line that registered the outside CA as a trust anchor."""
    client = new_app("client-signing")
    reply = client.request("PATCH", "/v1/apps/self", {"trustAnchors": [outside_ca.root_pem]})
    assert reply.status_code == 200, reply.text
    return client


@pytest.fixture(scope="package")
def reviewer(new_app) -> SignedClient:
    return new_app("client-signing-legal", ["template:read", "template:review"])


@pytest.fixture(scope="package")
def loan_template(business, reviewer) -> dict:
    return approved_template(business, reviewer, loan_contract_docx_bytes())


@pytest.fixture(scope="package")
def borrower_template(business, reviewer) -> dict:
    return approved_template(business, reviewer, loan_contract_docx_bytes(), roles=BORROWER_ONLY)
