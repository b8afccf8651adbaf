"""Evidence end to end against the platform as separate processes (``econtract up``):
a contract signed by two parties through REST → its evidence bundle (raw ZIP through
``?alt=media``) → ``econtract evidence verify`` passes offline, pinned to the root the
platform publishes, and fails, naming the part, once a byte of the signed PDF changes."""
from __future__ import annotations

import io
import subprocess
import sys
import time
import zipfile

import pytest

from services.identity.idnumbers import credit_check_char, id_check_char, organisation_check_char
from tests.e2e.test_contract_flow import ROOT, _app, _b64, _code, _json_data, _ok, platform  # noqa: F401 - a fixture
from tests.fixtures.docx_fixtures import loan_contract_data, loan_contract_docx_bytes

pytestmark = pytest.mark.e2e


def _verify(path, *extra) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "core.cli", "evidence", "verify", str(path), *extra], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)


def test_a_signed_contracts_evidence_verifies_offline(platform, tmp_path):  # noqa: F811 - the fixture
    line = _app(platform, "evidence-e2e", "template:read,template:write,contract:read,contract:write,intent:write,"
                                          "dev:outbox")
    legal = _app(platform, "evidence-legal", "template:read,template:review")
    template = _ok(line.post("/v1/templates", {
        "name": "个人借款合同-证据", "group": "loans", "docx": _b64(loan_contract_docx_bytes()),
        "signers": [{"role": "lender", "kind": "ORG", "positions": [{"keyword": "甲方（盖章）"}]},
                    {"role": "borrower", "kind": "PERSON", "positions": [{"page": 3, "x": 400, "y": 120}]}],
    }))
    _ok(legal.post(f"/v1/templates/{template['templateId']}/versions/{template['version']}:approve", {"comment": "ok"}))
    body9 = f"{time.time_ns() % 10**8:08d}"
    first17 = "91110302" + body9 + organisation_check_char(body9)
    person17 = "11010119850101" + f"{time.time_ns() % 1000:03d}"
    mobiles = {"lender": "137" + f"{time.time_ns() % 10**8:08d}", "borrower": "136" + f"{time.time_ns() % 10**8:08d}"}
    contract = _ok(line.post("/v1/contracts", {
        "templateId": template["templateId"], "title": "借款合同-证据", "bizNo": f"EV-{time.time_ns()}",
        "data": _json_data(loan_contract_data()),
        "signers": [{"role": "lender", "kind": "ORG", "name": "某某科技有限公司",
                     "subject": {"idType": "USCC", "id": first17 + credit_check_char(first17)},
                     "mobile": mobiles["lender"], "signMode": "E_SIGN", "order": 1},
                    {"role": "borrower", "kind": "PERSON", "name": "张三",
                     "subject": {"idType": "ID_CARD", "id": person17 + id_check_char(person17)},
                     "mobile": mobiles["borrower"], "signMode": "E_SIGN", "order": 2}],
    }))
    contract_id = contract["contractId"]
    for signer in contract["signers"]:
        challenge = _ok(line.post("/v1/intents", {"signerId": signer["signerId"], "contractIds": [contract_id],
                                                  "method": "SMS"}))
        token = _ok(line.post(f"/v1/intents/{challenge['challengeId']}:confirm",
                              {"code": _code(line, mobiles[signer["role"]], challenge["challengeId"])}))["intentToken"]
        signed = _ok(line.post(f"/v1/contracts/{contract_id}:sign", {"signerId": signer["signerId"], "intentToken": token}))
    assert signed["status"] == "COMPLETED"

    deadline = time.monotonic() + 60
    while True:  # the B-LTA timestamp is added right after completion
        reply = line.get(f"/v1/contracts/{contract_id}/evidence?alt=media")
        if reply.status_code == 200 or time.monotonic() > deadline:
            break
        time.sleep(1)
    assert reply.status_code == 200 and reply.headers["content-type"] == "application/zip", reply.text
    bundle = tmp_path / f"{contract_id}-evidence.zip"
    bundle.write_bytes(reply.content)
    root = tmp_path / "root.pem"
    root.write_text("".join(_ok(line.get("/v1/trust/roots"))["roots"]))

    passed = _verify(bundle, "--trust-root", root)
    assert passed.returncode == 0 and passed.stdout.strip().endswith("VERIFIED"), passed.stdout + passed.stderr

    source = zipfile.ZipFile(io.BytesIO(reply.content))
    document = next(n for n in source.namelist() if n.startswith("documents/"))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as target:
        for name in source.namelist():
            content = source.read(name)
            if name == document:
                content = content[:1000] + bytes([content[1000] ^ 1]) + content[1001:]
            target.writestr(name, content)
    tampered = tmp_path / "tampered.zip"
    tampered.write_bytes(out.getvalue())
    failed = _verify(tampered, "--trust-root", root)
    assert failed.returncode == 1 and f"FAIL {document}: its SHA-256" in failed.stdout, failed.stdout
