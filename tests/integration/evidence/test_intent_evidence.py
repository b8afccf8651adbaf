"""Evidence of intent confirmed by several methods, with the real signing service: each
signer's audit events in the evidence bundle list every method (SMS and FACE) and, for the
organisation, the person who took its face check; the certificate of completion names
both methods for each signer."""
from __future__ import annotations

import base64
import io
import zipfile
from dataclasses import dataclass

import grpc
import pytest

from services.contract import evidence_formats as formats
from services.contract.audit import Event
from tests.integration.contract.helpers import create_contract, ok, random_id_number, sign, signer_of
from tests.integration.contract.test_intent_boundary import code_for
from tests.integration.evidence.conftest import wait_until

BOTH = "短信验证码意愿认证、人脸识别意愿认证"


@dataclass(frozen=True)
class Signed:
    contract: dict
    representative: str  # the lender's legal representative's platform subject id
    bundle: bytes

    def part(self, name: str) -> bytes:
        return zipfile.ZipFile(io.BytesIO(self.bundle)).read(name)

    def audit_trail(self) -> list[Event]:
        return formats.parse_audit_trail(self.part(formats.AUDIT_TRAIL))


def _record_lender(mesh, company: dict, representative_id: str) -> str:
    """The lender with its legal representative's ID number on record; that person's subject id."""
    from econtract.common.v1 import common_pb2
    from econtract.identity.v1 import identity_pb2 as pb
    from econtract.identity.v1 import identity_pb2_grpc

    with grpc.insecure_channel(mesh.env["IDENTITY_ADDR"]) as channel:
        identity = identity_pb2_grpc.IdentityServiceStub(channel)
        identity.UpsertSubject(pb.UpsertSubjectRequest(
            kind=common_pb2.PERSON, name="王五", identifiers=[common_pb2.SubjectRef(id_type="ID_CARD", id=representative_id)]))
        identity.UpsertSubject(pb.UpsertSubjectRequest(
            kind=common_pb2.ORG, name=company["name"], legal_representative="王五",
            identifiers=[common_pb2.SubjectRef(id_type=company["subject"]["idType"], id=company["subject"]["id"])],
            legal_representative_id_number=representative_id))
        person = identity.ResolveSubject(pb.ResolveSubjectRequest(
            subject=common_pb2.SubjectRef(id_type="ID_CARD", id=representative_id)))
    return person.subject.subject_id


def _sign_by_sms_and_face(client, contract: dict, role: str, face_person: dict | None = None) -> None:
    signer = signer_of(contract, role)
    intent = {"signerId": signer["signerId"], "contractIds": [contract["contractId"]]}
    sms = ok(client.post("/v1/intents", {**intent, "method": "SMS"}))
    token = ok(client.post(f"/v1/intents/{sms['challengeId']}:confirm",
                           {"code": code_for(client, signer["mobile"], sms["challengeId"])}))["intentToken"]
    face = ok(client.post("/v1/intents", {**intent, "method": "FACE",
                                          **({"facePerson": face_person} if face_person else {})}))
    both = ok(client.post(f"/v1/intents/{face['challengeId']}:confirm",
                          {"faceResult": base64.b64encode(b"liveness video").decode(), "intentToken": token}))
    assert sorted(both["methods"]) == ["FACE", "SMS"] and both["missingMethods"] == []
    ok(sign(client, contract["contractId"], signer["signerId"], both["intentToken"]))


@pytest.fixture(scope="module")
def signed(real_signing, mesh, new_app, template) -> Signed:
    client = new_app("intent-evidence")
    ok(client.request("PATCH", "/v1/apps/self", {"intentPolicy": {"requiredMethods": ["SMS", "FACE"]}}))
    contract = create_contract(client, template["templateId"])
    representative_id = random_id_number()
    representative = _record_lender(mesh, signer_of(contract, "lender"), representative_id)
    _sign_by_sms_and_face(client, contract, "lender", {"idNumber": representative_id})
    _sign_by_sms_and_face(client, contract, "borrower")
    contract_id = contract["contractId"]
    wait_until(lambda: "document.timestamped" in [e["type"] for e in ok(
        client.get(f"/v1/contracts/{contract_id}/events"))["events"]], 60, "the B-LTA timestamp")
    reply = client.get(f"/v1/contracts/{contract_id}/evidence?alt=media")
    assert reply.status_code == 200, reply.text
    return Signed(contract, representative, reply.content)


def test_each_signers_audit_events_list_every_method_and_the_face_person(signed):
    events = signed.audit_trail()
    for role, person, basis in [("lender", signed.representative, "LEGAL_REPRESENTATIVE_ID_NUMBER"),
                                ("borrower", None, None)]:
        signer_id = signer_of(signed.contract, role)["signerId"]
        (verified,) = [e for e in events if e.type == "intent.verified" and e.signer_id == signer_id]
        (made,) = [e for e in events if e.type == "signer.signed" and e.signer_id == signer_id]
        for event in (verified, made):
            assert sorted(event.details["intentMethods"]) == ["FACE", "SMS"], (role, event.type)
            assert event.details.get("facePersonSubjectId") == person, (role, event.type)
            assert event.details.get("facePersonBasis") == basis, (role, event.type)


def test_the_certificate_of_completion_names_both_methods_for_each_signer(signed):
    import pypdfium2 as pdfium

    document = pdfium.PdfDocument(signed.part(formats.CERTIFICATE))
    try:
        text = "\n".join(page.get_textpage().get_text_range() for page in document)
    finally:
        document.close()
    flat = "".join(text.split())  # wrapped lines rejoined
    for signer in signed.contract["signers"]:
        at = flat.index(f"{signer['name']}（")
        assert flat[at:].split("签署方式：", 1)[1].startswith(BOTH), signer["role"]
    assert flat.count(f"签署方式：{BOTH}") == 2
