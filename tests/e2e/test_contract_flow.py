"""The whole flow of API.md against the platform as separate processes (``econtract up``):
template → legal approval → a contract with two signers in order → the lender's signing
link, opened through the gateway: consent, the e-mailed code, every page shown, signed
there → the borrower's intent through the dev outbox and :sign → COMPLETED → the
downloaded PDF verifies → the audit chain recomputes → the business line's webhook got every event once, signed."""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import re
import secrets
import signal
import subprocess
import sys
import threading
import time
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlencode, urljoin, urlsplit

import httpx
import pytest

from services.identity.idnumbers import credit_check_char, id_check_char, organisation_check_char
from tests.conftest import make_platform_env
from tests.fixtures.docx_fixtures import loan_contract_data, loan_contract_docx_bytes
from tests.support.signed import SignedClient

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.e2e


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _json_data(value):
    if isinstance(value, bytes):
        return _b64(value)
    if isinstance(value, dict):
        return {k: _json_data(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_json_data(v) for v in value]
    return value


def _ok(reply) -> dict:
    assert reply.status_code == 200, reply.text
    return reply.json()


@pytest.fixture(scope="module")
def platform(run_id, use_postgres, tmp_path_factory):
    # A namespace per instance: other modules reuse this fixture with their own var dir and master key.
    own = make_platform_env(tmp_path_factory.mktemp("contract-e2e-var"), run_id + "cf" + secrets.token_hex(2), use_postgres)
    env = {**os.environ, **own}
    out = open(Path(env["ECONTRACT_VAR_DIR"]) / "up.out", "w+")
    process = subprocess.Popen([sys.executable, "-m", "core.cli", "up"], cwd=ROOT, env=env, stdout=out,
                               stderr=subprocess.STDOUT, start_new_session=True)
    deadline = time.monotonic() + 120
    while "press Ctrl-C" not in Path(out.name).read_text():
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            pytest.fail("econtract up did not come up:\n" + Path(out.name).read_text()[-4000:])
        time.sleep(0.3)
    yield {"env": env, "base": "http://" + env["GATEWAY_ADDR"]}
    if process.poll() is None:
        process.send_signal(signal.SIGINT)
        process.wait(60)


def _app(platform, name: str, scopes: str) -> SignedClient:
    created = subprocess.run([sys.executable, "-m", "core.cli", "apps", "create", "--name", name, "--scopes", scopes],
                             cwd=ROOT, env=platform["env"], capture_output=True, text=True, timeout=120)
    assert created.returncode == 0, created.stderr
    app = json.loads(created.stdout)
    return SignedClient(platform["base"], app["appId"], app["appSecret"], timeout=60)


@pytest.fixture
def receiver():
    got: list[dict] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            got.append({"headers": dict(self.headers), "body": body})
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/webhook", got
    server.shutdown()
    server.server_close()


def _code(client: SignedClient, recipient: str, challenge_id: str) -> str:
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        outbox = _ok(client.get("/v1/dev/outbox?" + urlencode({"recipient": recipient})))
        codes = [m["code"] for m in outbox.get("messages", []) if m.get("challengeId") == challenge_id]
        if codes:
            return codes[0]
        time.sleep(0.2)
    raise AssertionError(f"no code for {challenge_id} in the dev outbox")


def _recompute_chain(events: list[dict], contract_id: str) -> bool:
    """The audit chain as an outside verifier recomputes it (see ContractEvent in contract.proto)."""
    prev = "0" * 64
    for event in events:
        moment = datetime.fromisoformat(event["time"].replace("Z", "+00:00"))
        body = {
            "actor": event.get("actor", ""), "contractId": contract_id, "details": event.get("details", {}),
            "ip": event.get("ip", ""), "seq": event["seq"], "signerId": event.get("signerId", ""),
            "time": moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ"), "traceId": event.get("traceId", ""),
            "type": event["type"], "userAgent": event.get("userAgent", ""),
        }
        canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
        if event.get("prevHash", "") != prev or hashlib.sha256(prev.encode() + canonical).hexdigest() != event["hash"]:
            return False
        prev = event["hash"]
    return True


def _walk_the_signing_page(line: SignedClient, url: str, email: str, pages: int) -> None:
    """The lender opens the link through the gateway process: the consent step names the
    contract; after consent and the e-mailed code, the read step shows every page of it,
    and the lender signs there."""
    with httpx.Client(timeout=60, follow_redirects=True) as browser:
        opened = browser.get(url)
        assert opened.status_code == 200 and opened.headers["content-type"].startswith("text/html")
        assert "<h1>开通云签服务</h1>" in opened.text and "<li>借款合同-张三</li>" in opened.text
        assert "某某科技有限公司" in opened.text and 'action="' + urlsplit(url).path + '/consent"' in opened.text
        csrf = re.search(r'name="csrf" value="([^"]+)"', opened.text).group(1)
        intent = browser.post(url + "/consent", data={"csrf": csrf, "agree": "on"})
        assert "意愿验证" in intent.text
        sent = browser.post(url + "/intent", data={"csrf": csrf, "method": "EMAIL"})
        assert 'data-testid="code-sent"' in sent.text
        code = _ok(line.get("/v1/dev/outbox?" + urlencode({"recipient": email})))["messages"][0]["code"]
        read = browser.post(url + "/intent/confirm", data={"csrf": csrf, "code": code})
        assert "阅读并签署" in read.text and "<h2>借款合同-张三</h2>" in read.text
        images = re.findall(r'<img class="doc-page" src="([^"]+\.png)"', read.text)
        assert len(images) == pages and all(f"第 {n} 页 / 共 {pages} 页" in read.text for n in range(1, pages + 1))
        first = browser.get(urljoin(url, images[0]))
        assert first.headers["content-type"] == "image/png" and first.content.startswith(b"\x89PNG")
        done = browser.post(url + "/sign", data={"csrf": csrf, "appearance": "default"})
        assert done.status_code == 200 and 'data-testid="outcome">签署完成<' in done.text


def test_the_whole_contract_flow(platform, receiver):
    hook_url, hooks = receiver
    line = _app(platform, "loans", "template:read,template:write,contract:read,contract:write,intent:write,"
                                   "document:verify,app:self,dev:outbox")
    legal = _app(platform, "legal", "template:read,template:review")
    _ok(line.request("PATCH", "/v1/apps/self", {"webhookUrl": hook_url}))

    template = _ok(line.post("/v1/templates", {
        "name": "个人借款合同", "group": "loans", "docx": _b64(loan_contract_docx_bytes()),
        "signers": [{"role": "lender", "kind": "ORG", "positions": [{"keyword": "甲方（盖章）"}]},
                    {"role": "borrower", "kind": "PERSON", "positions": [{"page": 3, "x": 400, "y": 120}]}],
    }))
    assert template["status"] == "PENDING_REVIEW"
    approved = _ok(legal.post(f"/v1/templates/{template['templateId']}/versions/{template['version']}:approve",
                              {"comment": "ok"}))
    assert approved["status"] == "APPROVED"

    body9 = "".join(str(i % 10) for i in range(8))
    first17 = "91110302" + body9 + organisation_check_char(body9)
    credit_code = first17 + credit_check_char(first17)
    person17 = "11010119900307" + f"{int(time.time()) % 1000:03d}"
    id_number = person17 + id_check_char(person17)
    email = f"legal{os.getpid()}@example.com"
    mobile = "138" + f"{int(time.time() * 1000) % 10**8:08d}"
    contract = _ok(line.post("/v1/contracts", {
        "templateId": template["templateId"], "title": "借款合同-张三", "bizNo": f"LOAN-{os.getpid()}-{time.time_ns()}",
        "data": _json_data(loan_contract_data()),
        "signers": [{"role": "lender", "kind": "ORG", "name": "某某科技有限公司",
                     "subject": {"idType": "USCC", "id": credit_code}, "email": email, "signMode": "E_SIGN", "order": 1},
                    {"role": "borrower", "kind": "PERSON", "name": "张三",
                     "subject": {"idType": "ID_CARD", "id": id_number}, "mobile": mobile, "signMode": "E_SIGN",
                     "order": 2}],
    }))
    assert contract["status"] == "SIGNING" and contract["templateVersion"] == 1
    assert contract["documents"][0]["pages"] == 3 and len(contract["documents"][0]["sha256"]) == 64
    contract_id = contract["contractId"]
    signers = {s["role"]: s for s in contract["signers"]}

    link = _ok(line.post(f"/v1/contracts/{contract_id}:signUrl",
                         {"signerId": signers["lender"]["signerId"], "source": "H5", "scene": "NORMAL"}))
    assert "/sign/" in link["url"] and link["expireTime"]
    _walk_the_signing_page(line, link["url"], email, contract["documents"][0]["pages"])

    assert _ok(line.get(f"/v1/contracts/{contract_id}"))["status"] == "SIGNING"
    borrower_id = signers["borrower"]["signerId"]
    challenge = _ok(line.post("/v1/intents", {"signerId": borrower_id, "contractIds": [contract_id], "method": "SMS"}))
    token = _ok(line.post(f"/v1/intents/{challenge['challengeId']}:confirm",
                          {"code": _code(line, mobile, challenge["challengeId"])}))["intentToken"]
    signed = _ok(line.post(f"/v1/contracts/{contract_id}:sign", {"signerId": borrower_id, "intentToken": token}))
    assert signed["status"] == "COMPLETED" and signed["documents"][0]["sha256"]

    pdf = line.get(f"/v1/contracts/{contract_id}/document?alt=media")
    assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
    assert hashlib.sha256(pdf.content).hexdigest() == signed["documents"][0]["sha256"]
    report = _ok(line.post("/v1/documents:verify", {"pdf": _b64(pdf.content)}))
    assert report["valid"] is True, report
    signer_verdicts = [s for s in report["signatures"] if s.get("signer")]
    assert len(signer_verdicts) >= 2 and {s["verdict"] for s in report["signatures"]} == {"VALID"}

    trail = _ok(line.get(f"/v1/contracts/{contract_id}/events"))
    assert trail["chainVerified"] is True and _recompute_chain(trail["events"], contract_id)
    types = [e["type"] for e in trail["events"]]
    assert types[0] == "contract.created" and types.count("signer.signed") == 2 and "contract.completed" in types

    deadline = time.monotonic() + 20
    while len(hooks) < 3 and time.monotonic() < deadline:
        time.sleep(0.2)
    time.sleep(1)
    events = [json.loads(h["body"]) for h in hooks]
    assert sorted(e["type"] for e in events) == ["contract.completed", "contract.signed", "contract.signed"]
    assert len({h["headers"]["X-Event-Id"] for h in hooks}) == 3
    for hook in hooks:
        expected = hmac.new(line.secret.encode(), hook["headers"]["X-Timestamp"].encode() + b"." + hook["body"],
                            hashlib.sha256).hexdigest()
        assert hmac.compare_digest(expected, hook["headers"]["X-Signature"])
