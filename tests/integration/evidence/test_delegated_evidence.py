"""Delegated signing with the real signing service: a grant signs a covered contract with
the organisation's seal where the template puts it, the signature validates with pyHanko
trusting only the platform root, the contract completes, and its evidence bundle verifies
offline with the grant cited in the audit trail and on the certificate of completion."""
from __future__ import annotations

import io
import zipfile
from dataclasses import dataclass
from zoneinfo import ZoneInfo

import pytest

from services.contract import evidence_formats as formats
from services.contract.audit import Event
from services.contract.evidence_verify import verify_bundle
from services.signing import anchors, pades
from tests.integration.contract.helpers import borrower, create_contract, lender, ok, sign_as, signer_of
from tests.integration.evidence.conftest import rfc3339_in, wait_until

SEAL_KEYWORD = "甲方（盖章）"  # where the loan template puts the lender's seal


@dataclass(frozen=True)
class Delegated:
    grant: dict
    seal: dict
    contract: dict  # as created
    completed: dict  # as read once COMPLETED and timestamped
    pdf: bytes  # the final document, downloaded
    bundle: bytes  # GET /v1/contracts/{id}/evidence?alt=media

    @property
    def org_signer(self) -> dict:
        return signer_of(self.contract, "lender")

    def part(self, name: str) -> bytes:
        return zipfile.ZipFile(io.BytesIO(self.bundle)).read(name)

    def audit_trail(self) -> list[Event]:
        return formats.parse_audit_trail(self.part(formats.AUDIT_TRAIL))


@pytest.fixture(scope="module")
def delegated(real_signing, new_app, template) -> Delegated:
    client = new_app("delegation-evidence")
    organisation = lender()
    seal = ok(client.post("/v1/seals:generate", {
        "subject": organisation["subject"], "style": "ROUND_COMPANY", "text": organisation["name"],
        "horizontalText": "合同专用章"}))
    grant = ok(client.post("/v1/signingGrants", {"grant": {
        "organisationName": organisation["name"], "organisation": organisation["subject"],
        "templateIds": [template["templateId"]], "amountLimit": "100000", "endTime": rfc3339_in(3600),
        "sealId": seal["sealId"]}}))["grant"]
    contract = create_contract(client, template["templateId"], signers=[organisation, borrower()], amount="50000.00")
    contract_id = contract["contractId"]

    def org_status() -> str:
        return signer_of(ok(client.get(f"/v1/contracts/{contract_id}")), "lender")["status"]

    wait_until(lambda: org_status() == "SIGNED", 90, "the delegated signature by the real signing service")
    assert sign_as(client, contract, "borrower")["status"] == "COMPLETED"
    wait_until(lambda: "document.timestamped" in [e["type"] for e in ok(
        client.get(f"/v1/contracts/{contract_id}/events?pageSize=500"))["events"]], 60, "the B-LTA timestamp")
    completed = ok(client.get(f"/v1/contracts/{contract_id}"))
    pdf = client.get(f"/v1/contracts/{contract_id}/document?alt=media")
    bundle = client.get(f"/v1/contracts/{contract_id}/evidence?alt=media")
    assert pdf.status_code == 200 and bundle.status_code == 200, (pdf.text, bundle.text)
    return Delegated(grant, seal, contract, completed, pdf.content, bundle.content)


@pytest.fixture(scope="module")
def root_pem(business) -> bytes:
    (pem,) = ok(business.get("/v1/trust/roots"))["roots"]
    return pem.encode()


def _widget(pdf: bytes, field_name: str):
    from pyhanko.pdf_utils.reader import PdfFileReader

    reader = PdfFileReader(io.BytesIO(pdf))
    (field,) = [f.get_object() for f in reader.root["/AcroForm"]["/Fields"] if f.get_object()["/T"] == field_name]
    widgets = [k.get_object() for k in field["/Kids"]] if "/Kids" in field else [field]
    return reader, widgets


def test_the_grant_signs_with_the_organisations_seal_on_the_seal_position(delegated):
    import base64

    from PIL import Image

    reader, (widget,) = _widget(delegated.pdf, f"sig_{delegated.org_signer['signerId']}")
    # Where the template puts the lender's seal: a company seal's square centred on the keyword.
    expected = anchors.keyword_placement(delegated.pdf, SEAL_KEYWORD, width=pades.COMPANY_SEAL_SIZE,
                                         height=pades.COMPANY_SEAL_SIZE)
    assert [float(v) for v in widget["/Rect"]] == pytest.approx(list(expected.rect), abs=0.01)
    assert widget["/P"] == reader.root["/Pages"]["/Kids"][expected.page_index]
    # Its appearance draws exactly the seal the grant names, pixel for pixel, transparency kept.
    seal = Image.open(io.BytesIO(base64.b64decode(delegated.seal["image"]))).convert("RGBA")
    image = widget["/AP"]["/N"]["/Resources"]["/XObject"]["/Im0"]
    assert (image["/Width"], image["/Height"]) == seal.size
    assert image.data == seal.convert("RGB").tobytes()
    assert image["/SMask"].data == seal.getchannel("A").tobytes()


def test_the_delegated_signature_validates_with_pyhanko_trusting_only_the_platform_root(delegated, root_pem):
    from asn1crypto import x509 as asn1_x509
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization
    from pyhanko.pdf_utils.reader import PdfFileReader
    from pyhanko.sign.validation import DocumentSecurityStore, validate_pdf_signature, validate_pdf_timestamp

    root = asn1_x509.Certificate.load(x509.load_pem_x509_certificate(root_pem).public_bytes(serialization.Encoding.DER))
    reader = PdfFileReader(io.BytesIO(delegated.pdf))
    dss = DocumentSecurityStore.read_dss(reader)

    def context():
        return dss.as_validation_context({"trust_roots": [root], "allow_fetching": False, "revocation_mode": "require"})

    fields = []
    for sig in reader.embedded_signatures:
        if sig.sig_object_type == "/DocTimeStamp":
            status = validate_pdf_timestamp(sig, validation_context=context())
        else:
            status = validate_pdf_signature(sig, signer_validation_context=context(), ts_validation_context=context())
            assert status.timestamp_validity is not None and status.timestamp_validity.trusted
        assert status.intact and status.valid and status.trusted, status.pretty_print_details()
        fields.append(sig.field_name)
    org_field = f"sig_{delegated.org_signer['signerId']}"
    assert fields[0] == org_field and len(fields) == 3  # the organisation, the person, the B-LTA timestamp
    (org,) = [s for s in reader.embedded_signatures if s.field_name == org_field]
    assert org.signer_cert.subject.native["organization_name"] == delegated.contract["signers"][0]["name"]
    assert "委托签署" in str(org.sig_object["/Reason"])


def test_the_contract_completes_and_its_bundle_verifies_offline_citing_the_grant(delegated):
    assert delegated.completed["status"] == "COMPLETED"
    report = verify_bundle(delegated.bundle)
    assert report.ok, report.text()
    document = delegated.completed["documents"][0]
    assert delegated.part(formats.document_part(document["documentId"])) == delegated.pdf

    events = delegated.audit_trail()
    (signed,) = [e for e in events if e.type == "signer.signed" and e.signer_id == delegated.org_signer["signerId"]]
    grant = delegated.grant
    assert signed.actor == f"grant:{grant['grantId']}" and signed.details["intentMethod"] == "DELEGATION"
    assert signed.details["intentTokenId"] == f"grant:{grant['grantId']}:{delegated.org_signer['signerId']}"
    cited = signed.details["delegation"]
    assert (cited["grantId"], cited["grantSha256"], cited["amountLimit"]) == (grant["grantId"], grant["sha256"],
                                                                             "100000")
    assert cited["templateIds"] == grant["templateIds"]
    assert [e.type for e in events].count("contract.completed") == 1


def _certificate_text(pdf: bytes) -> str:
    import pypdfium2 as pdfium

    document = pdfium.PdfDocument(pdf)
    try:
        return "\n".join(page.get_textpage().get_text_range() for page in document)
    finally:
        document.close()


def test_the_certificate_of_completion_states_signers_methods_times_and_hashes(delegated, replicas):
    text = _certificate_text(delegated.part(formats.CERTIFICATE))
    flat = "".join(text.split())  # wrapped lines rejoined
    assert replicas.schedule.notice_timezone == "Asia/Shanghai"  # the platform's (CONTRACT_NOTICE_TIMEZONE)
    zone = ZoneInfo(replicas.schedule.notice_timezone)
    events = delegated.audit_trail()
    signed = {e.signer_id: e for e in events if e.type == "signer.signed"}
    org, person = signer_of(delegated.contract, "lender"), signer_of(delegated.contract, "borrower")

    assert "电子合同签署完成证明" in flat and delegated.contract["contractId"] in flat
    for number, (signer, kind, method) in enumerate([
            (org, "企业", f"委托签署（授权{delegated.grant['grantId']}）"), (person, "个人", "短信验证码意愿认证")], 1):
        assert f"{number}.{signer['name']}（{kind}，角色{signer['role']}）" in flat
        assert f"签署方式：{method}" in flat
        when = signed[signer["signerId"]].time.astimezone(zone).strftime("%Y-%m-%d%H:%M:%S")
        assert f"签署时间：{when}（UTC+8）" in flat, when
        for document in signed[signer["signerId"]].details["documents"]:
            assert f"签署后文件{document['documentId']}的SHA-256：{document['sha256']}" in flat
    final = delegated.completed["documents"][0]
    assert f"（{final['documentId']}）SHA-256：{final['sha256']}" in flat
    leaf = formats.parse_leaf(delegated.part(formats.LEAF))  # the audit trail's head when it was logged
    assert f"链头（第{leaf.audit_seq}个事件）SHA-256：{leaf.audit_head}" in flat
    assert leaf.audit_head == next(e.hash for e in events if e.seq == leaf.audit_seq)
    # Hashes are whole lines of their own, so they can be read back as printed.
    lines = {line.strip() for line in text.splitlines()}
    assert final["sha256"] in lines and leaf.audit_head in lines


def test_the_signing_service_refuses_a_grant_standing_in_for_a_persons_signature(mesh, delegated):
    import grpc

    from econtract.common.v1 import common_pb2
    from econtract.signing.v1 import signing_pb2_grpc
    from tests.integration.signing import service

    intent = service.claims("ct_grant_person", delegated.pdf, signer_id="sg_person", token_id="grant:dg_x:sg_person",
                            subject_id="sub_person")
    intent.challenge_id, intent.method, intent.recipient = "dg_x", common_pb2.DELEGATION, ""
    request = service.sign_request(delegated.pdf, service.person_signer("sg_person"), "ct_grant_person", intent,
                                   [service.point(1, 300, 400)])
    with grpc.insecure_channel(mesh.env["SIGNING_ADDR"]) as channel:
        with pytest.raises(grpc.RpcError) as refused:
            signing_pb2_grpc.SigningServiceStub(channel).SignDocument(request, timeout=60)
    assert refused.value.code() is grpc.StatusCode.PERMISSION_DENIED
    assert "is a signing grant, which signs only an organisation's cloud signature" in refused.value.details()
