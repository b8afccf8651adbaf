"""The signing pages in headless Debian Chromium, driven by Playwright, against an
in-process mesh of their own (own ports, schemas and Redis keys).

Playwright never downloads a browser: Debian's ``chromium`` is used, and without it these
tests fail (not skip), saying what to install. Screenshots go to
``test-artifacts/browser/pages/``.
"""
from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest

from core.masterkey import load_master_key
from services.identity.apps import SCOPES, Apps
from tests.conftest import make_platform_env
from tests.fixtures.docx_fixtures import loan_contract_docx_bytes
from tests.integration.contract.helpers import approved_template
from tests.support.browser import ARTIFACTS, Screens, launch_chromium
from tests.support.mesh import Mesh, start_mesh
from tests.support.signed import AppClients, SignedClient

BUSINESS_SCOPES = [s for s in SCOPES if s != "template:review"]
PC = {"viewport": {"width": 1366, "height": 900}}
PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True, "device_scale_factor": 2,
         "user_agent": "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 "
                       "(KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1"}


@dataclass(frozen=True)
class BusinessLine:
    client: SignedClient
    template_id: str


@pytest.fixture(scope="session")
def signing_mesh(tmp_path_factory, run_id, use_postgres) -> Iterator[Mesh]:
    env = make_platform_env(tmp_path_factory.mktemp("signing-pages-var"), run_id + "s", use_postgres)
    running = start_mesh(env)
    yield running
    running.stop()


@pytest.fixture(scope="session")
def registry(signing_mesh) -> Apps:
    ctx = signing_mesh.contexts["identity"]
    return Apps(ctx.sessions, load_master_key(ctx.settings))


@pytest.fixture(scope="session")
def reviewer(signing_mesh, registry) -> Iterator[SignedClient]:
    created = registry.create("pages-legal", ["template:read", "template:review"])
    client = SignedClient(signing_mesh.base_url, created.app.app_id, created.secret, timeout=120.0)
    yield client
    client.close()


@pytest.fixture(scope="session")
def template_docx() -> bytes:
    return loan_contract_docx_bytes()


@pytest.fixture
def business_line(signing_mesh, registry, reviewer, template_docx) -> Iterator[Callable[..., BusinessLine]]:
    """``business_line(signing_page=..., intent_policy=...)``: an app of its own with an approved loan template."""
    clients = AppClients(signing_mesh.base_url, registry, timeout=120.0)

    def make(signing_page: dict | None = None, intent_policy: dict | None = None) -> BusinessLine:
        client = clients.new("pages-business", BUSINESS_SCOPES)
        settings = {k: v for k, v in (("signingPage", signing_page), ("intentPolicy", intent_policy)) if v}
        if settings:
            reply = client.request("PATCH", "/v1/apps/self", settings)
            assert reply.status_code == 200, reply.text
        return BusinessLine(client, approved_template(client, reviewer, template_docx)["templateId"])

    yield make
    clients.close()


@pytest.fixture(scope="module")
def chromium_browser():
    yield from launch_chromium()


@pytest.fixture
def open_page(chromium_browser) -> Iterator[Callable[..., object]]:
    """``open_page(phone=False)``: a page in a fresh browser context (own cookies), PC or phone sized."""
    contexts = []

    def make(phone: bool = False):
        context = chromium_browser.new_context(**(PHONE if phone else PC), locale="zh-CN")
        contexts.append(context)
        return context.new_page()

    yield make
    for context in contexts:
        context.close()


@pytest.fixture
def shot(request) -> Screens:
    return Screens(request.node.name, ARTIFACTS / "pages")
