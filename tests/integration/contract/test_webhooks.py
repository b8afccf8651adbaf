"""Webhooks end to end: a local receiver gets each event once, signed with the app's
secret; a failed delivery is retried; an SSRF target is refused; an event committed just
before the contract service died is delivered by the next one."""
from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest

from services.contract import webhooks
from services.contract.config import ContractConfig
from tests.integration.contract.conftest import TEST_CONFIG
from tests.integration.contract.helpers import create_contract, lender, borrower, ok, sign_as, signer_of
from tests.support.http_receiver import QuietHandler, base_url, local_http_server


@dataclass
class Receiver:
    url: str
    received: list[dict] = field(default_factory=list)
    # Event types to answer 500 on their first delivery.
    fail_first: set[str] = field(default_factory=set)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def events(self) -> list[dict]:
        with self.lock:
            return list(self.received)

    def wait_for(self, count: int, timeout: float = 20.0) -> list[dict]:
        deadline = time.monotonic() + timeout
        while len(self.events()) < count:
            assert time.monotonic() < deadline, f"got {len(self.events())} deliveries, expected {count}"
            time.sleep(0.05)
        return self.events()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with local_http_server() as server:
        state = Receiver(base_url(server) + "/hooks/econtract?tenant=7")

        class Handler(QuietHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                event = json.loads(body)
                with state.lock:
                    failing = event["type"] in state.fail_first
                    state.fail_first.discard(event["type"])
                    state.received.append({"headers": dict(self.headers), "body": body, "event": event,
                                           "answered": 500 if failing else 200, "path": self.path})
                self.answer(500 if failing else 200, b"ok")

        server.RequestHandlerClass = Handler
        yield state


def _valid_signature(client, delivery: dict) -> bool:
    headers = delivery["headers"]
    expected = hmac.new(client.secret.encode(), headers["X-Timestamp"].encode() + b"." + delivery["body"],
                        hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, headers["X-Signature"]) and abs(int(headers["X-Timestamp"]) - time.time()) < 300


def _hooked(new_app, receiver: Receiver):
    client = new_app("webhooks")
    ok(client.request("PATCH", "/v1/apps/self", {"webhookUrl": receiver.url}))
    return client


def test_each_event_once_signed_and_retried_after_a_failure(new_app, template, receiver, contract_server):
    client = _hooked(new_app, receiver)
    receiver.fail_first = {"contract.signed"}
    contract = create_contract(client, template["templateId"])
    sign_as(client, contract, "lender")
    sign_as(client, contract, "borrower")
    # signed (failed, then again), signed, completed
    deliveries = receiver.wait_for(4)
    time.sleep(1.5)  # anything sent twice would show up by now
    deliveries = receiver.events()
    accepted = [d for d in deliveries if d["answered"] == 200]
    by_id: dict[str, list[dict]] = {}
    for d in accepted:
        by_id.setdefault(d["headers"]["X-Event-Id"], []).append(d)
    assert all(len(v) == 1 for v in by_id.values()), "an accepted event was delivered again"
    types = sorted(d["event"]["type"] for d in accepted)
    assert types == ["contract.completed", "contract.signed", "contract.signed"]
    failed = [d for d in deliveries if d["answered"] == 500]
    assert len(failed) == 1
    retried = by_id[failed[0]["headers"]["X-Event-Id"]][0]
    assert retried["body"] == failed[0]["body"]  # the same event, byte for byte
    for d in deliveries:
        assert _valid_signature(client, d)
        assert d["path"] == "/hooks/econtract?tenant=7"
        event = d["event"]
        assert event["eventId"] == d["headers"]["X-Event-Id"] and event["contractId"] == contract["contractId"]
        assert event["bizNo"] == contract["bizNo"] and event["time"].endswith("Z")
    signed = sorted((d["event"] for d in accepted if d["event"]["type"] == "contract.signed"), key=lambda e: e["time"])
    assert [e["signerId"] for e in signed] == [signer_of(contract, "lender")["signerId"], signer_of(contract, "borrower")["signerId"]]
    assert [e["status"] for e in signed] == ["SIGNING", "COMPLETED"]

    log = webhooks.delivery_log(contract_server.ctx.sessions, failed[0]["headers"]["X-Event-Id"])
    assert [(a.attempt, a.outcome, a.status_code) for a in log] == [(1, "HTTP_ERROR", 500), (2, "DELIVERED", 200)]
    assert log[0].address == "127.0.0.1" and "tenant" not in log[0].url
    outbox = webhooks.outbox_of(contract_server.ctx.sessions, contract["contractId"])
    assert {e.status for e in outbox} == {"DELIVERED"}


def test_revoke_and_reject_are_delivered(new_app, template, receiver):
    client = _hooked(new_app, receiver)
    revoked = create_contract(client, template["templateId"])
    ok(client.post(f"/v1/contracts/{revoked['contractId']}:revoke", {"reason": "x"}))
    rejected = create_contract(client, template["templateId"])
    person = signer_of(rejected, "borrower")
    ok(client.post(f"/v1/contracts/{rejected['contractId']}:reject", {"signerId": person["signerId"], "reason": "no"}))
    events = {d["event"]["type"]: d["event"] for d in receiver.wait_for(2)}
    assert events["contract.revoked"]["contractId"] == revoked["contractId"] and events["contract.revoked"]["signerId"] == ""
    assert events["contract.rejected"]["signerId"] == person["signerId"] and events["contract.rejected"]["status"] == "REJECTED"


def test_an_ssrf_target_is_refused(new_app, template, receiver, contract_server, fake_signing):
    strict = ContractConfig(**{**TEST_CONFIG.__dict__, "webhook_allow_private": False})
    contract_server.restart(signing_addr=fake_signing.address, config=strict)
    try:
        client = _hooked(new_app, receiver)
        contract = create_contract(client, template["templateId"])
        ok(client.post(f"/v1/contracts/{contract['contractId']}:revoke", {}))
        sessions = contract_server.ctx.sessions
        deadline = time.monotonic() + 10
        while True:
            [event] = webhooks.outbox_of(sessions, contract["contractId"])
            log = webhooks.delivery_log(sessions, event.event_id)
            if log:
                break
            assert time.monotonic() < deadline
            time.sleep(0.1)
        assert log[0].outcome == "REFUSED" and "loopback" in log[0].error
        assert receiver.events() == []
    finally:
        contract_server.restart(signing_addr=fake_signing.address, config=TEST_CONFIG)


def test_delivered_after_the_service_dies_between_commit_and_delivery(new_app, template, receiver, contract_server,
                                                                      fake_signing):
    # A service whose delivery loop looked once at start-up and then sleeps: it commits
    # the state change and its outbox row, and dies before delivering.
    asleep = ContractConfig(**{**TEST_CONFIG.__dict__, "webhook_poll_seconds": 3600, "sweep_seconds": 3600})
    contract_server.restart(signing_addr=fake_signing.address, config=asleep)
    client = _hooked(new_app, receiver)
    contract = create_contract(client, template["templateId"], signers=[lender(), borrower(order=1)])
    ok(client.post(f"/v1/contracts/{contract['contractId']}:revoke", {"reason": "before the crash"}))
    contract_server.stop()
    [pending] = webhooks.outbox_of(contract_server.ctx.sessions, contract["contractId"])
    assert pending.status == "PENDING" and receiver.events() == []

    contract_server.start(signing_addr=fake_signing.address, config=TEST_CONFIG)
    [delivery] = receiver.wait_for(1)
    assert delivery["event"]["type"] == "contract.revoked" and delivery["headers"]["X-Event-Id"] == pending.event_id
    assert _valid_signature(client, delivery)
    time.sleep(0.5)
    assert len(receiver.events()) == 1


def test_several_replicas_never_deliver_an_event_twice(new_app, receiver, contract_server):
    from services.contract.identity_client import Identity
    from services.contract.model import ContractStatus
    from services.contract.times import utcnow

    client = _hooked(new_app, receiver)
    sessions = contract_server.ctx.sessions
    with sessions.begin() as session:
        ids = [webhooks.enqueue(session, app_id=client.app_id, contract_id="ct_replicas", type=webhooks.SIGNED,
                                biz_no="", status=ContractStatus.SIGNING, now=utcnow(), signer_id=f"sg_{n}")
               for n in range(30)]
    # Two more delivery loops beside the running service's own: three replicas.
    replicas = [webhooks.Deliveries(sessions, Identity(contract_server.ctx.peers), TEST_CONFIG) for _ in range(2)]
    stop = threading.Event()

    def loop(replica) -> None:
        while not stop.is_set():
            replica.run_once()

    threads = [threading.Thread(target=loop, args=(r,)) for r in replicas]
    for thread in threads:
        thread.start()
    try:
        receiver.wait_for(30)
        time.sleep(1)
    finally:
        stop.set()
        for thread in threads:
            thread.join(10)
    got = [d["headers"]["X-Event-Id"] for d in receiver.events()]
    assert sorted(got) == sorted(ids)
    assert {e.status for e in webhooks.outbox_of(sessions, "ct_replicas")} == {"DELIVERED"}


def test_a_batch_reads_each_apps_webhook_url_once(new_app, receiver, contract_server):
    from datetime import timedelta

    from services.contract.identity_client import Identity
    from services.contract.model import ContractStatus
    from services.contract.times import utcnow

    reads: list[str] = []

    class CountingIdentity(Identity):
        def webhook_url(self, app_id: str) -> str:
            reads.append(app_id)
            return super().webhook_url(app_id)

    client = _hooked(new_app, receiver)
    later = utcnow() + timedelta(days=1)  # due only for the replica below, whose clock is that far on
    sessions = contract_server.ctx.sessions
    with sessions.begin() as session:
        ids = [webhooks.enqueue(session, app_id=client.app_id, contract_id="ct_batch", type=webhooks.SIGNED,
                                biz_no="", status=ContractStatus.SIGNING, now=later, signer_id=f"sg_{n}")
               for n in range(6)]
    replica = webhooks.Deliveries(sessions, CountingIdentity(contract_server.ctx.peers), TEST_CONFIG,
                                  clock=lambda: later + timedelta(seconds=1))
    # Events left pending by other tests may be due for this replica too: each app once.
    assert replica.run_once() >= 6
    assert reads.count(client.app_id) == 1 and len(reads) == len(set(reads))
    assert sorted(d["headers"]["X-Event-Id"] for d in receiver.wait_for(6)) == sorted(ids)
