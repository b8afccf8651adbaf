"""Console users on the session's mesh, and an HTTP client that uses the console as a
browser would: a cookie jar, forms with their CSRF token, redirects seen one at a time."""
from __future__ import annotations

import re
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import httpx
import pytest

from core.settings import load
from gateway.console.users import User, create_user
from tests.conftest import free_port
from tests.support.mesh import start_gateway

_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
_FLASH = re.compile(r'data-testid="flash">\s*<p>(.*?)</p>', re.S)


@dataclass(frozen=True)
class Person:
    user: User
    password: str

    @property
    def name(self) -> str:
        return self.user.name


class ConsoleClient:
    def __init__(self, base_url: str):
        self.http = httpx.Client(base_url=base_url, timeout=120.0)

    def get(self, path: str, **kw) -> httpx.Response:
        return self.http.get(path, **kw)

    def open(self, path: str) -> httpx.Response:
        """GET and follow redirects, as a browser shows a page."""
        return self.http.get(path, follow_redirects=True)

    def token(self) -> str:
        found = _CSRF.search(self.open("/console/login").text)
        assert found, "no CSRF token on the page"
        return found.group(1)

    def post(self, path: str, data: dict | None = None, files=None, *, csrf: bool = True) -> httpx.Response:
        fields = dict(data or {})
        if csrf:
            fields["csrf_token"] = self.token()
        return self.http.post(path, data=fields, files=files)

    def login(self, name: str, password: str) -> httpx.Response:
        return self.post("/console/login", {"name": name, "password": password})

    def close(self) -> None:
        self.http.close()


def flash_of(page: httpx.Response) -> str:
    found = _FLASH.search(page.text)
    return found.group(1).strip() if found else ""


def make_person(settings, role: str, label: str = "") -> Person:
    password = secrets.token_urlsafe(16)
    created = create_user(settings, f"{role}-{secrets.token_hex(4)}", role, password, display_name=label or role.title())
    return Person(created.user, password)


@pytest.fixture(scope="session")
def people(mesh) -> dict[str, Person]:
    settings = mesh.settings("gateway")
    return {role: make_person(settings, role) for role in ("operator", "reviewer", "admin")}


@pytest.fixture
def browser(mesh) -> Iterator[ConsoleClient]:
    client = ConsoleClient(mesh.base_url)
    yield client
    client.close()


@pytest.fixture(scope="module")
def console_as(mesh):
    """``console_as(person)``: a client logged in as that console user."""
    clients = []

    def login(person: Person) -> ConsoleClient:
        client = ConsoleClient(mesh.base_url)
        clients.append(client)
        reply = client.login(person.name, person.password)
        assert reply.status_code == 303 and reply.headers["location"] == "/console/", reply.text
        return client

    yield login
    for client in clients:
        client.close()


@contextmanager
def gateway(mesh, monkeypatch, console_env: dict[str, str], **settings_env: str):
    """Another gateway on the session's mesh and database, with console settings of its own."""
    for name, value in console_env.items():
        monkeypatch.setenv(name, value)
    env = {**mesh.env, "GATEWAY_ADDR": f"127.0.0.1:{free_port()}", **settings_env}
    server, thread = start_gateway(load("gateway", env), None)
    client = ConsoleClient("http://" + env["GATEWAY_ADDR"])
    try:
        yield client
    finally:
        client.close()
        server.should_exit = True
        thread.join(10)
