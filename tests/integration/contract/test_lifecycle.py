"""The signing lifecycle through REST: intents through identity and the dev outbox,
signatures through the (stand-in) signing service, order rules, closing states,
combined signing, agreement signing, expiry, the B-LTA step and the audit trail."""
from __future__ import annotations

import hashlib
import time
from datetime import datetime, timedelta, timezone

import grpc
import pytest

from econtract.contract.v1 import contract_pb2
from services.contract import audit
from tests.integration.contract.helpers import (
    borrower,
    create_contract,
    error,
    intent_token,
    lender,
    ok,
    sign,
    sign_as,
    signer_of,
)


def _events(client, contract_id: str) -> dict:
    return ok(client.get(f"/v1/contracts/{contract_id}/events"))


def _wait(predicate, timeout: float = 15.0, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


def test_two_signers_in_order_until_completed(business, template, fake_signing):
    contract = create_contract(business, template["templateId"])
    contract_id = contract["contractId"]
    first_sha = contract["documents"][0]["sha256"]

    after_lender = sign_as(business, contract, "lender")
    assert after_lender["status"] == "SIGNING"
    [document] = after_lender["documents"]
    assert document["revision"] == 1 and document["sha256"] != first_sha

    done = sign_as(business, contract, "borrower")
    assert done["status"] == "COMPLETED"
    # The borrower's signature, then the B-LTA document timestamp.
    assert done["documents"][0]["revision"] == 3

    fetched = ok(business.get(f"/v1/contracts/{contract_id}"))
    assert fetched["status"] == "COMPLETED" and fetched["finishTime"]
    assert {s["role"]: s["status"] for s in fetched["signers"]} == {"lender": "SIGNED", "borrower": "SIGNED"}
    signed = fake_signing.service.calls_for(contract_id)
    assert [c.signer_id for c in signed] == [signer_of(contract, "lender")["signerId"], signer_of(contract, "borrower")["signerId"]]
    # Each signature was made on the revision its intent was confirmed for, at the role's position.
    assert signed[0].input_sha256 == first_sha and signed[1].input_sha256 == document["sha256"]
    assert signed[0].request.positions[0].keyword == "甲方（盖章）"
    assert (signed[1].request.positions[0].page, signed[1].request.positions[0].x) == (3, 400)

    current = business.get(f"/v1/contracts/{contract_id}/document?alt=media")
    assert hashlib.sha256(current.content).hexdigest() == done["documents"][0]["sha256"]
    original = ok(business.get(f"/v1/contracts/{contract_id}/document?revision=0"))
    assert original["revision"] == 0 and original["sha256"] == first_sha and original["contentType"] == "application/pdf"

    trail = _events(business, contract_id)
    assert trail["chainVerified"] is True
    types = [e["type"] for e in trail["events"]]
    assert types[:1] == ["contract.created"]
    for expected in ("intent.verified", "signer.signed", "contract.completed", "document.timestamped", "document.downloaded"):
        assert expected in types
    assert types.index("contract.completed") < types.index("document.timestamped")
    signed_events = [e for e in trail["events"] if e["type"] == "signer.signed"]
    assert signed_events[0]["actor"] == f"signer:{signer_of(contract, 'lender')['signerId']}"
    assert signed_events[0]["details"]["intentMethod"] == "SMS"
    assert all(e["traceId"] for e in trail["events"])


def test_out_of_turn_and_twice_and_closed_are_refused(business, template):
    contract = create_contract(business, template["templateId"])
    contract_id = contract["contractId"]
    person = signer_of(contract, "borrower")
    # Identity asks GetSigningContext and refuses to start an intent out of turn ...
    reply = business.post("/v1/intents", {"signerId": person["signerId"], "contractIds": [contract_id], "method": "SMS"})
    assert error(reply, 400, 9)["message"]
    # ... and the contract service refuses before even looking at a token.
    body = error(sign(business, contract_id, person["signerId"], "any-token"), 400, 9)
    assert "turn" in body["message"] and "lender" in body["message"]

    sign_as(business, contract, "lender")
    body = error(sign(business, contract_id, signer_of(contract, "lender")["signerId"], "any-token"), 400, 9)
    assert "already signed" in body["message"]

    ok(business.post(f"/v1/contracts/{contract_id}:revoke", {"reason": "customer withdrew"}))
    body = error(sign(business, contract_id, person["signerId"], "any-token"), 400, 9)
    assert "REVOKED" in body["message"]
    error(business.post(f"/v1/contracts/{contract_id}:revoke", {}), 400, 9)


def test_same_order_signs_in_parallel(business, template):
    contract = create_contract(business, template["templateId"], signers=[lender(order=1), borrower(order=1)])
    assert sign_as(business, contract, "borrower")["status"] == "SIGNING"
    assert sign_as(business, contract, "lender")["status"] == "COMPLETED"


def test_revoke_closes_the_contract(business, template):
    contract = create_contract(business, template["templateId"])
    revoked = ok(business.post(f"/v1/contracts/{contract['contractId']}:revoke", {"reason": "wrong amount"}))
    assert revoked["status"] == "REVOKED"
    fetched = ok(business.get(f"/v1/contracts/{contract['contractId']}"))
    assert fetched["statusReason"] == "wrong amount" and fetched["finishTime"]
    trail = _events(business, contract["contractId"])
    assert trail["events"][-1]["type"] == "contract.revoked" and trail["events"][-1]["actor"] == f"app:{business.app_id}"
    # Intents cannot start on a closed contract either (GetSigningContext refuses).
    reply = business.post("/v1/intents", {"signerId": signer_of(contract, "lender")["signerId"],
                                          "contractIds": [contract["contractId"]], "method": "SMS"})
    assert reply.status_code == 400


def test_a_signer_rejects(business, template):
    contract = create_contract(business, template["templateId"])
    person = signer_of(contract, "borrower")
    rejected = ok(business.post(f"/v1/contracts/{contract['contractId']}:reject",
                                {"signerId": person["signerId"], "reason": "利率太高"}))
    assert rejected["status"] == "REJECTED"
    fetched = ok(business.get(f"/v1/contracts/{contract['contractId']}"))
    assert signer_of(fetched, "borrower")["status"] == "REJECTED" and signer_of(fetched, "borrower")["rejectReason"] == "利率太高"
    error(business.post(f"/v1/contracts/{contract['contractId']}:reject", {"signerId": person["signerId"]}), 400, 9)


def test_agreement_signers_agree_with_evidence(business, template, fake_signing):
    contract = create_contract(business, template["templateId"],
                               signers=[lender(), borrower(signMode="AGREEMENT")])
    person = signer_of(contract, "borrower")
    body = error(sign(business, contract["contractId"], person["signerId"], "x"), 400, 9)
    assert ":agree" in body["message"]
    early = error(business.post(f"/v1/contracts/{contract['contractId']}:agree", {"signerId": person["signerId"]}), 400, 9)
    assert "order 1 (lender)" in early["message"]
    sign_as(business, contract, "lender")
    agreed = ok(business.post(f"/v1/contracts/{contract['contractId']}:agree", {
        "signerId": person["signerId"], "readingSeconds": 42,
        "clientEvidence": {"ip": "203.0.113.9", "userAgent": "Mobile Safari", "checkboxText": "我已阅读并同意"},
    }))
    assert agreed["status"] == "COMPLETED"
    [sealed] = fake_signing.service.calls_for(contract["contractId"], "SealAgreement")
    assert sealed.request.reading_seconds == 42 and sealed.request.client_evidence.checkbox_text == "我已阅读并同意"
    agreed_event = next(e for e in _events(business, contract["contractId"])["events"] if e["type"] == "signer.agreed")
    assert agreed_event["details"]["clientIp"] == "203.0.113.9" and agreed_event["details"]["readingSeconds"] == "42"


def test_combined_signing_one_intent_for_a_group(business, template, fake_signing):
    person = borrower(order=1)
    group = "combined-" + str(int(time.time() * 1000))
    first = create_contract(business, template["templateId"], groupId=group, signers=[lender(order=2), dict(person)])
    second = create_contract(business, template["templateId"], groupId=group, signers=[lender(order=2), dict(person)])
    listed = ok(business.get(f"/v1/contracts?groupId={group}"))
    ids = [c["contractId"] for c in reversed(listed["contracts"])]
    assert ids == [first["contractId"], second["contractId"]]
    # The signer id of the first contract names the same person on the second.
    signer_id = signer_of(first, "borrower")["signerId"]
    token = intent_token(business, signer_id, ids, person["mobile"])
    for contract_id in ids:
        assert ok(sign(business, contract_id, signer_id, token))["status"] == "SIGNING"
    # Once per contract: the token cannot sign the first again (the signer already signed anyway).
    error(sign(business, ids[0], signer_id, token), 400, 9)
    for contract in (first, second):
        fetched = ok(business.get(f"/v1/contracts/{contract['contractId']}"))
        assert signer_of(fetched, "borrower")["status"] == "SIGNED"
        events = _events(business, contract["contractId"])["events"]
        assert [e["type"] for e in events].count("signer.signed") == 1
    calls = [c for c in fake_signing.service.calls_for("") if c.contract_id in ids]
    assert sorted(c.contract_id for c in calls) == sorted(ids)
    # Signed as the person who confirmed the intent, in each contract's own signature field.
    assert {c.request.signer.signer_id for c in calls} == {signer_id}
    assert {c.request.field_name for c in calls} == {f"sig_{signer_of(first, 'borrower')['signerId']}",
                                                     f"sig_{signer_of(second, 'borrower')['signerId']}"}


def test_expiry_closes_an_unsigned_contract(business, template):
    expire = (datetime.now(timezone.utc) + timedelta(seconds=3)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    contract = create_contract(business, template["templateId"], expireTime=expire)
    expired = _wait(lambda: ok(business.get(f"/v1/contracts/{contract['contractId']}"))["status"] == "EXPIRED",
                    what="the sweeper to expire the contract")
    assert expired
    body = error(sign(business, contract["contractId"], signer_of(contract, "lender")["signerId"], "x"), 400, 9)
    assert "EXPIRED" in body["message"]
    assert _events(business, contract["contractId"])["events"][-1]["type"] == "contract.expired"


def test_a_failed_timestamp_is_retried_by_the_sweeper(business, template, fake_signing):
    contract = create_contract(business, template["templateId"], signers=[lender(), borrower(order=1)])
    sign_as(business, contract, "borrower")
    fake_signing.service.fail_timestamps = 1
    done = sign_as(business, contract, "lender")
    assert done["status"] == "COMPLETED" and done["documents"][0]["revision"] == 2  # signed, not yet stamped
    stamped = _wait(lambda: ok(business.get(f"/v1/contracts/{contract['contractId']}"))["documents"][0]["revision"] == 3,
                    what="the B-LTA retry")
    assert stamped


def test_sign_url_is_one_time_and_records_the_view(business, template, contract_stub, mesh):
    contract = create_contract(business, template["templateId"])
    person = signer_of(contract, "borrower")
    link = ok(business.post(f"/v1/contracts/{contract['contractId']}:signUrl",
                            {"signerId": person["signerId"], "source": "H5", "scene": "HEADLESS"}))
    assert link["url"].startswith(mesh.env["ECONTRACT_PUBLIC_URL"] + "/sign/") and link["expireTime"]
    token = link["url"].rsplit("/", 1)[1]
    resolved = contract_stub.ResolveSignUrl(contract_pb2.ResolveSignUrlRequest(token=token),
                                            metadata=[("x-client-ip", "198.51.100.7")])
    assert (resolved.contract_id, resolved.signer_id, resolved.app_id) == (contract["contractId"], person["signerId"], business.app_id)
    assert resolved.source == contract_pb2.H5 and resolved.scene == contract_pb2.HEADLESS
    with pytest.raises(grpc.RpcError) as used:
        contract_stub.ResolveSignUrl(contract_pb2.ResolveSignUrlRequest(token=token))
    assert used.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    with pytest.raises(grpc.RpcError) as unknown:
        contract_stub.ResolveSignUrl(contract_pb2.ResolveSignUrlRequest(token=token + "x"))
    assert unknown.value.code() == grpc.StatusCode.NOT_FOUND
    viewed = [e for e in _events(business, contract["contractId"])["events"] if e["type"] == "signer.viewed"]
    assert len(viewed) == 1 and viewed[0]["ip"] == "198.51.100.7" and viewed[0]["signerId"] == person["signerId"]


def test_signing_context_for_identity(business, template, contract_stub):
    contract = create_contract(business, template["templateId"])
    other = create_contract(business, template["templateId"])
    person = signer_of(contract, "borrower")
    reply = contract_stub.GetSigningContext(contract_pb2.GetSigningContextRequest(
        signer_id=person["signerId"], contract_ids=[contract["contractId"]]))
    assert reply.app_id == business.app_id and reply.signer.mobile == person["mobile"]
    assert reply.signer.subject.id == person["subject"]["id"] and reply.signer.kind == 1
    [seen] = reply.contracts
    assert list(seen.document_sha256) == [d["sha256"] for d in contract["documents"]]
    assert seen.signer_status == contract_pb2.Signer.PENDING and not seen.signer_turn
    # The borrower of one contract is not on another one with a different borrower.
    with pytest.raises(grpc.RpcError) as missing:
        contract_stub.GetSigningContext(contract_pb2.GetSigningContextRequest(
            signer_id=person["signerId"], contract_ids=[other["contractId"]]))
    assert missing.value.code() == grpc.StatusCode.NOT_FOUND
    ok(business.post(f"/v1/contracts/{contract['contractId']}:revoke", {}))
    with pytest.raises(grpc.RpcError) as closed:
        contract_stub.GetSigningContext(contract_pb2.GetSigningContextRequest(
            signer_id=person["signerId"], contract_ids=[contract["contractId"]]))
    assert closed.value.code() == grpc.StatusCode.FAILED_PRECONDITION


def test_a_changed_event_breaks_the_chain(business, template, contract_server):
    from services.contract.store import EventRow

    contract = create_contract(business, template["templateId"])
    ok(business.post(f"/v1/contracts/{contract['contractId']}:revoke", {"reason": "test"}))
    assert _events(business, contract["contractId"])["chainVerified"] is True
    sessions = contract_server.ctx.sessions
    with sessions.begin() as session:
        row = session.get(EventRow, (contract["contractId"], 1))
        row.actor = "app:someone-else"
    trail = _events(business, contract["contractId"])
    assert trail["chainVerified"] is False
    with sessions() as session:
        check = audit.verify_stored(session, contract["contractId"])
    assert not check.ok and check.broken_at == 1 and "changed" in check.reason
