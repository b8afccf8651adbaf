"""The signing pages for an organisation whose business line requires FACE: the page asks
who takes the face check, refuses a person who is neither the legal representative nor an
authorised agent, and signs after the agent's face check."""
from __future__ import annotations

import base64

import grpc
import pytest

from econtract.common.v1 import common_pb2
from econtract.identity.v1 import identity_pb2 as pb
from econtract.identity.v1 import identity_pb2_grpc
from tests.integration.contract.helpers import borrower, create_contract, lender, ok, random_id_number, signer_of
from tests.integration.pages.flow import Signer
from tests.integration.pages.test_signing_pages import _link

PHOTO = "data:image/jpeg;base64," + base64.b64encode(b"a face").decode()


@pytest.fixture(scope="module")
def identity(mesh):
    channel = grpc.insecure_channel(mesh.env["IDENTITY_ADDR"])
    yield identity_pb2_grpc.IdentityServiceStub(channel)
    channel.close()


def test_an_agent_takes_the_organisations_face_check_on_the_page(business_line, identity):
    line = business_line(intent_policy={"allowedMethods": ["SMS", "FACE"], "faceForOrgs": True})
    company = lender(order=1)
    contract = create_contract(line.client, line.template_id, signers=[company, borrower(order=2)])
    agent = random_id_number()
    identity.UpsertSubject(pb.UpsertSubjectRequest(
        kind=common_pb2.PERSON, name="李四", identifiers=[common_pb2.SubjectRef(id_type="ID_CARD", id=agent)]))
    identity.UpsertSubject(pb.UpsertSubjectRequest(
        kind=common_pb2.ORG, name=company["name"], legal_representative="王五",
        identifiers=[common_pb2.SubjectRef(id_type="USCC", id=company["subject"]["id"])],
        authorized_agents=[common_pb2.SubjectRef(id_type="ID_CARD", id=agent)]))

    page = Signer(_link(line.client, contract, role="lender"))
    try:
        intent = page.post("consent", agree="on")
        assert 'data-testid="face-person"' in intent.text and 'name="face_id_number"' in intent.text
        assert 'value="FACE"' in intent.text and 'value="SMS"' not in intent.text
        stranger = random_id_number()
        refused = page.post("intent", method="FACE", face_id_number=stranger, face_name="赵六")
        assert refused.status_code == 403
        assert "neither the legal representative nor an authorised agent" in refused.text and stranger not in refused.text
        assert "data-face-input" in page.post("intent", method="FACE", face_id_number=agent).text
        read = page.post("intent/face", photo=PHOTO)
        assert read.status_code == 200 and "阅读并签署" in read.text
        assert "签署完成" in page.post("sign", appearance="default").text
    finally:
        page.close()
    assert signer_of(ok(line.client.get(f"/v1/contracts/{contract['contractId']}")), "lender")["status"] == "SIGNED"
