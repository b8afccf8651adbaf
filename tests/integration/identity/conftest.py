"""Real Redis on 127.0.0.1:6379 and a scripted HTTP provider on loopback.

Each test gets its own key namespace and deletes only its own keys afterwards (never
FLUSHDB: other tests and people share this Redis).
"""
from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import redis


@pytest.fixture
def redis_client() -> Iterator[redis.Redis]:
    client = redis.Redis(host="127.0.0.1", port=6379, socket_timeout=5, max_connections=100)
    client.ping()
    yield client
    client.close()


@pytest.fixture
def namespace(redis_client: redis.Redis) -> Iterator[str]:
    ns = f"test:identity:{uuid.uuid4().hex}"
    yield ns
    keys = list(redis_client.scan_iter(match=f"{ns}:*", count=500))
    if keys:
        redis_client.delete(*keys)


@dataclass
class Recorded:
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class ScriptedProvider:
    """Answers POSTs from a queue of (status, JSON or raw bytes[, delay seconds]); the
    last answer repeats."""

    url: str
    answers: list[tuple[Any, ...]] = field(default_factory=list)
    requests: list[Recorded] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def next_answer(self) -> tuple[Any, ...]:
        with self.lock:
            return self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]


@pytest.fixture
def provider() -> Iterator[ScriptedProvider]:
    scripted = ScriptedProvider(url="")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            scripted.requests.append(Recorded(self.path, dict(self.headers.items()), body))
            status, answer, *delay = scripted.next_answer()
            if delay:
                time.sleep(delay[0])
            raw = answer if isinstance(answer, bytes) else json.dumps(answer).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(raw)))
            self.end_headers()
            self.wfile.write(raw)

        def log_message(self, format: str, *args: Any) -> None:  # keep test output clean
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    scripted.url = f"http://127.0.0.1:{server.server_address[1]}"
    yield scripted
    server.shutdown()
    server.server_close()
    thread.join(5)


# -- the identity service over gRPC and REST, next to the session mesh -------------------


@pytest.fixture(scope="session")
def identity_stub(mesh):
    import grpc

    from econtract.identity.v1 import identity_pb2_grpc

    channel = grpc.insecure_channel(mesh.env["IDENTITY_ADDR"])
    yield identity_pb2_grpc.IdentityServiceStub(channel)
    channel.close()


@pytest.fixture(scope="session")
def fake_contract():
    from tests.integration.identity.platform import start_fake_contract

    fake = start_fake_contract()
    yield fake
    fake.stop()


@pytest.fixture(scope="session")
def dev_identity(mesh, fake_contract):
    """A dev-mode identity server whose contract peer is the stand-in."""
    from services.identity.config import IdentityConfig
    from tests.integration.identity.platform import start_identity

    server = start_identity(mesh.env, IdentityConfig(), CONTRACT_ADDR=fake_contract.address)
    yield server
    server.stop()


@pytest.fixture(scope="session")
def prod_identity(mesh, fake_contract):
    """A non-dev identity server (no senders, no fake face verifier, no outbox)."""
    from services.identity.config import IdentityConfig
    from tests.integration.identity.platform import start_identity

    server = start_identity(mesh.env, IdentityConfig(), ECONTRACT_ENV="prod", CONTRACT_ADDR=fake_contract.address)
    yield server
    server.stop()


@pytest.fixture(scope="session")
def dev_gateway(dev_identity):
    from tests.integration.identity.platform import start_gateway

    gateway = start_gateway(dev_identity.env)
    yield gateway
    gateway.stop()


@pytest.fixture(scope="session")
def prod_gateway(prod_identity):
    from tests.integration.identity.platform import start_gateway

    gateway = start_gateway(prod_identity.env)
    yield gateway
    gateway.stop()


@dataclass
class BusinessLine:
    app_id: str
    secret: str

    @property
    def metadata(self) -> list[tuple[str, str]]:
        return [("x-app-id", self.app_id)]

    def rest(self, base_url: str):
        from tests.support.signed import SignedClient

        return SignedClient(base_url, self.app_id, self.secret)


@pytest.fixture
def business_line(apps) -> BusinessLine:
    """A fresh app with every scope, so settings one test makes do not leak into another."""
    from services.identity.apps import SCOPES

    created = apps.create("identity-test", SCOPES)
    return BusinessLine(created.app.app_id, created.secret)
