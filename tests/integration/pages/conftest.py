"""The signing pages over plain HTTP against the session's in-process mesh. Each test gets
a business line of its own (so its page settings are its own) with an approved loan
template."""
from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest

from services.identity.apps import SCOPES
from tests.fixtures.docx_fixtures import loan_contract_docx_bytes
from tests.integration.contract.helpers import approved_template
from tests.support.signed import AppClients, SignedClient

BUSINESS_SCOPES = [s for s in SCOPES if s != "template:review"]


@dataclass(frozen=True)
class BusinessLine:
    client: SignedClient
    template_id: str


@pytest.fixture(scope="package")
def reviewer(mesh, apps) -> Iterator[SignedClient]:
    created = apps.create("pages-legal", ["template:read", "template:review"])
    client = SignedClient(mesh.base_url, created.app.app_id, created.secret, timeout=120.0)
    yield client
    client.close()


@pytest.fixture
def business_line(mesh, apps, reviewer) -> Iterator[Callable[..., BusinessLine]]:
    clients = AppClients(mesh.base_url, apps, timeout=120.0)

    def make(signing_page: dict | None = None, intent_policy: dict | None = None) -> BusinessLine:
        client = clients.new("pages-business", BUSINESS_SCOPES)
        settings = {k: v for k, v in (("signingPage", signing_page), ("intentPolicy", intent_policy)) if v}
        if settings:
            reply = client.request("PATCH", "/v1/apps/self", settings)
            assert reply.status_code == 200, reply.text
        template = approved_template(client, reviewer, loan_contract_docx_bytes())
        return BusinessLine(client, template["templateId"])

    yield make
    clients.close()
