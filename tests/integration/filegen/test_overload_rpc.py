"""An overloaded filegen answers at once with RESOURCE_EXHAUSTED, over gRPC, instead of
letting callers wait until their deadline."""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import grpc
import pytest

from core.service import ServiceContext, start
from core.settings import load
from econtract.filegen.v1 import filegen_pb2_grpc
from services.filegen.server import register
from tests.conftest import free_port
from tests.fixtures.docx_fixtures import loan_contract_data, loan_contract_docx_bytes
from tests.integration.filegen.test_filegen_rpc import _render


@pytest.fixture(scope="module")
def small_filegen(mesh):
    """One LibreOffice worker and four handler threads: the queue takes the one thread left."""
    env = {**mesh.env, "FILEGEN_ADDR": f"127.0.0.1:{free_port()}", "ECONTRACT_RPC_WORKERS": "4"}
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("FILEGEN_CONVERT_WORKERS", "1")
        patch.delenv("FILEGEN_CONVERT_QUEUE", raising=False)
        ctx = ServiceContext(load("filegen", env), mesh.provider)
        running = start(ctx, register)
    channel = grpc.insecure_channel(env["FILEGEN_ADDR"])
    yield filegen_pb2_grpc.FilegenServiceStub(channel)
    channel.close()
    running.stop()
    ctx.close()


def test_callers_beyond_the_workers_and_queue_are_refused_at_once(small_filegen):
    docx = loan_contract_docx_bytes()
    _render(small_filegen, docx, {**loan_contract_data(), "contract_no": "WARM"})  # the worker is up

    def call(n: int):
        try:
            reply = _render(small_filegen, docx, {**loan_contract_data(), "contract_no": f"OVER-{n}"})
            return "OK", reply.page_count
        except grpc.RpcError as error:
            return error.code().name, error.details()

    with ThreadPoolExecutor(12) as callers:
        outcomes = list(callers.map(call, range(12)))
    codes = [code for code, _ in outcomes]
    assert set(codes) <= {"OK", "RESOURCE_EXHAUSTED"}, outcomes  # nobody waited out a deadline
    assert codes.count("RESOURCE_EXHAUSTED") >= 1 and codes.count("OK") >= 2, outcomes
    assert all(pages == 3 for code, pages in outcomes if code == "OK")
    refusals = {detail for code, detail in outcomes if code == "RESOURCE_EXHAUSTED"}
    assert all("queue is full" in d or "Concurrent RPC limit" in d for d in refusals), refusals
    # Once the burst is over the service works as before.
    assert _render(small_filegen, docx, {**loan_contract_data(), "contract_no": "AFTER"}).page_count == 3
