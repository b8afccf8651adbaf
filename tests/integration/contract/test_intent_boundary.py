"""Intent tokens at the real signing boundary, through REST (`POST /v1/contracts/{id}:sign`
with the mesh's own signing service): a real token signs only its own signer's contract
and documents, once; and a business line whose policy needs several intent methods gets
a signature only once every one of them was confirmed into the token."""
from __future__ import annotations

import base64
import time
from collections.abc import Iterator
from urllib.parse import urlencode

import pytest

from tests.integration.contract.conftest import TEST_CONFIG
from tests.integration.contract.helpers import (
    ContractServer,
    approved_template,
    borrower,
    create_contract,
    error,
    intent_token,
    lender,
    ok,
    sign,
    signer_of,
)
from tests.fixtures.docx_fixtures import loan_contract_docx_bytes

PERMISSION_DENIED = 7
BY_IDENTITY = "identity service, checking the intent token: "


@pytest.fixture(scope="module")
def real_signing(contract_server: ContractServer, fake_signing) -> Iterator[ContractServer]:
    contract_server.restart(config=TEST_CONFIG)  # the mesh's own signing service
    yield contract_server
    contract_server.restart(signing_addr=fake_signing.address, config=TEST_CONFIG)


@pytest.fixture(scope="module")
def line(real_signing, new_app):
    """A business line of its own, so the intent policies set here reach no other test."""
    return new_app("intent-boundary")


@pytest.fixture(scope="module")
def template_id(line, reviewer) -> str:
    return approved_template(line, reviewer, loan_contract_docx_bytes())["templateId"]


def side_by_side(line, template_id: str, **extra) -> dict:
    """A contract whose lender and borrower may sign in either order."""
    return create_contract(line, template_id, signers=[lender(order=1), borrower(order=1)], **extra)


def token_of(line, contract: dict, role: str) -> str:
    signer = signer_of(contract, role)
    return intent_token(line, signer["signerId"], [contract["contractId"]], signer["mobile"])


def set_policy(line, policy: dict) -> None:
    ok(line.request("PATCH", "/v1/apps/self", {"intentPolicy": policy}))


@pytest.fixture
def policy(line) -> Iterator[None]:
    yield
    set_policy(line, {})  # the next test starts from no policy


def test_a_token_for_one_contract_is_refused_on_another(line, template_id):
    first, second = side_by_side(line, template_id), side_by_side(line, template_id)
    token = token_of(line, first, "borrower")
    refused = error(sign(line, second["contractId"], signer_of(second, "borrower")["signerId"], token), 403, PERMISSION_DENIED)
    assert refused["message"] == BY_IDENTITY + "intent token was issued to another signer"
    assert ok(sign(line, first["contractId"], signer_of(first, "borrower")["signerId"], token))["status"] == "SIGNING"


def test_a_used_token_is_refused_for_a_signer_who_has_not_signed(line, template_id):
    contract = side_by_side(line, template_id)
    lender_signer = signer_of(contract, "lender")
    token = token_of(line, contract, "lender")
    assert ok(sign(line, contract["contractId"], lender_signer["signerId"], token))["status"] == "SIGNING"
    refused = error(sign(line, contract["contractId"], signer_of(contract, "borrower")["signerId"], token),
                    403, PERMISSION_DENIED)
    assert refused["message"] == BY_IDENTITY + "intent token was issued to another signer"
    reply = ok(line.get(f"/v1/contracts/{contract['contractId']}"))
    assert signer_of(reply, "borrower")["status"] == "PENDING"


def test_a_token_from_before_another_signature_changed_the_document_is_refused(line, template_id):
    contract = side_by_side(line, template_id)
    stale = token_of(line, contract, "borrower")  # bound to the unsigned document
    ok(sign(line, contract["contractId"], signer_of(contract, "lender")["signerId"], token_of(line, contract, "lender")))
    borrower_id = signer_of(contract, "borrower")["signerId"]
    refused = error(sign(line, contract["contractId"], borrower_id, stale), 403, PERMISSION_DENIED)
    assert refused["message"] == BY_IDENTITY + (f"intent token was confirmed for other document content of contract "
                                  f"{contract['contractId']} (document hash mismatch)")
    signer = signer_of(contract, "borrower")  # a new code by e-mail: the mobile is in its resend cooldown
    fresh = intent_token(line, borrower_id, [contract["contractId"]], signer["email"], method="EMAIL")
    assert ok(sign(line, contract["contractId"], borrower_id, fresh))["status"] == "COMPLETED"


# -- policies needing several methods ---------------------------------------------------


def confirm(line, contract: dict, role: str, method: str, prior: str = "") -> dict:
    """Start a ``method`` challenge for the signer and confirm it (into ``prior``, when given)."""
    signer = signer_of(contract, role)
    started = ok(line.post("/v1/intents", {"signerId": signer["signerId"], "contractIds": [contract["contractId"]],
                                           "method": method}))
    if method == "FACE":
        answer = {"faceResult": base64.b64encode(b"liveness video").decode()}
    else:
        answer = {"code": code_for(line, signer["mobile"], started["challengeId"])}
    return ok(line.post(f"/v1/intents/{started['challengeId']}:confirm", {**answer, "intentToken": prior}))


def code_for(line, recipient: str, challenge_id: str) -> str:
    deadline = time.monotonic() + 30
    while True:
        messages = ok(line.get("/v1/dev/outbox?" + urlencode({"recipient": recipient}))).get("messages", [])
        codes = [m["code"] for m in messages if m.get("challengeId") == challenge_id]
        if codes:
            return codes[0]
        assert time.monotonic() < deadline, messages
        time.sleep(0.1)


def test_required_sms_and_face_sign_only_once_both_are_confirmed(line, template_id, policy):
    set_policy(line, {"requiredMethods": ["SMS", "FACE"]})
    contract = side_by_side(line, template_id)
    signer_id = signer_of(contract, "borrower")["signerId"]
    sms = confirm(line, contract, "borrower", "SMS")
    assert sms["methods"] == ["SMS"] and sms["missingMethods"] == ["FACE"]
    refused = error(sign(line, contract["contractId"], signer_id, sms["intentToken"]), 403, PERMISSION_DENIED)
    assert refused["message"] == BY_IDENTITY + "this business line requires every one of FACE, SMS; missing FACE"

    both = confirm(line, contract, "borrower", "FACE", sms["intentToken"])
    assert sorted(both["methods"]) == ["FACE", "SMS"] and both["missingMethods"] == []
    ok(sign(line, contract["contractId"], signer_id, both["intentToken"]))
    assert signer_of(ok(line.get(f"/v1/contracts/{contract['contractId']}")), "borrower")["status"] == "SIGNED"


def test_sms_required_and_face_above_the_amount(line, template_id, policy):
    set_policy(line, {"requiredMethods": ["SMS"], "faceAboveAmount": "50000"})
    contract = side_by_side(line, template_id, amount="120000.00")
    signer_id = signer_of(contract, "borrower")["signerId"]
    face = confirm(line, contract, "borrower", "FACE")
    assert face["methods"] == ["FACE"] and face["missingMethods"] == ["SMS"]
    refused = error(sign(line, contract["contractId"], signer_id, face["intentToken"]), 403, PERMISSION_DENIED)
    assert refused["message"] == BY_IDENTITY + "this business line requires every one of FACE, SMS; missing SMS"

    both = confirm(line, contract, "borrower", "SMS", face["intentToken"])
    assert sorted(both["methods"]) == ["FACE", "SMS"] and both["missingMethods"] == []
    ok(sign(line, contract["contractId"], signer_id, both["intentToken"]))
    assert signer_of(ok(line.get(f"/v1/contracts/{contract['contractId']}")), "borrower")["status"] == "SIGNED"


def test_a_token_of_another_signing_cannot_be_extended(line, template_id, policy):
    set_policy(line, {"requiredMethods": ["SMS", "FACE"]})
    first = side_by_side(line, template_id)
    second = side_by_side(line, template_id)
    sms = confirm(line, first, "borrower", "SMS")
    signer = signer_of(second, "borrower")
    started = ok(line.post("/v1/intents", {"signerId": signer["signerId"], "contractIds": [second["contractId"]],
                                           "method": "FACE"}))
    refused = error(line.post(f"/v1/intents/{started['challengeId']}:confirm",
                              {"faceResult": base64.b64encode(b"liveness video").decode(),
                               "intentToken": sms["intentToken"]}), 403, PERMISSION_DENIED)
    assert "earlier intent token is for another signer" in refused["message"]
