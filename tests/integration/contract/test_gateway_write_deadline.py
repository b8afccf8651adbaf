"""A write through REST waits as long as the work behind it may take (rendering, signing),
not the short deadline of reads: a slow render still creates the contract."""
from __future__ import annotations

import os
import secrets
import signal
import threading

import pytest

from core.settings import load
from tests.conftest import free_port
from tests.integration.contract.helpers import contract_body, error, loan_data, ok
from tests.support.mesh import start_gateway
from tests.support.processes import descendants, process_table
from tests.support.signed import SignedClient


def _soffices() -> list[int]:
    """LibreOffice processes started by this test process (the mesh's converter workers)."""
    return [p.pid for p in descendants(process_table(), os.getpid()) if p.name == "soffice.bin"]


@pytest.fixture
def gateway_with(mesh, business):
    """A second gateway on the same services, with its own deadlines, and a client of it."""
    started = []

    def start(**env: str) -> SignedClient:
        settings = load("gateway", {**mesh.env, "GATEWAY_ADDR": f"127.0.0.1:{free_port()}", **env})
        server, thread = start_gateway(settings, mesh.provider)
        started.append((server, thread))
        return SignedClient("http://" + settings.address, business.app_id, business.secret, timeout=60)

    yield start
    for server, thread in started:
        server.should_exit = True
        thread.join(10)


def _create_while_conversions_pause(client: SignedClient, template_id: str, seconds: float):
    """POST /v1/contracts while every converter is stopped for ``seconds`` (fresh data: no cache)."""
    paused = _soffices()
    assert paused, "the mesh's converter workers are running"
    for pid in paused:
        os.kill(pid, signal.SIGSTOP)
    timer = threading.Timer(seconds, lambda: [os.kill(pid, signal.SIGCONT) for pid in paused])
    timer.start()
    try:
        data = {**loan_data(), "contract_no": "DL-" + secrets.token_hex(4)}
        return client.post("/v1/contracts", contract_body(template_id, data=data))
    finally:
        timer.join()


def test_a_slow_render_outlasts_the_read_deadline(gateway_with, template):
    client = gateway_with(ECONTRACT_CALL_TIMEOUT="1")
    created = ok(_create_while_conversions_pause(client, template["templateId"], 2.5))
    assert created["contractId"] and created["status"] not in ("", "STATUS_UNSPECIFIED"), created


def test_the_write_deadline_is_the_gateways_own_setting(gateway_with, template):
    client = gateway_with(ECONTRACT_CALL_TIMEOUT="30", ECONTRACT_GATEWAY_WRITE_TIMEOUT="1")
    refused = _create_while_conversions_pause(client, template["templateId"], 2.5)
    error(refused, 504, 4)
