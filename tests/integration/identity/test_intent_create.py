"""CreateIntent and the whole intent flow against a stand-in contract service answering
GetSigningContext: over gRPC and through a REST gateway, in dev mode and outside it."""
import base64
import re
import secrets

import grpc
import pytest

from econtract.common.v1 import common_pb2
from econtract.identity.v1 import identity_pb2 as pb
from services.identity.config import IdentityConfig
from services.identity.provider_http import ProviderEndpoint
from tests.integration.identity.platform import (
    SignerFixture,
    random_credit_code,
    random_email,
    random_id_number,
    random_mobile,
    start_identity,
)


@pytest.fixture
def signer(fake_contract, business_line) -> SignerFixture:
    """A pending signer of one SIGNING contract of ``business_line``, with fresh contacts."""
    fixture = SignerFixture(
        signer_id="sg_" + secrets.token_hex(6), app_id=business_line.app_id,
        id_value=random_id_number(), mobile=random_mobile(), email=random_email(),
    )
    fixture.add_contract("ct_" + secrets.token_hex(6))
    fake_contract.service.signers[fixture.signer_id] = fixture
    return fixture


def create(stub, signer: SignerFixture, method=common_pb2.SMS, app=None, contracts=None) -> pb.CreateIntentResponse:
    return stub.CreateIntent(
        pb.CreateIntentRequest(signer_id=signer.signer_id, contract_ids=contracts or list(signer.contracts), method=method),
        metadata=[("x-app-id", app or signer.app_id)],
    )


def error_of(call) -> grpc.RpcError:
    with pytest.raises(grpc.RpcError) as caught:
        call()
    return caught.value


def latest_code(stub, recipient: str) -> str:
    [message, *_] = stub.ListDevOutbox(pb.ListDevOutboxRequest(recipient=recipient)).messages
    return message.code


def set_policy(mesh, business_line, policy: dict) -> None:
    reply = business_line.rest(mesh.base_url).request("PATCH", "/v1/apps/self", {"intentPolicy": policy})
    assert reply.status_code == 200, reply.text


def test_sms_intent_from_code_to_consumed_token(dev_identity, signer):
    stub = dev_identity.stub
    started = create(stub, signer)
    assert started.method == common_pb2.SMS and started.challenge_id.startswith("ch_")
    assert started.recipient == signer.mobile[:3] + "****" + signer.mobile[-4:]
    assert started.expire_time.seconds > started.resend_time.seconds > 0

    code = latest_code(stub, signer.mobile)
    confirmed = stub.ConfirmIntent(pb.ConfirmIntentRequest(challenge_id=started.challenge_id, code=code),
                                   metadata=[("x-app-id", signer.app_id)])
    [contract_id] = signer.contracts
    hashes = list(signer.contracts[contract_id][1])
    claims = stub.ConsumeIntentToken(pb.ConsumeIntentTokenRequest(
        intent_token=confirmed.intent_token, signer_id=signer.signer_id, contract_id=contract_id,
        document_sha256=hashes)).claims
    assert claims.app_id == signer.app_id and claims.method == common_pb2.SMS
    subject = stub.ResolveSubject(pb.ResolveSubjectRequest(subject=common_pb2.SubjectRef(id_type="ID_CARD", id=signer.id_value)))
    assert claims.subject_id == subject.subject.subject_id  # the signer's subject was recorded on the way


def test_email_intent(dev_identity, signer):
    started = create(dev_identity.stub, signer, common_pb2.EMAIL)
    assert re.fullmatch(r"s\*\*\*@example\.com", started.recipient)
    [message] = dev_identity.stub.ListDevOutbox(pb.ListDevOutboxRequest(recipient=signer.email.upper())).messages
    assert message.channel == pb.OutboxMessage.EMAIL and message.subject and message.code in message.body


def test_combined_signing_binds_every_contract(dev_identity, signer):
    second = "ct_" + secrets.token_hex(6)
    signer.add_contract(second, documents=(b"%PDF main", b"%PDF annex"))
    started = create(dev_identity.stub, signer)
    confirmed = dev_identity.stub.ConfirmIntent(pb.ConfirmIntentRequest(
        challenge_id=started.challenge_id, code=latest_code(dev_identity.stub, signer.mobile)))
    assert list(confirmed.contract_ids) == list(signer.contracts)
    claims = dev_identity.stub.ConsumeIntentToken(pb.ConsumeIntentTokenRequest(
        intent_token=confirmed.intent_token, signer_id=signer.signer_id, contract_id=second,
        document_sha256=list(signer.contracts[second][1]))).claims
    assert set(claims.document_hashes) == set(signer.contracts)


@pytest.mark.parametrize(
    ("change", "code", "words"),
    [
        (dict(status="COMPLETED"), grpc.StatusCode.FAILED_PRECONDITION, "only SIGNING"),
        (dict(signer_status="SIGNED"), grpc.StatusCode.FAILED_PRECONDITION, "is SIGNED"),
        (dict(turn=False), grpc.StatusCode.FAILED_PRECONDITION, "turn"),
    ],
)
def test_contract_state_is_checked(dev_identity, signer, change, code, words):
    [contract_id] = signer.contracts
    signer.add_contract(contract_id, **change)
    error = error_of(lambda: create(dev_identity.stub, signer))
    assert error.code() == code and words in error.details()


def test_contracts_of_another_business_line_look_missing(dev_identity, signer):
    error = error_of(lambda: create(dev_identity.stub, signer, app="app_other"))
    assert error.code() == grpc.StatusCode.NOT_FOUND
    error = error_of(lambda: create(dev_identity.stub, signer, contracts=["ct_unknown"]))
    assert error.code() == grpc.StatusCode.NOT_FOUND


def test_bad_requests(dev_identity, signer):
    error = error_of(lambda: create(dev_identity.stub, signer, common_pb2.INTENT_METHOD_UNSPECIFIED))
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT and "method" in error.details()
    error = error_of(lambda: create(dev_identity.stub, signer, contracts=["ct_a", "ct_a"]))
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT and "distinct" in error.details()


def test_a_signer_without_mobile_cannot_get_sms(dev_identity, signer):
    signer.mobile = ""
    error = error_of(lambda: create(dev_identity.stub, signer))
    assert error.code() == grpc.StatusCode.FAILED_PRECONDITION and "no mobile number" in error.details()


def test_policy_refuses_a_method_the_business_line_does_not_allow(mesh, dev_identity, signer, business_line):
    set_policy(mesh, business_line, {"allowedMethods": ["EMAIL"]})
    error = error_of(lambda: create(dev_identity.stub, signer))
    assert error.code() == grpc.StatusCode.PERMISSION_DENIED and "not allowed" in error.details()
    assert create(dev_identity.stub, signer, common_pb2.EMAIL).challenge_id


def test_face_above_an_amount_and_the_fake_face_check(mesh, dev_identity, signer, business_line):
    set_policy(mesh, business_line, {"faceAboveAmount": "50000.00"})
    [contract_id] = signer.contracts
    signer.add_contract(contract_id, amount="120000.00")
    error = error_of(lambda: create(dev_identity.stub, signer))
    assert error.code() == grpc.StatusCode.PERMISSION_DENIED and "FACE above an amount" in error.details()

    started = create(dev_identity.stub, signer, common_pb2.FACE)
    assert started.method == common_pb2.FACE and started.recipient == ""
    wrong_way = error_of(lambda: dev_identity.stub.ConfirmIntent(
        pb.ConfirmIntentRequest(challenge_id=started.challenge_id, code="123456")))
    assert wrong_way.code() == grpc.StatusCode.INVALID_ARGUMENT and "face check" in wrong_way.details()
    confirmed = dev_identity.stub.ConfirmIntent(
        pb.ConfirmIntentRequest(challenge_id=started.challenge_id, face_result=b"selfie video"),
        metadata=[("x-app-id", signer.app_id)])
    claims = dev_identity.stub.ConsumeIntentToken(pb.ConsumeIntentTokenRequest(
        intent_token=confirmed.intent_token, signer_id=signer.signer_id, contract_id=contract_id,
        document_sha256=list(signer.contracts[contract_id][1]))).claims
    assert claims.method == common_pb2.FACE and claims.face_reference.startswith("fake_") and claims.recipient == ""
    used = error_of(lambda: dev_identity.stub.ConfirmIntent(
        pb.ConfirmIntentRequest(challenge_id=started.challenge_id, face_result=b"selfie video")))
    assert used.code() == grpc.StatusCode.FAILED_PRECONDITION


def test_an_organisations_face_check_needs_the_person_facing_the_camera(mesh, dev_identity, signer):
    signer.kind, signer.id_type, signer.id_value, signer.name = "ORG", "USCC", random_credit_code(), "某某有限公司"
    error = error_of(lambda: create(dev_identity.stub, signer, common_pb2.FACE))
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "facePerson" in error.details() and "legal representative or an authorised agent" in error.details()


def test_real_name_level_required_by_the_policy(mesh, client, dev_identity, signer, business_line):
    set_policy(mesh, business_line, {"requiredRealNameLevel": "FORMAT_ONLY"})
    error = error_of(lambda: create(dev_identity.stub, signer))
    assert error.code() == grpc.StatusCode.FAILED_PRECONDITION and "real-name level FORMAT_ONLY" in error.details()
    verified = client.post("/v1/identities:verifyPerson", {"name": signer.name, "idNumber": signer.id_value}).json()
    assert verified["verified"]
    assert create(dev_identity.stub, signer).challenge_id


def test_inconsistent_policies_are_refused_when_set(mesh, business_line):
    reply = business_line.rest(mesh.base_url).request(
        "PATCH", "/v1/apps/self", {"intentPolicy": {"allowedMethods": ["SMS"], "requiredMethods": ["FACE"]}})
    assert reply.status_code == 400 and "requiredMethods" in reply.text


# -- through REST ----------------------------------------------------------------------


def test_rest_flow_send_read_outbox_confirm(dev_gateway, signer, business_line):
    rest = business_line.rest(dev_gateway.base_url)
    [contract_id] = signer.contracts
    reply = rest.post("/v1/intents", {"signerId": signer.signer_id, "contractIds": [contract_id], "method": "SMS"})
    assert reply.status_code == 200, reply.text
    started = reply.json()
    assert started["challengeId"].startswith("ch_") and started["method"] == "SMS"
    assert signer.mobile not in reply.text

    outbox = rest.get(f"/v1/dev/outbox?recipient={signer.mobile}")
    assert outbox.status_code == 200, outbox.text
    [message] = outbox.json()["messages"]
    code = re.search(r"验证码为(\d{6})", message["body"]).group(1)
    assert message["challengeId"] == started["challengeId"] and message["channel"] == "SMS"

    confirmed = rest.post(f"/v1/intents/{started['challengeId']}:confirm", {"code": code})
    assert confirmed.status_code == 200, confirmed.text
    assert confirmed.json()["signerId"] == signer.signer_id and confirmed.json()["contractIds"] == [contract_id]

    again = rest.post("/v1/intents", {"signerId": signer.signer_id, "contractIds": [contract_id], "method": "SMS"})
    assert again.status_code == 429 and "retry in" in again.json()["message"]  # the 60 s cooldown per recipient


def test_rest_face_confirmation(mesh, dev_gateway, signer, business_line):
    rest = business_line.rest(dev_gateway.base_url)
    started = rest.post("/v1/intents", {"signerId": signer.signer_id, "contractIds": list(signer.contracts),
                                        "method": "FACE"}).json()
    confirmed = rest.post(f"/v1/intents/{started['challengeId']}:confirm",
                          {"faceResult": base64.b64encode(b"liveness video").decode()})
    assert confirmed.status_code == 200, confirmed.text


# -- outside dev mode ------------------------------------------------------------------


def test_outside_dev_mode_codes_are_never_silently_dropped(prod_identity, prod_gateway, signer, business_line):
    error = error_of(lambda: create(prod_identity.stub, signer))
    assert error.code() == grpc.StatusCode.FAILED_PRECONDITION and "no SMS sender configured" in error.details()
    error = error_of(lambda: create(prod_identity.stub, signer, common_pb2.EMAIL))
    assert "no EMAIL sender configured" in error.details()
    error = error_of(lambda: create(prod_identity.stub, signer, common_pb2.FACE))
    assert "no face verifier configured" in error.details()
    reply = business_line.rest(prod_gateway.base_url).post(
        "/v1/intents", {"signerId": signer.signer_id, "contractIds": list(signer.contracts), "method": "SMS"})
    assert reply.status_code == 400 and "no SMS sender configured" in reply.json()["message"]


def test_outside_dev_mode_sms_goes_through_the_configured_gateway(mesh, fake_contract, provider, signer):
    provider.answers = [(200, {"code": "OK", "messageId": "sms-1"})]
    config = IdentityConfig(sms=ProviderEndpoint(provider.url, "key", "secret", allow_insecure_http=True, attempts=1))
    server = start_identity(mesh.env, config, ECONTRACT_ENV="prod", CONTRACT_ADDR=fake_contract.address)
    try:
        started = create(server.stub, signer)
        [request] = provider.requests
        sent = request.json()
        assert request.path == "/v1/sms/send" and sent["phoneNumber"] == signer.mobile
        code = re.search(r"验证码为(\d{6})", sent["content"]).group(1)
        confirmed = server.stub.ConfirmIntent(pb.ConfirmIntentRequest(challenge_id=started.challenge_id, code=code))
        assert confirmed.intent_token
    finally:
        server.stop()


def test_several_required_methods_are_gathered_into_one_token(mesh, dev_identity, signer, business_line):
    set_policy(mesh, business_line, {"requiredMethods": ["SMS", "FACE"]})
    stub, metadata = dev_identity.stub, [("x-app-id", signer.app_id)]
    [contract_id] = signer.contracts
    hashes = list(signer.contracts[contract_id][1])
    sms = stub.ConfirmIntent(pb.ConfirmIntentRequest(
        challenge_id=create(stub, signer).challenge_id, code=latest_code(stub, signer.mobile)), metadata=metadata)
    assert list(sms.methods) == [common_pb2.SMS] and list(sms.missing_methods) == [common_pb2.FACE]

    def consume(token: str):
        return stub.ConsumeIntentToken(pb.ConsumeIntentTokenRequest(
            intent_token=token, signer_id=signer.signer_id, contract_id=contract_id, document_sha256=hashes))

    partial = error_of(lambda: consume(sms.intent_token))
    assert partial.code() == grpc.StatusCode.PERMISSION_DENIED
    assert partial.details() == "this business line requires every one of FACE, SMS; missing FACE"
    both = stub.ConfirmIntent(pb.ConfirmIntentRequest(
        challenge_id=create(stub, signer, common_pb2.FACE).challenge_id, face_result=b"selfie video",
        intent_token=sms.intent_token), metadata=metadata)
    assert set(both.methods) == {common_pb2.SMS, common_pb2.FACE} and not both.missing_methods
    consumed = consume(both.intent_token)
    assert set(consumed.methods) == {common_pb2.SMS, common_pb2.FACE}
    assert consumed.claims.recipient == sms_recipient(signer) and consumed.claims.face_reference.startswith("fake_")
    still_partial = error_of(lambda: consume(sms.intent_token))  # the SMS-only token alone still cannot sign
    assert still_partial.code() == grpc.StatusCode.PERMISSION_DENIED


def sms_recipient(signer: SignerFixture) -> str:
    return signer.mobile[:3] + "****" + signer.mobile[-4:]


def test_the_agent_who_took_an_organisations_face_check_is_in_the_evidence(mesh, dev_identity, signer, business_line):
    stub = dev_identity.stub
    signer.kind, signer.id_type, signer.id_value, signer.name = "ORG", "USCC", random_credit_code(), "某某有限公司"
    agent_id = random_id_number()
    agent = stub.UpsertSubject(pb.UpsertSubjectRequest(
        kind=common_pb2.PERSON, name="李四", identifiers=[common_pb2.SubjectRef(id_type="ID_CARD", id=agent_id)])).subject
    stub.UpsertSubject(pb.UpsertSubjectRequest(
        kind=common_pb2.ORG, name=signer.name, legal_representative="王五",
        identifiers=[common_pb2.SubjectRef(id_type="USCC", id=signer.id_value)],
        authorized_agents=[common_pb2.SubjectRef(id_type="ID_CARD", id=agent_id)]))
    started = stub.CreateIntent(pb.CreateIntentRequest(
        signer_id=signer.signer_id, contract_ids=list(signer.contracts), method=common_pb2.FACE,
        face_person=pb.FacePerson(id_number=agent_id)), metadata=[("x-app-id", signer.app_id)])
    confirmed = stub.ConfirmIntent(pb.ConfirmIntentRequest(challenge_id=started.challenge_id, face_result=b"video"))
    [contract_id] = signer.contracts
    consumed = stub.ConsumeIntentToken(pb.ConsumeIntentTokenRequest(
        intent_token=confirmed.intent_token, signer_id=signer.signer_id, contract_id=contract_id,
        document_sha256=list(signer.contracts[contract_id][1])))
    assert consumed.face_person_subject_id == agent.subject_id and consumed.face_person_basis == "AUTHORISED_AGENT"
    assert consumed.claims.subject_id != agent.subject_id  # the organisation signs; the agent faced the camera
