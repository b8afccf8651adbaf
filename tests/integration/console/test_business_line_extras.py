"""On a business line's page: outside CA certificates it trusts (register by pasting a PEM,
remove; a paste that is no certificate gets a clear message) and its webhook delivery log."""
from __future__ import annotations

import datetime as dt
import re
import secrets
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import grpc
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from econtract.contract.v1 import contract_pb2, contract_pb2_grpc
from tests.integration.console.conftest import flash_of
from tests.integration.console.test_contracts import _contract_request, approved_template  # noqa: F401 (fixture)
from tests.support.signed import SignedClient

_ROW = re.compile(r'<tr data-event="([^"]+)">(.*?)</tr>', re.S)


def _ca_pem(name: str, *, ca: bool = True) -> str:
    """A self-signed CA certificate; with ``ca=False`` a signer's certificate, which is no anchor."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = dt.datetime.now(dt.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now).not_valid_after(now + dt.timedelta(days=365))
            .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=not ca, content_commitment=False, key_encipherment=False,
                                         data_encipherment=False, key_agreement=False, key_cert_sign=ca, crl_sign=ca,
                                         encipher_only=False, decipher_only=False), critical=True)
            .sign(key, hashes.SHA256()))
    return cert.public_bytes(serialization.Encoding.PEM).decode()


def test_trust_anchors_are_registered_shown_and_removed(mesh, apps, console_as, people):
    created = apps.create("anchors-" + secrets.token_hex(3), ["app:self"])
    app_id = created.app.app_id
    admin = console_as(people["admin"])
    page = f"/console/apps/{app_id}"
    name = "Outside Test CA " + secrets.token_hex(3)

    bad = admin.post(page + "/anchors", {"pem": "-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----",
                                         "back": page})
    shown = admin.open(bad.headers["location"])
    assert flash_of(shown) == "证书无效：请粘贴 PEM 格式的 CA 证书（以 -----BEGIN CERTIFICATE----- 开头）。"
    assert "还没有登记外部 CA 证书。" in shown.text
    signer = admin.post(page + "/anchors", {"pem": _ca_pem("张三", ca=False), "back": page})
    shown = admin.open(signer.headers["location"])
    assert flash_of(shown) == "证书无效：请粘贴 PEM 格式的 CA 证书（以 -----BEGIN CERTIFICATE----- 开头）。"
    assert ("trust_anchors[0] (CN=张三) is not a CA certificate (BasicConstraints cA is not set): register the "
            "root or intermediate CA that issues the signer certificates") in shown.text
    assert "还没有登记外部 CA 证书。" in shown.text

    reply = admin.post(page + "/anchors", {"pem": _ca_pem(name), "back": page})
    assert reply.status_code == 303
    shown = admin.open(reply.headers["location"])
    assert flash_of(shown) == "已登记 1 张 CA 证书。" and "CN=" + name in shown.text
    app = SignedClient(mesh.base_url, app_id, created.secret)
    [anchor] = app.get("/v1/apps/self").json()["trustAnchors"]
    assert x509.load_pem_x509_certificate(anchor.encode()).subject.rfc4514_string() == "CN=" + name

    fingerprint = re.search(r'name="fingerprint" value="([0-9a-f]{64})"', shown.text).group(1)
    reply = admin.post(page + "/anchors/remove", {"fingerprint": fingerprint, "back": page})
    shown = admin.open(reply.headers["location"])
    assert flash_of(shown) == "已移除 CA 证书。" and "CN=" + name not in shown.text
    assert app.get("/v1/apps/self").json().get("trustAnchors", []) == []
    app.close()


@pytest.fixture
def receiver() -> Iterator[str]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers["Content-Length"]))
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/hooks"
    server.shutdown()
    server.server_close()


def test_the_delivery_log_shows_each_event_and_its_outcome(mesh, apps, console_as, people, approved_template,
                                                           receiver):
    created = apps.create("hooks-" + secrets.token_hex(3), ["app:self", "contract:read", "contract:write"])
    app_id = created.app.app_id
    app = SignedClient(mesh.base_url, app_id, created.secret)
    assert app.request("PATCH", "/v1/apps/self", {"webhookUrl": receiver}).status_code == 200
    app.close()
    admin = console_as(people["admin"])
    assert "还没有投递记录。" in admin.open(f"/console/apps/{app_id}").text

    metadata = [("x-app-id", app_id), ("x-app-scopes", "contract:read,contract:write")]
    console = [("x-app-id", people["admin"].user.caller_id), ("x-app-scopes", "admin")]
    with grpc.insecure_channel(mesh.env["CONTRACT_ADDR"]) as channel:
        stub = contract_pb2_grpc.ContractServiceStub(channel)
        contract_id = stub.CreateContract(_contract_request(approved_template), timeout=120,
                                          metadata=metadata).contract_id
        stub.RevokeContract(contract_pb2.RevokeContractRequest(contract_id=contract_id, reason="test"),
                            metadata=metadata)
        deadline = time.monotonic() + 30
        while True:
            [event] = stub.ListWebhookDeliveries(contract_pb2.ListWebhookDeliveriesRequest(app_id=app_id),
                                                 metadata=console).deliveries
            if event.state != contract_pb2.WebhookDelivery.STATE_PENDING:
                break
            assert time.monotonic() < deadline, event
            time.sleep(0.2)
    assert event.type == "contract.revoked" and event.contract_id == contract_id
    assert event.state == contract_pb2.WebhookDelivery.STATE_DELIVERED
    assert event.attempt_count == 1 and event.last_status_code == 200 and event.HasField("finish_time")

    page = admin.open(f"/console/apps/{app_id}")
    [(event_id, row)] = _ROW.findall(page.text)
    assert event_id == event.event_id
    assert "contract.revoked" in row and contract_id in row and "已送达" in row and "HTTP 200" in row
