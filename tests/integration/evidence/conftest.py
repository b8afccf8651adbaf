"""Scheduled work and evidence under test: the session mesh's contract service restarted
with fast schedules (replica one, serving RPCs), plus a second replica on the same
database and blob store that runs only the scheduler, so every job has two replicas
competing for it. Business-line calls go through the REST gateway, signed.
"""
from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from core.blobs import BlobStore
from core.service import ServiceContext, start
from core.settings import load
from services.contract.schedule_config import ScheduleConfig
from services.contract.server import ContractParts, register_with
from services.identity.apps import SCOPES
from tests.fixtures.docx_fixtures import loan_contract_docx_bytes
from tests.integration.contract.conftest import TEST_CONFIG
from tests.integration.contract.fake_signing import RunningFake, start_fake_signing
from tests.integration.contract.helpers import ContractServer, approved_template
from tests.integration.contract.test_webhooks import receiver  # noqa: F401 - a fixture
from tests.support.signed import AppClients, SignedClient

BUSINESS_SCOPES = [s for s in SCOPES if s != "template:review"]


def fast_schedule(var_dir: Path) -> ScheduleConfig:
    return ScheduleConfig(
        tick_seconds=0.1, lease_seconds=30.0, reminder_seconds=3.0, reminder_max=2, notice_poll_seconds=0.2,
        delegation_seconds=0.3, evidence_log_seconds=0.5, evidence_sth_seconds=1.0,
        ledger_file=var_dir / "evidence-test-ledger.jsonl",
    )


class Replicas:
    """Replica one: the mesh's contract service, restarted. Replica two: only the scheduler."""

    def __init__(self, mesh):
        self.mesh = mesh
        self.server = ContractServer(mesh)
        self.schedule = fast_schedule(mesh.settings("contract").var_dir)
        self.second: ContractParts | None = None
        self.signing_addr: str | None = None

    def _env(self) -> dict[str, str]:
        env = dict(self.mesh.env)
        if self.signing_addr:
            env["SIGNING_ADDR"] = self.signing_addr
        return env

    def start(self, signing_addr: str | None = None) -> None:
        self.signing_addr = signing_addr
        ctx = ServiceContext(load("contract", self._env()), self.mesh.provider)
        self.mesh.contexts["contract"] = ctx
        self.mesh.servers["contract"] = start(ctx, lambda server, c: register_with(server, c, TEST_CONFIG, self.schedule))
        self.server._wait_until_reachable()
        second = ServiceContext(load("contract", self._env()), self.mesh.provider)
        self.second = ContractParts(second, TEST_CONFIG, self.schedule)
        self.second.scheduler.start()

    def stop(self) -> None:
        if self.second is not None:
            self.second.scheduler.stop()
            self.second.ctx.close()
            self.second = None
        self.server.stop()

    def restart(self, signing_addr: str | None = None) -> None:
        self.stop()
        self.start(signing_addr)

    @contextmanager
    def reconfigured(self, **changes) -> Iterator[None]:
        """Both replicas restarted with ``changes`` to the schedule, then with the schedule
        before, even when the restart or the test fails: an HTTP ledger or a slow cadence
        never reaches the tests that follow."""
        before, signing_addr = self.schedule, self.signing_addr
        self.schedule = replace(before, **changes)
        try:
            self.restart(signing_addr)
            yield
        finally:
            self.schedule = before
            self.restart(signing_addr)

    @property
    def ctx(self) -> ServiceContext:
        return self.mesh.contexts["contract"]


@pytest.fixture(scope="package")
def fake_signing(mesh) -> Iterator[RunningFake]:
    fake = start_fake_signing(BlobStore(mesh.settings("contract").blob_dir))
    yield fake
    fake.stop()


@pytest.fixture(scope="package")
def replicas(mesh, fake_signing) -> Iterator[Replicas]:
    running = Replicas(mesh)
    running.server.stop()
    running.start(fake_signing.address)
    yield running
    try:
        running.stop()
    finally:
        running.server.start()  # the mesh's own again, for the packages that follow


@pytest.fixture(scope="module")
def real_signing(replicas, fake_signing) -> Iterator[None]:
    replicas.restart()  # the mesh's own signing service: real signatures and the platform TSA
    yield
    replicas.restart(fake_signing.address)


@pytest.fixture(scope="package")
def new_app(mesh, apps, replicas) -> Iterator[Callable[..., SignedClient]]:
    clients = AppClients(mesh.base_url, apps)

    def make(name: str = "evidence", scopes: list[str] | None = None) -> SignedClient:
        return clients.new(name, scopes or BUSINESS_SCOPES)

    yield make
    clients.close()


@pytest.fixture(scope="package")
def business(new_app) -> SignedClient:
    return new_app("evidence-business")


@pytest.fixture(scope="package")
def template(business, new_app) -> dict:
    reviewer = new_app("evidence-legal", ["template:read", "template:review"])
    return approved_template(business, reviewer, loan_contract_docx_bytes())


def wait_until(check: Callable[[], object], timeout: float = 20.0, what: str = "the condition") -> object:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


def rfc3339_in(seconds: float) -> str:
    """The time ``seconds`` from now, as REST takes it."""
    return (datetime.now(timezone.utc) + timedelta(seconds=seconds)).isoformat().replace("+00:00", "Z")
