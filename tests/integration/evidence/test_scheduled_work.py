"""Expiry, reminders and delegated signing through REST, with two scheduler replicas
competing for every job: each effect happens once, and work that fell due while both
replicas were down is done once after they restart."""
from __future__ import annotations

import threading
import time
from datetime import datetime, timedelta, timezone
from urllib.parse import urlencode

import sqlalchemy as sa

from econtract.common.v1 import common_pb2
from services.contract import notices, webhooks
from services.contract.scheduled_store import DelegatedSigningRow
from tests.integration.contract.helpers import borrower, create_contract, lender, ok, sign_as, signer_of
from tests.integration.evidence.conftest import rfc3339_in, wait_until


def _status(client, contract_id: str) -> dict:
    return ok(client.get(f"/v1/contracts/{contract_id}"))


def _events(client, contract_id: str) -> list[dict]:
    return ok(client.get(f"/v1/contracts/{contract_id}/events?pageSize=500"))["events"]


def _outbox(client, recipient: str) -> list[dict]:
    return ok(client.get("/v1/dev/outbox?" + urlencode({"recipient": recipient, "pageSize": 100}))).get("messages", [])


def _notices(replicas, contract_id: str, kind: str) -> list[notices.Notice]:
    return [n for n in notices.notices_of(replicas.ctx.sessions, contract_id) if n.kind == kind]


def _hooked(new_app, receiver, name: str):
    client = new_app(name)
    ok(client.request("PATCH", "/v1/apps/self", {"webhookUrl": receiver.url}))
    return client


def test_an_overdue_contract_expires_once_with_its_webhook_and_one_notice_per_pending_signer(
        new_app, template, receiver, replicas):
    client = _hooked(new_app, receiver, "expiry")
    contract = create_contract(client, template["templateId"], expireTime=rfc3339_in(2.5))
    contract_id = contract["contractId"]
    wait_until(lambda: _status(client, contract_id)["status"] == "EXPIRED", 15, "expiry")
    wait_until(lambda: len(_notices(replicas, contract_id, notices.EXPIRED)) == 2
               and all(n.status == notices.SENT for n in _notices(replicas, contract_id, notices.EXPIRED)), 15,
               "the expiry notices")
    wait_until(lambda: [d for d in receiver.events() if d["event"]["contractId"] == contract_id
                        and d["event"]["type"] == "contract.expired"], 15, "the webhook")
    time.sleep(1.5)  # both replicas keep sweeping: nothing may happen twice

    assert [e["type"] for e in _events(client, contract_id)].count("contract.expired") == 1
    assert [e.type for e in webhooks.outbox_of(replicas.ctx.sessions, contract_id)].count(webhooks.EXPIRED) == 1
    assert len([d for d in receiver.events() if d["event"]["contractId"] == contract_id
                and d["event"]["type"] == "contract.expired"]) == 1
    sent = _notices(replicas, contract_id, notices.EXPIRED)
    assert sorted(n.signer_id for n in sent) == sorted(s["signerId"] for s in contract["signers"])
    for signer in contract["signers"]:
        expired = [m for m in _outbox(client, signer["mobile"]) if "签署已关闭" in m["body"]]
        assert len(expired) == 1 and contract["title"] in expired[0]["body"]
    notified = [e for e in _events(client, contract_id) if e["type"] == "signer.notified"]
    assert sorted(e["details"]["kind"] for e in notified) == ["EXPIRED", "EXPIRED"]


def test_the_signer_whose_turn_it_is_is_reminded_on_the_cadence_with_a_sign_link_up_to_the_maximum(
        business, template, replicas):
    contract = create_contract(business, template["templateId"])
    contract_id = contract["contractId"]
    first, second = signer_of(contract, "lender"), signer_of(contract, "borrower")
    wait_until(lambda: [n.seq for n in _notices(replicas, contract_id, notices.REMINDER)
                        if n.status == notices.SENT] == [1, 2], 15, "two reminders")
    time.sleep(3.5)  # a third cadence passes: the maximum is two
    reminders = _notices(replicas, contract_id, notices.REMINDER)
    assert [(n.signer_id, n.seq, n.status) for n in reminders] == [
        (first["signerId"], 1, notices.SENT), (first["signerId"], 2, notices.SENT)]
    messages = [m for m in _outbox(business, first["mobile"]) if contract["title"] in m["body"] and "签署链接" in m["body"]]
    assert len(messages) == 2
    links = {m["body"].rsplit("签署链接：", 1)[1] for m in messages}
    assert len(links) == 2 and all("/sign/" in link for link in links)  # a fresh one-time link each time
    assert not [m for m in _outbox(business, second["mobile"]) if contract["title"] in m["body"]]


def test_reminders_stop_when_the_signer_signs_and_when_the_contract_closes(business, template, replicas):
    contract = create_contract(business, template["templateId"])
    contract_id = contract["contractId"]
    first, second = signer_of(contract, "lender"), signer_of(contract, "borrower")
    wait_until(lambda: any(n.status == notices.SENT for n in _notices(replicas, contract_id, notices.REMINDER)), 15,
               "the first reminder")
    sign_as(business, contract, "lender")
    wait_until(lambda: any(n.signer_id == second["signerId"] and n.status == notices.SENT
                           for n in _notices(replicas, contract_id, notices.REMINDER)), 15,
               "the second signer's first reminder")
    ok(business.post(f"/v1/contracts/{contract_id}:revoke", {"reason": "测试撤销"}))
    # A reminder decided just before the contract closed is cancelled at delivery, not sent.
    closed = ok(business.get(f"/v1/contracts/{contract_id}"))
    from services.contract import records

    with replicas.ctx.sessions() as session:
        domain = records.find(session, contract_id)
    assert closed["status"] == "REVOKED"
    notices.enqueue(replicas.ctx.sessions, domain, domain.signer(second["signerId"]), notices.REMINDER, 9,
                    datetime.now(timezone.utc))
    time.sleep(4)
    got = [(n.signer_id, n.seq, n.status) for n in _notices(replicas, contract_id, notices.REMINDER)]
    assert (first["signerId"], 1, notices.SENT) in got and (second["signerId"], 1, notices.SENT) in got
    assert (second["signerId"], 9, notices.CANCELLED) in got
    assert len(got) == 3, got  # no second reminder to the first signer after signing, none after revocation


def _grant(client, organisation: dict, template_id: str, **extra) -> dict:
    body = {"organisationName": organisation["name"], "organisation": organisation["subject"],
            "templateIds": [template_id], "amountLimit": "100000", "endTime": rfc3339_in(3600), **extra}
    return ok(client.post("/v1/signingGrants", {"grant": body}))["grant"]


def _sign_calls(fake_signing, contract_id: str, signer_id: str) -> list:
    return [c for c in fake_signing.service.calls
            if c.method == "SignDocument" and c.contract_id == contract_id and c.signer_id == signer_id]


def test_a_grant_signs_covered_contracts_once_with_the_organisations_seal_and_is_cited(
        new_app, template, replicas, fake_signing):
    client = new_app("delegation")
    organisation = lender()
    grant = _grant(client, organisation, template["templateId"])
    assert grant["status"] == "ACTIVE" and grant["subjectId"] and len(grant["sha256"]) == 64
    covered = create_contract(client, template["templateId"], signers=[organisation, borrower()], amount="50000.00")
    too_big = create_contract(client, template["templateId"], signers=[dict(organisation), borrower()],
                              amount="200000")
    org_signer = signer_of(covered, "lender")
    wait_until(lambda: signer_of(_status(client, covered["contractId"]), "lender")["status"] == "SIGNED", 15,
               "the delegated signature")
    time.sleep(1.5)  # both replicas keep looking

    calls = _sign_calls(fake_signing, covered["contractId"], org_signer["signerId"])
    assert len(calls) == len(covered["documents"]) == 1
    intent = calls[0].request.intent
    assert intent.token_id == f"grant:{grant['grantId']}:{org_signer['signerId']}"
    assert intent.challenge_id == grant["grantId"] and calls[0].request.signer.kind == 2  # ORG
    assert common_pb2.IntentMethod.Name(intent.method) == "DELEGATION"
    signed = [e for e in _events(client, covered["contractId"]) if e["type"] == "signer.signed"]
    assert len(signed) == 1 and signed[0]["actor"] == f"grant:{grant['grantId']}"
    cited = signed[0]["details"]["delegation"]
    assert cited["grantId"] == grant["grantId"] and cited["grantSha256"] == grant["sha256"]
    assert signed[0]["details"]["intentMethod"] == "DELEGATION"
    assert ok(client.get(f"/v1/signingGrants/{grant['grantId']}"))["grant"]["useCount"] == 1
    assert signer_of(_status(client, too_big["contractId"]), "lender")["status"] == "PENDING"
    assert not _sign_calls(fake_signing, too_big["contractId"], signer_of(too_big, "lender")["signerId"])

    listed = ok(client.get("/v1/signingGrants"))["grants"]
    assert [g["grantId"] for g in listed] == [grant["grantId"]]
    revoked = ok(client.post(f"/v1/signingGrants/{grant['grantId']}:revoke", {"reason": "授权到期前收回"}))["grant"]
    assert revoked["status"] == "REVOKED" and revoked["revokeTime"]
    after = create_contract(client, template["templateId"], signers=[dict(organisation), borrower()], amount="10")
    time.sleep(1.5)
    assert signer_of(_status(client, after["contractId"]), "lender")["status"] == "PENDING"
    assert not _sign_calls(fake_signing, after["contractId"], signer_of(after, "lender")["signerId"])
    again = client.post(f"/v1/signingGrants/{grant['grantId']}:revoke", {})
    assert again.status_code == 400 and "REVOKED" in again.json()["message"]
    other = new_app("delegation-other")
    assert other.get(f"/v1/signingGrants/{grant['grantId']}").status_code == 404


def test_a_grant_refuses_bad_input(business, template):
    organisation = lender()
    bad = business.post("/v1/signingGrants", {"grant": {
        "organisationName": organisation["name"], "organisation": {"idType": "ID_CARD", "id": "x"},
        "templateIds": [], "amountLimit": "lots", "endTime": rfc3339_in(-60)}})
    assert bad.status_code == 400 and bad.json()["code"] == 3


def test_revocation_takes_effect_on_a_signature_under_way(new_app, template, replicas, fake_signing):
    client = new_app("delegation-inflight")
    organisation = lender()
    grant = _grant(client, organisation, template["templateId"])
    barrier = threading.Barrier(2)
    fake_signing.service.barrier = barrier
    try:
        contract = create_contract(client, template["templateId"], signers=[organisation, borrower()], amount="1")
        wait_until(lambda: barrier.n_waiting == 1, 15, "the delegated signing to reach the signing service")
        ok(client.post(f"/v1/signingGrants/{grant['grantId']}:revoke", {"reason": "立即收回"}))
        barrier.wait(timeout=10)  # let the signature under way finish, after the revocation
    finally:
        fake_signing.service.barrier = None
    time.sleep(1.5)
    assert signer_of(_status(client, contract["contractId"]), "lender")["status"] == "PENDING"
    assert "signer.signed" not in [e["type"] for e in _events(client, contract["contractId"])]
    with replicas.ctx.sessions() as session:
        row = session.get(DelegatedSigningRow, (contract["contractId"], signer_of(contract, "lender")["signerId"]))
        assert row.status != "DONE" and "revoked" in row.last_error
    assert ok(client.get(f"/v1/signingGrants/{grant['grantId']}"))["grant"]["useCount"] == 0


def test_work_that_fell_due_while_every_replica_was_down_is_done_once_after_the_restart(
        new_app, template, receiver, replicas, fake_signing):
    client = _hooked(new_app, receiver, "restart")
    organisation = lender()
    _grant(client, organisation, template["templateId"], startTime=rfc3339_in(4))
    expiring = create_contract(client, template["templateId"], expireTime=rfc3339_in(4))
    delegated = create_contract(client, template["templateId"], signers=[organisation, borrower()], amount="1")
    replicas.stop()
    try:
        time.sleep(5)  # the expiry passes and the grant starts while nothing runs
    finally:
        replicas.start(fake_signing.address)
    wait_until(lambda: _status(client, expiring["contractId"])["status"] == "EXPIRED", 15, "expiry after the restart")
    wait_until(lambda: signer_of(_status(client, delegated["contractId"]), "lender")["status"] == "SIGNED", 15,
               "delegated signing after the restart")
    wait_until(lambda: len([n for n in _notices(replicas, expiring["contractId"], notices.EXPIRED)
                            if n.status == notices.SENT]) == 2, 15, "expiry notices after the restart")
    time.sleep(1.5)
    assert [e["type"] for e in _events(client, expiring["contractId"])].count("contract.expired") == 1
    assert len(_sign_calls(fake_signing, delegated["contractId"], signer_of(delegated, "lender")["signerId"])) == 1
    wait_until(lambda: [d for d in receiver.events() if d["event"]["contractId"] == expiring["contractId"]], 15,
               "the expiry webhook")
    with replicas.ctx.sessions() as session:
        done = session.scalars(sa.select(DelegatedSigningRow.status)
                               .where(DelegatedSigningRow.contract_id == delegated["contractId"])).all()
    assert done == ["DONE"]


def test_a_first_reminder_that_fell_due_while_every_replica_was_down_is_sent_once_after_the_restart(
        business, template, replicas, fake_signing):
    # One reminder at most, so whatever the restart costs on a busy machine, a second cannot
    # legitimately follow: any second message would be the first one sent twice.
    cadence = 8.0  # time enough to stop both replicas before it falls due
    with replicas.reconfigured(reminder_seconds=cadence, reminder_max=1):
        contract = create_contract(business, template["templateId"])
        contract_id, first = contract["contractId"], signer_of(contract, "lender")
        replicas.stop()
        try:
            assert not _notices(replicas, contract_id, notices.REMINDER)
            created = datetime.fromisoformat(contract["createTime"].replace("Z", "+00:00"))
            due = created + timedelta(seconds=cadence + 1)
            time.sleep(max(0.0, (due - datetime.now(timezone.utc)).total_seconds()))  # it falls due while nothing runs
        finally:
            replicas.start(fake_signing.address)
        wait_until(lambda: [n for n in _notices(replicas, contract_id, notices.REMINDER) if n.status == notices.SENT],
                   15, "the reminder after the restart")
        time.sleep(2)  # both replicas keep deciding and delivering: nothing may happen twice

        reminders = _notices(replicas, contract_id, notices.REMINDER)
        assert [(n.signer_id, n.seq, n.status, n.attempts) for n in reminders] == [
            (first["signerId"], 1, notices.SENT, 1)]
        messages = [m for m in _outbox(business, first["mobile"]) if contract["title"] in m["body"]]
        assert len(messages) == 1 and messages[0]["messageId"] == reminders[0].notice_id
        assert "签署链接：" in messages[0]["body"] and "/sign/" in messages[0]["body"]
        notified = [e for e in _events(business, contract_id) if e["type"] == "signer.notified"]
        assert [(e["signerId"], e["details"]["kind"], e["details"]["number"]) for e in notified] == [
            (first["signerId"], "REMINDER", "1")]


def test_a_signer_with_only_an_email_address_gets_the_reminder_and_the_expiry_notice_by_email(
        business, template, replicas):
    import httpx

    reminded = create_contract(business, template["templateId"], signers=[lender(mobile=""), borrower()])
    expiring = create_contract(business, template["templateId"], signers=[lender(mobile=""), borrower(mobile="")],
                               expireTime=rfc3339_in(2.5))
    first = signer_of(reminded, "lender")
    assert not first["mobile"] and first["email"]

    (reminder,) = wait_until(lambda: [n for n in _notices(replicas, reminded["contractId"], notices.REMINDER)
                                      if n.seq == 1 and n.status == notices.SENT], 20, "the first reminder")
    assert (reminder.signer_id, reminder.channel, reminder.recipient) == (first["signerId"], "EMAIL", first["email"])
    (mail,) = [m for m in _outbox(business, first["email"]) if m["messageId"] == reminder.notice_id]
    assert mail["channel"] == "EMAIL" and mail["subject"] == f"【电子合同】请签署合同《{reminded['title']}》"
    assert f"{first['name']}，您好：合同《{reminded['title']}》等待您签署" in mail["body"]
    link = mail["body"].rsplit("签署链接：", 1)[1].strip()
    page = httpx.get(link, timeout=30, follow_redirects=True)
    assert page.status_code == 200 and reminded["title"] in page.text, page.text[:500]

    wait_until(lambda: _status(business, expiring["contractId"])["status"] == "EXPIRED", 20, "expiry")

    def both_told() -> list[notices.Notice]:
        sent = [n for n in _notices(replicas, expiring["contractId"], notices.EXPIRED) if n.status == notices.SENT]
        return sent if len(sent) == 2 else []

    told = wait_until(both_told, 20, "both expiry notices")
    for signer in expiring["signers"]:
        (notice,) = [n for n in told if n.signer_id == signer["signerId"]]
        assert (notice.channel, notice.recipient) == ("EMAIL", signer["email"])
        (mail,) = [m for m in _outbox(business, signer["email"]) if m["messageId"] == notice.notice_id]
        assert mail["channel"] == "EMAIL" and mail["subject"] == f"【电子合同】合同《{expiring['title']}》已过期"
        assert "签署已关闭" in mail["body"] and "签署链接" not in mail["body"]
    notified = [e for e in _events(business, expiring["contractId"]) if e["type"] == "signer.notified"]
    assert sorted((e["details"]["channel"], e["details"]["recipient"]) for e in notified) == sorted(
        ("EMAIL", notices.masked(s["email"])) for s in expiring["signers"])
    assert all("@example.com" in e["details"]["recipient"] and "***" in e["details"]["recipient"] for e in notified)


def test_no_one_can_start_a_delegation_intent_it_comes_only_from_a_grant(business, template):
    contract = create_contract(business, template["templateId"])
    org = signer_of(contract, "lender")
    refused = business.post("/v1/intents", {"signerId": org["signerId"], "contractIds": [contract["contractId"]],
                                            "method": "DELEGATION"})
    assert refused.status_code == 400 and refused.json()["code"] == 3, refused.text
    assert "method" in refused.json()["message"]
    assert not [m for m in _outbox(business, org["mobile"]) + _outbox(business, org["email"]) if m.get("challengeId")]
