"""ContractService.RecordSigningConsent and GetSigningContext's consent_time: the consent
to cloud signing, once per subject, kept in each contract's audit trail."""
from __future__ import annotations

import grpc
import pytest

from econtract.contract.v1 import contract_pb2
from econtract.contract.v1 import contract_pb2_grpc
from tests.integration.contract.helpers import borrower, create_contract, lender, ok, signer_of


@pytest.fixture(scope="module")
def stub(mesh):
    channel = grpc.insecure_channel(mesh.env["CONTRACT_ADDR"])
    yield contract_pb2_grpc.ContractServiceStub(channel)
    channel.close()


def _context(stub, signer_id: str, contract_id: str):
    return stub.GetSigningContext(contract_pb2.GetSigningContextRequest(signer_id=signer_id, contract_ids=[contract_id]))


def test_consent_is_recorded_once_and_known_for_the_subject(business_line, stub):
    line = business_line()
    person = borrower(order=1)
    first = create_contract(line.client, line.template_id, signers=[lender(order=2), dict(person)])
    second = create_contract(line.client, line.template_id, signers=[lender(order=2), dict(person)])
    signer_id = signer_of(first, "borrower")["signerId"]
    assert not _context(stub, signer_id, first["contractId"]).HasField("consent_time")

    reply = stub.RecordSigningConsent(
        contract_pb2.RecordSigningConsentRequest(signer_id=signer_id, contract_ids=[first["contractId"]], text="同意开通云签"),
        metadata=[("x-app-id", line.client.app_id), ("x-client-ip", "203.0.113.5")])
    assert reply.HasField("consent_time")
    # Known for the same person on another contract, before anything was recorded there.
    later = _context(stub, signer_of(second, "borrower")["signerId"], second["contractId"])
    assert later.consent_time == reply.consent_time

    events = ok(line.client.get(f"/v1/contracts/{first['contractId']}/events"))
    consented = [e for e in events["events"] if e["type"] == "signer.consented"]
    assert len(consented) == 1 and events["chainVerified"] is True
    assert consented[0]["details"]["text"] == "同意开通云签" and consented[0]["ip"] == "203.0.113.5"
    assert consented[0]["actor"] == f"signer:{signer_id}"


def test_consent_is_refused_without_text_or_for_another_app(business_line, stub):
    line = business_line()
    contract = create_contract(line.client, line.template_id, signers=[lender(order=2), borrower(order=1)])
    request = contract_pb2.RecordSigningConsentRequest(signer_id=signer_of(contract, "borrower")["signerId"],
                                                       contract_ids=[contract["contractId"]], text="")
    with pytest.raises(grpc.RpcError) as empty:
        stub.RecordSigningConsent(request)
    assert empty.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    request.text = "同意"
    with pytest.raises(grpc.RpcError) as foreign:
        stub.RecordSigningConsent(request, metadata=[("x-app-id", "app_someone_else")])
    assert foreign.value.code() == grpc.StatusCode.NOT_FOUND
