"""Intent tokens at the real signing boundary, through REST (`POST /v1/contracts/{id}:sign`
with the mesh's own signing service): a real token signs only its own signer's contract
and documents, once; and a business line whose policy needs several intent methods gets
a signature only once every one of them was confirmed into the token; an organisation's
face check is taken by its legal representative (by the ID number on record, or by name
when there is none, which the audit trail says) or an authorised agent."""
from __future__ import annotations

import base64
import json
import time
from collections.abc import Iterator
from urllib.parse import urlencode

import grpc
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
    random_id_number,
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


# -- an organisation's face check --------------------------------------------------------


@pytest.fixture(scope="module")
def identity(mesh) -> Iterator:
    from econtract.identity.v1 import identity_pb2_grpc

    channel = grpc.insecure_channel(mesh.env["IDENTITY_ADDR"])
    yield identity_pb2_grpc.IdentityServiceStub(channel)
    channel.close()


def organisation(identity, company: dict, representative: str, agents: list[str], representative_id: str = ""):
    """Record the lender's organisation with its legal representative (and their ID number,
    when given) and agents (by ID number)."""
    from econtract.common.v1 import common_pb2
    from econtract.identity.v1 import identity_pb2 as pb

    for number in agents:
        identity.UpsertSubject(pb.UpsertSubjectRequest(
            kind=common_pb2.PERSON, name="李四", identifiers=[common_pb2.SubjectRef(id_type="ID_CARD", id=number)]))
    return identity.UpsertSubject(pb.UpsertSubjectRequest(
        kind=common_pb2.ORG, name=company["name"], legal_representative=representative,
        identifiers=[common_pb2.SubjectRef(id_type=company["subject"]["idType"], id=company["subject"]["id"])],
        authorized_agents=[common_pb2.SubjectRef(id_type="ID_CARD", id=n) for n in agents],
        legal_representative_id_number=representative_id)).subject


def face_for(line, contract: dict, person: dict | None):
    signer = signer_of(contract, "lender")
    body = {"signerId": signer["signerId"], "contractIds": [contract["contractId"]], "method": "FACE"}
    return line.post("/v1/intents", {**body, "facePerson": person} if person is not None else body)


def signs_by_face(line, contract: dict, started: dict) -> None:
    confirmed = ok(line.post(f"/v1/intents/{started['challengeId']}:confirm",
                             {"faceResult": base64.b64encode(b"liveness video").decode()}))
    assert confirmed["methods"] == ["FACE"] and confirmed["missingMethods"] == []
    ok(sign(line, contract["contractId"], signer_of(contract, "lender")["signerId"], confirmed["intentToken"]))
    assert signer_of(ok(line.get(f"/v1/contracts/{contract['contractId']}")), "lender")["status"] == "SIGNED"


def person_id(identity, id_number: str) -> str:
    from econtract.common.v1 import common_pb2
    from econtract.identity.v1 import identity_pb2 as pb

    reply = identity.ResolveSubject(pb.ResolveSubjectRequest(subject=common_pb2.SubjectRef(id_type="ID_CARD", id=id_number)))
    return reply.subject.subject_id


def face_evidence(line, contract: dict) -> list[tuple[str, str, str]]:
    """(event type, face person's subject id, how they were recognised) of the lender's intent and signature."""
    events = ok(line.get(f"/v1/contracts/{contract['contractId']}/events"))["events"]
    lender_id = signer_of(contract, "lender")["signerId"]
    return [(e["type"], e["details"].get("facePersonSubjectId"), e["details"].get("facePersonBasis"))
            for e in events if e.get("signerId") == lender_id and e["type"] in ("intent.verified", "signer.signed")]


def test_an_authorised_agent_takes_the_organisations_face_check(line, template_id, identity, policy):
    set_policy(line, {"allowedMethods": ["SMS", "FACE"], "faceForOrgs": True})
    agent = random_id_number()
    contract = side_by_side(line, template_id)
    organisation(identity, signer_of(contract, "lender"), "王五", [agent])
    signs_by_face(line, contract, ok(face_for(line, contract, {"idNumber": agent})))
    by = person_id(identity, agent)
    assert face_evidence(line, contract) == [("intent.verified", by, "AUTHORISED_AGENT"),
                                             ("signer.signed", by, "AUTHORISED_AGENT")]


def test_the_legal_representative_takes_the_organisations_face_check(line, template_id, identity, policy):
    set_policy(line, {"allowedMethods": ["SMS", "FACE"], "faceForOrgs": True})
    contract = side_by_side(line, template_id)
    recorded = organisation(identity, signer_of(contract, "lender"), "王五", [])
    assert recorded.legal_representative_id_number_set is False
    representative = random_id_number()
    started = ok(face_for(line, contract, {"idNumber": representative, "name": "王五"}))
    signs_by_face(line, contract, started)
    # No ID number on record: recognised by name only, and the evidence says so.
    by = person_id(identity, representative)
    assert face_evidence(line, contract) == [("intent.verified", by, "LEGAL_REPRESENTATIVE_NAME"),
                                             ("signer.signed", by, "LEGAL_REPRESENTATIVE_NAME")]


def test_with_the_legal_representatives_id_number_on_record_a_namesake_is_refused(line, template_id, identity, policy):
    set_policy(line, {"allowedMethods": ["SMS", "FACE"], "faceForOrgs": True})
    contract = side_by_side(line, template_id)
    lender_signer = signer_of(contract, "lender")
    representative = random_id_number()
    recorded = organisation(identity, lender_signer, "王五", [], representative_id=representative)
    assert recorded.legal_representative_id_number_set is True
    assert representative not in str(recorded)  # kept as a keyed hash, never given back

    namesake = random_id_number()
    refused = error(face_for(line, contract, {"idNumber": namesake, "name": "王五"}), 403, PERMISSION_DENIED)
    assert refused["message"] == (f"the person named in facePerson is neither the legal representative nor an "
                                  f"authorised agent of {lender_signer['name']}")
    assert namesake not in json.dumps(refused)

    # The right number passes whatever name is typed: the face check uses the name on record.
    signs_by_face(line, contract, ok(face_for(line, contract, {"idNumber": representative, "name": "王 五"})))
    by = person_id(identity, representative)
    assert face_evidence(line, contract) == [("intent.verified", by, "LEGAL_REPRESENTATIVE_ID_NUMBER"),
                                             ("signer.signed", by, "LEGAL_REPRESENTATIVE_ID_NUMBER")]


def test_the_legal_representatives_id_number_is_checked_on_the_way_in_and_forgotten_with_them(line, identity):
    from econtract.common.v1 import common_pb2
    from econtract.identity.v1 import identity_pb2 as pb

    company, representative = lender(), random_id_number()
    with pytest.raises(grpc.RpcError) as bad:
        organisation(identity, company, "王五", [], representative_id=representative[:-1] + "Y")
    assert bad.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "legalRepresentativeIdNumber" in bad.value.details() and representative[6:14] not in bad.value.details()
    with pytest.raises(grpc.RpcError) as person:
        identity.UpsertSubject(pb.UpsertSubjectRequest(
            kind=common_pb2.PERSON, name="王五", identifiers=[common_pb2.SubjectRef(id_type="ID_CARD", id=random_id_number())],
            legal_representative_id_number=representative))
    assert person.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "only organisations have a legal representative" in person.value.details()
    with pytest.raises(grpc.RpcError) as nameless:
        organisation(identity, company, "", [], representative_id=representative)
    assert nameless.value.code() == grpc.StatusCode.INVALID_ARGUMENT and "legalRepresentative" in nameless.value.details()

    someone_else = random_id_number()  # known as a person of another name
    identity.UpsertSubject(pb.UpsertSubjectRequest(
        kind=common_pb2.PERSON, name="赵六", identifiers=[common_pb2.SubjectRef(id_type="ID_CARD", id=someone_else)]))
    with pytest.raises(grpc.RpcError) as conflict:
        organisation(identity, company, "王五", [], representative_id=someone_else)
    assert conflict.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert "is known as another subject than 王五" in conflict.value.details() and someone_else not in conflict.value.details()

    assert organisation(identity, company, "王五", [], representative_id=representative).legal_representative_id_number_set
    assert not organisation(identity, company, "赵六", []).legal_representative_id_number_set  # a new representative
    assert organisation(identity, company, "赵六", [], representative_id=representative).legal_representative_id_number_set
    # A verification naming another legal representative forgets the number too.
    verified = ok(line.post("/v1/identities:verifyOrg", {"name": company["name"], "creditCode": company["subject"]["id"],
                                                         "legalRepresentative": "钱七"}))
    subject = identity.GetSubject(pb.GetSubjectRequest(subject_id=verified["subjectId"])).subject
    assert subject.legal_representative == "钱七" and not subject.legal_representative_id_number_set


def test_anyone_else_is_refused_for_the_organisations_face_check(line, template_id, identity, policy):
    set_policy(line, {"allowedMethods": ["SMS", "FACE"], "faceForOrgs": True})
    contract = side_by_side(line, template_id)
    lender_signer = signer_of(contract, "lender")
    organisation(identity, lender_signer, "王五", [random_id_number()])
    stranger = random_id_number()
    refused = error(face_for(line, contract, {"idNumber": stranger, "name": "赵六"}), 403, PERMISSION_DENIED)
    assert refused["message"] == (f"the person named in facePerson is neither the legal representative nor an "
                                  f"authorised agent of {lender_signer['name']}")
    assert stranger not in json.dumps(refused)
    unnamed = error(face_for(line, contract, None), 400, 3)
    assert "facePerson" in unnamed["message"] and "legal representative or an authorised agent" in unnamed["message"]
    by_sms = error(line.post("/v1/intents", {"signerId": lender_signer["signerId"],
                                             "contractIds": [contract["contractId"]], "method": "SMS"}),
                   403, PERMISSION_DENIED)
    assert by_sms["message"] == "intent method SMS is not enough: this business line requires FACE for organisations"
