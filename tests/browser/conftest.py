"""Headless Debian Chromium driven by Playwright against an in-process mesh of its own.

The browser is Debian's ``chromium`` (``scripts/apt-packages.txt``); Playwright never
downloads one. Without it these tests fail, saying what to install. Screenshots go to
``test-artifacts/browser/``.
"""
from __future__ import annotations

import re
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from gateway.console.users import create_user
from tests.conftest import make_platform_env
from tests.support.mesh import Mesh, start_mesh

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "browser"


@dataclass(frozen=True)
class Person:
    name: str
    password: str
    role: str


@pytest.fixture(scope="session")
def console_mesh(tmp_path_factory, run_id, use_postgres) -> Iterator[Mesh]:
    """A mesh of its own (own ports, schemas and keys), so it can run beside the integration one."""
    env = make_platform_env(tmp_path_factory.mktemp("browser-var"), run_id + "b", use_postgres)
    running = start_mesh(env)
    yield running
    running.stop()


@pytest.fixture(scope="session")
def people(console_mesh) -> dict[str, Person]:
    """Console users made the way ``econtract users create`` makes them."""
    settings = console_mesh.settings("gateway")
    made = {}
    for key, role in (("operator", "operator"), ("reviewer", "reviewer"), ("admin", "admin"), ("locked", "operator")):
        name = f"{key}-{secrets.token_hex(3)}"
        password = secrets.token_urlsafe(16)
        create_user(settings, name, role, password, display_name=key.title())
        made[key] = Person(name, password, role)
    return made


@pytest.fixture(scope="module")
def chromium():
    # Module scope: while Playwright's sync API is open, its event loop counts as running in
    # this thread, so later tests calling asyncio.run (pyHanko) would fail if it stayed open.
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.fail("Playwright for Python is missing: install the project's test extra (pip install -e '.[test]')")
    if not CHROMIUM.exists():
        pytest.fail(f"Debian's chromium is missing at {CHROMIUM}: run `apt-get install -y chromium` (make setup does)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


class Screens:
    """Numbered screenshots of one test under test-artifacts/browser/."""

    def __init__(self, test_name: str):
        self.stem = re.sub(r"[^A-Za-z0-9_.-]+", "-", test_name)
        self.count = 0
        ARTIFACTS.mkdir(parents=True, exist_ok=True)

    def __call__(self, page, step: str) -> Path:
        self.count += 1
        path = ARTIFACTS / f"{self.stem}-{self.count:02d}-{step}.png"
        page.screenshot(path=str(path), full_page=True)
        return path


@pytest.fixture
def shot(request) -> Screens:
    return Screens(request.node.name)


@pytest.fixture
def new_page(chromium, console_mesh):
    """``new_page()``: a page in a fresh browser context (own cookies), at the console's origin."""
    contexts = []

    def make():
        context = chromium.new_context(base_url=console_mesh.base_url, viewport={"width": 1280, "height": 900})
        contexts.append(context)
        return context.new_page()

    yield make
    for context in contexts:
        context.close()
