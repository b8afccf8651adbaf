"""The HTTP ledger against a local HTTP server speaking the documented protocol: each
tree head arrives as JSON with its idempotency key and bearer token, refusals are
failures that say why (never with the token), and a contract service configured with
CONTRACT_EVIDENCE_LEDGER=http pushes its signed tree heads there, in order, once each,
again after a refusal, keeping the ledger's receipt."""
from __future__ import annotations

import base64
import hashlib
import io
import json
import threading
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import sqlalchemy as sa

from services.contract import evidence_formats as formats
from services.contract.evidence_store import TreeHeadRow
from services.contract.evidence_verify import check_token
from services.contract.ledger import HttpLedger, LedgerError
from tests.integration.contract.helpers import create_contract, ok, sign_as
from tests.integration.evidence.conftest import wait_until
from tests.support.http_receiver import QuietHandler, base_url, local_http_server

TOKEN = "ledger-bearer-token-7f3a"


@dataclass
class LedgerServer:
    """A ledger that keeps what it is sent and answers by the protocol: one receipt per key."""

    url: str
    received: list[dict] = field(default_factory=list)
    receipts: dict[str, str] = field(default_factory=dict)
    answers: list[tuple[int, bytes, dict]] = field(default_factory=list)  # scripted answers, used first
    lock: threading.Lock = field(default_factory=threading.Lock)

    def heads(self) -> list[dict]:
        with self.lock:
            return [r for r in self.received if r["answered"] in (200, 201)]


@pytest.fixture
def ledger_server() -> Iterator[LedgerServer]:
    with local_http_server() as server:
        state = LedgerServer(base_url(server) + "/ledger/heads?chain=test")

        class Handler(QuietHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                key = self.headers.get("Idempotency-Key", "")
                with state.lock:
                    if state.answers:
                        status, answer, extra = state.answers.pop(0)
                    else:
                        receipt = state.receipts.setdefault(key, f"tx-{len(state.receipts) + 1}")
                        status, answer, extra = 200, json.dumps({"receipt": receipt}).encode(), {}
                    # The headers as received: names match whatever their case, as in HTTP.
                    state.received.append({"path": self.path, "headers": self.headers, "body": body,
                                           "answered": status})
                self.answer(status, answer, extra)

            def do_GET(self) -> None:
                with state.lock:
                    state.received.append({"path": self.path, "headers": self.headers, "body": b"", "answered": 200})
                self.answer(200, b'{"receipt": "from a GET"}')

        server.RequestHandlerClass = Handler
        yield state


def _head(size: int) -> bytes:
    return formats.tree_head_bytes("econtract-evidence-log", size, hashlib.sha256(b"%d" % size).hexdigest(),
                                   datetime(2026, 11, 1, 8, 0, tzinfo=timezone.utc))


def test_each_tree_head_arrives_as_json_with_its_idempotency_key_and_token(ledger_server):
    ledger = HttpLedger(ledger_server.url, token=TOKEN, timeout=10)
    head, token = _head(7), b"\x30\x82 a timestamp token"
    receipt = ledger.publish(7, head, token)
    assert receipt == f"http:{ledger_server.url.split('?')[0]}#tx-1"

    (got,) = ledger_server.received
    assert got["path"] == "/ledger/heads?chain=test"
    assert got["headers"]["Content-Type"] == "application/json"
    assert got["headers"]["Idempotency-Key"] == "econtract-evidence-log:7"
    assert got["headers"]["Authorization"] == f"Bearer {TOKEN}"
    sent = json.loads(got["body"])
    assert got["body"] == formats.canonical_json(sent)
    assert sent == {"version": 1, "logId": "econtract-evidence-log", "treeSize": 7,
                    "rootHash": hashlib.sha256(b"7").hexdigest(), "treeHead": base64.b64encode(head).decode(),
                    "treeHeadSha256": hashlib.sha256(head).hexdigest(), "timestampToken": base64.b64encode(token).decode()}

    # Pushed again (the platform stopped before keeping the receipt): the same key, the same receipt.
    assert ledger.publish(7, head, token) == receipt
    assert ledger_server.received[1]["headers"]["Idempotency-Key"] == "econtract-evidence-log:7"
    assert ledger.publish(8, _head(8), token).endswith("#tx-2")
    HttpLedger(ledger_server.url).publish(9, _head(9), token)  # a ledger that asks for no token gets none
    assert "Authorization" not in ledger_server.received[-1]["headers"]


def test_a_refusal_a_missing_receipt_a_redirect_or_no_answer_is_a_failure_saying_why(ledger_server):
    ledger = HttpLedger(ledger_server.url, token=TOKEN, timeout=10)
    ledger_server.answers += [
        (503, b"busy", {}),
        (200, b'{"ok": true}', {}),
        (200, json.dumps({"receipt": "x" * 501}).encode(), {}),
        (302, b"", {"Location": ledger_server.url.replace("/ledger/heads", "/elsewhere")}),
    ]
    failures = []
    for _ in range(4):
        with pytest.raises(LedgerError) as failed:
            ledger.publish(3, _head(3), b"t")
        failures.append(str(failed.value))
    assert "answered HTTP 503 to tree head 3" in failures[0]
    assert "without a receipt" in failures[1] and "without a receipt" in failures[2]
    assert "answered HTTP 302" in failures[3]
    assert [r["path"] for r in ledger_server.received] == ["/ledger/heads?chain=test"] * 4  # the redirect not followed
    assert all(TOKEN not in f and "chain=test" not in f for f in failures)

    closed = ThreadingHTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler)
    port = closed.server_address[1]
    closed.server_close()
    with pytest.raises(LedgerError, match=f"the ledger at http://127.0.0.1:{port}/heads cannot be reached"):
        HttpLedger(f"http://127.0.0.1:{port}/heads", token=TOKEN, timeout=5).publish(3, _head(3), b"t")


def test_a_service_configured_with_an_http_ledger_pushes_its_tree_heads_there(
        ledger_server, real_signing, replicas, business, template):
    ledger_server.answers.append((503, b"busy", {}))  # the first push is refused, and made again later
    with replicas.reconfigured(ledger="http", ledger_url=ledger_server.url, ledger_token=TOKEN,
                               ledger_timeout_seconds=10.0):
        contract = create_contract(business, template["templateId"])
        sign_as(business, contract, "lender")
        assert sign_as(business, contract, "borrower")["status"] == "COMPLETED"
        proof = wait_until(lambda: _included(business, contract["contractId"]), 60, "the contract in the log")
        size = int(proof["treeHead"]["treeSize"])
        wait_until(lambda: any(json.loads(h["body"])["treeSize"] >= size for h in ledger_server.heads()), 30,
                   "a tree head covering the contract on the ledger")

    assert ledger_server.received[0]["answered"] == 503
    pushed = [json.loads(h["body"]) for h in ledger_server.heads()]
    sizes = [p["treeSize"] for p in pushed]
    assert sizes == sorted(set(sizes))  # in order, each once it was taken
    assert ledger_server.received[0]["headers"]["Idempotency-Key"] == f"econtract-evidence-log:{sizes[0]}"
    assert all(h["headers"]["Authorization"] == f"Bearer {TOKEN}" for h in ledger_server.received)

    bundle = business.get(f"/v1/contracts/{contract['contractId']}/evidence?alt=media")
    assert bundle.status_code == 200
    from cryptography import x509

    tsa = x509.load_pem_x509_certificates(zipfile.ZipFile(io.BytesIO(bundle.content)).read(formats.TSA_CHAIN))[0]
    for sent in pushed:
        head = base64.b64decode(sent["treeHead"])
        served = ok(business.get(f"/v1/evidenceLog/treeHead?treeSize={sent['treeSize']}"))["treeHead"]
        assert head == base64.b64decode(served["treeHeadJson"]) and sent["rootHash"] == served["rootHash"]
        assert hashlib.sha256(head).hexdigest() == sent["treeHeadSha256"]
        check_token(base64.b64decode(sent["timestampToken"]), head, tsa)  # the platform TSA's, over those bytes
    with replicas.ctx.sessions() as session:
        receipts = dict(session.execute(sa.select(TreeHeadRow.tree_size, TreeHeadRow.ledger_receipt)
                                        .where(TreeHeadRow.tree_size.in_(sizes))).all())
    where = ledger_server.url.split("?")[0]
    assert receipts == {s: f"http:{where}#{ledger_server.receipts[f'econtract-evidence-log:{s}']}" for s in sizes}


def _included(client, contract_id: str) -> dict | None:
    reply = client.get(f"/v1/evidenceLog/inclusionProof?contractId={contract_id}")
    return reply.json() if reply.status_code == 200 else None


def test_each_push_is_a_client_span_whose_trace_context_reaches_the_ledger(ledger_server):
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
    from opentelemetry.trace import SpanKind, StatusCode

    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    ledger = HttpLedger(ledger_server.url, token=TOKEN, tracer=provider.get_tracer("test"))
    ledger.publish(4, _head(4), b"t")
    ledger_server.answers.append((500, b"down", {}))
    with pytest.raises(LedgerError):
        ledger.publish(5, _head(5), b"t")

    pushed, refused = exporter.get_finished_spans()
    assert pushed.name == refused.name == "ledger.publish" and pushed.kind is SpanKind.CLIENT
    assert dict(pushed.attributes) == {"http.request.method": "POST", "server.address": "127.0.0.1",
                                       "url.path": "/ledger/heads", "evidence.tree_size": 4,
                                       "http.response.status_code": 200}
    assert refused.attributes["http.response.status_code"] == 500 and refused.status.status_code is StatusCode.ERROR
    traceparent = ledger_server.received[0]["headers"]["traceparent"]
    assert traceparent.split("-")[1:3] == [format(pushed.context.trace_id, "032x"), format(pushed.context.span_id, "016x")]
    assert not any(TOKEN in str(v) for span in (pushed, refused) for v in span.attributes.values())
    assert not any(TOKEN in event.attributes.get("exception.message", "") for event in refused.events)
