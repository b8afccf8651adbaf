"""Headless Debian Chromium driven by Playwright against an in-process mesh of its own.

The browser is Debian's ``chromium`` (``scripts/apt-packages.txt``); Playwright never
downloads one. Without it these tests fail, saying what to install. Screenshots go to
``test-artifacts/browser/``.
"""
from __future__ import annotations

import secrets
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from gateway.console.users import create_user
from tests.conftest import make_platform_env
from tests.support.browser import ARTIFACTS, Screens, launch_chromium
from tests.support.mesh import Mesh, start_mesh



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
    yield from launch_chromium()


@pytest.fixture
def shot(request) -> Screens:
    return Screens(request.node.name, ARTIFACTS)


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
