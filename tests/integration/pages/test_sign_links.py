"""``:signUrl`` through REST: the refusals a business line gets, with their code and
message, and what the link table keeps (the token's SHA-256, never the token)."""
from __future__ import annotations

import hashlib

import sqlalchemy as sa

from services.contract.store import SignLinkRow
from tests.integration.contract.helpers import borrower, create_contract, error, lender, ok, sign_as, signer_of

FAILED_PRECONDITION, NOT_FOUND = 9, 5


def _sign_url(client, contract: dict, signer_id: str):
    return client.post(f"/v1/contracts/{contract['contractId']}:signUrl",
                       {"signerId": signer_id, "source": "PC", "scene": "NORMAL"})


def test_a_signer_who_already_signed_gets_no_link(business_line):
    line = business_line()
    contract = create_contract(line.client, line.template_id, signers=[lender(order=2), borrower(order=1)])
    sign_as(line.client, contract, "borrower")
    signer_id = signer_of(contract, "borrower")["signerId"]
    body = error(_sign_url(line.client, contract, signer_id), 400, FAILED_PRECONDITION)
    assert body["message"] == (f"signer {signer_id} is SIGNED on contract {contract['contractId']}; "
                               "there is nothing to sign")
    ok(_sign_url(line.client, contract, signer_of(contract, "lender")["signerId"]))  # the other signer still may


def test_no_link_for_a_closed_contract_or_a_stranger(business_line):
    line = business_line()
    contract = create_contract(line.client, line.template_id, signers=[lender(order=2), borrower(order=1)])
    ok(line.client.post(f"/v1/contracts/{contract['contractId']}:revoke", {"reason": "借款申请已撤回"}))
    body = error(_sign_url(line.client, contract, signer_of(contract, "borrower")["signerId"]), 400,
                 FAILED_PRECONDITION)
    assert body["message"] == (f"contract {contract['contractId']} is REVOKED (借款申请已撤回); "
                               "only a SIGNING contract can change")
    other = create_contract(line.client, line.template_id, signers=[lender(order=2), borrower(order=1)])
    stranger = signer_of(other, "borrower")["signerId"]  # a signer of another contract
    body = error(_sign_url(line.client, contract, stranger), 404, NOT_FOUND)
    assert stranger in body["message"]


def test_the_link_table_keeps_only_the_tokens_hash(business_line, mesh):
    line = business_line()
    contract = create_contract(line.client, line.template_id, signers=[lender(order=2), borrower(order=1)])
    url = ok(_sign_url(line.client, contract, signer_of(contract, "borrower")["signerId"]))["url"]
    token = url.rsplit("/sign/", 1)[1]
    assert len(token) == 43
    with mesh.contexts["contract"].sessions() as session:
        rows = session.execute(sa.select(SignLinkRow).where(SignLinkRow.contract_id == contract["contractId"])).scalars()
        [row] = list(rows)
        stored = session.execute(sa.select(*SignLinkRow.__table__.columns)
                                 .where(SignLinkRow.contract_id == contract["contractId"])).one()
    assert row.token_hash == hashlib.sha256(token.encode()).hexdigest()
    assert row.signer_id == signer_of(contract, "borrower")["signerId"] and row.used_at is None
    assert not any(token in str(value) for value in stored)  # in no column, not even in part of one
    events = ok(line.client.get(f"/v1/contracts/{contract['contractId']}/events"))["events"]
    assert token not in str(events)  # nor in the audit trail
