"""The signing service as the contract service and business lines use it: two signers,
B-LTA on completion, then independent validators (pdfsig, pyHanko) trusting only the
root served by GET /v1/trust/roots, and POST /v1/documents:verify, tampering included."""
import datetime as dt
import io
import json

import grpc
import pytest
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.validation import (
    DocumentSecurityStore,
    validate_pdf_signature,
    validate_pdf_timestamp,
)

from econtract.common.v1 import common_pb2
from services.signing import anchors, pades, pki
from services.signing.signatures import signing_date
from services.signing.store import EvidenceStore
from services.signing.tsa import TimestampAuthority
from tests.integration.signing import service, tamper
from tests.support.pdf_text import text_in
from tests.support.signed import SignedClient
from tests.unit.signing.fixtures import PERSON_KEYWORD, make_ca


def _verify_rest(client, pdf: bytes) -> dict:
    reply = client.post("/v1/documents:verify", {"pdf": service.b64(pdf)})
    assert reply.status_code == 200, reply.text
    return reply.json()


def test_sign_replies_describe_the_new_revision(service_signed_contract):
    signed = service_signed_contract
    org, person, stamp = signed.org_reply, signed.person_reply, signed.stamp_reply
    assert org.sha256 == service.sha256(signed.after_org) and org.field_name == "sg_lender"
    assert person.sha256 == service.sha256(signed.after_person) and person.field_name == "sg_borrower"
    assert stamp.sha256 == service.sha256(signed.final)
    assert signed.after_org.startswith(signed.original) and signed.final.startswith(signed.after_person)
    for reply in (org, person):
        assert reply.HasField("signing_time") and reply.HasField("timestamp_time")
        assert abs(reply.timestamp_time.seconds - reply.signing_time.seconds) <= 5
    assert stamp.timestamp_time.seconds >= person.timestamp_time.seconds
    assert org.certificate_serial != person.certificate_serial


def test_appearances_sit_at_the_keyword_and_at_page_x_y(service_signed_contract):
    reader = PdfFileReader(io.BytesIO(service_signed_contract.after_person))
    fields = {str(f.get_object()["/T"]): f.get_object() for f in reader.root["/AcroForm"]["/Fields"]}
    lender, borrower = fields["sg_lender"], fields["sg_borrower"]
    pages = reader.root["/Pages"]["/Kids"]
    x1, y1, x2, y2 = (float(v) for v in lender["/Rect"])
    assert x2 - x1 == pytest.approx(119.0, abs=0.01)  # a 42 mm company seal
    assert lender["/P"] == pages[2]
    assert "/SMask" in lender["/AP"]["/N"]["/Resources"]["/XObject"]["/Im0"]
    x1, y1, x2, y2 = (float(v) for v in borrower["/Rect"])
    assert ((x1 + x2) / 2, (y1 + y2) / 2) == pytest.approx((400, 120), abs=0.01)
    assert borrower["/P"] == pages[2]


def test_pdfsig_reports_every_signature_valid(service_signed_contract, mesh_pdfsig, tmp_path):
    blocks = mesh_pdfsig.run(service_signed_contract.final, tmp_path, "-no-ocsp")
    assert [b["Signature Field Name"] for b in blocks][:2] == ["sg_lender", "sg_borrower"]
    for block, name in zip(blocks[:2], [service.ORG_NAME, service.PERSON_NAME], strict=True):
        assert block["Signer Certificate Common Name"] == name
        assert block["Signature Validation"] == "Signature is Valid."
        assert block["Certificate Validation"] == "Certificate is Trusted."
    stamp = blocks[2]
    if stamp["Signature Type"] != "unknown":  # poppler < 23 does not know ETSI.RFC3161
        assert stamp["Signature Validation"] == "Signature is Valid."


def test_pdfsig_checks_the_signer_online_through_the_gateway(service_signed_contract, mesh_pdfsig, tmp_path):
    # Online: NSS follows the certificate's OCSP URL, which is the gateway's /pki/ocsp.
    (block,) = mesh_pdfsig.run(service_signed_contract.after_org, tmp_path)
    assert block["Signature Validation"] == "Signature is Valid."
    assert block["Certificate Validation"] == "Certificate is Trusted."


def test_pyhanko_validates_each_signature_trusting_only_the_rest_root(service_signed_contract, rest_root_pem):
    root = asn1_x509.Certificate.load(
        x509.load_pem_x509_certificate(rest_root_pem).public_bytes(serialization.Encoding.DER))
    reader = PdfFileReader(io.BytesIO(service_signed_contract.final))
    dss = DocumentSecurityStore.read_dss(reader)
    kinds = []
    for sig in reader.embedded_signatures:
        context = dss.as_validation_context({"trust_roots": [root], "allow_fetching": False,
                                             "revocation_mode": "require"})
        if sig.sig_object_type == "/DocTimeStamp":
            status = validate_pdf_timestamp(sig, validation_context=context)
            kinds.append("timestamp")
        else:
            ts_context = dss.as_validation_context({"trust_roots": [root], "allow_fetching": False,
                                                    "revocation_mode": "require"})
            status = validate_pdf_signature(sig, signer_validation_context=context, ts_validation_context=ts_context)
            assert status.timestamp_validity is not None and status.timestamp_validity.trusted
            assert status.docmdp_ok
            kinds.append("signature")
        assert status.intact and status.valid and status.trusted, status.pretty_print_details()
    assert kinds == ["signature", "signature", "timestamp"]


def test_verify_reports_the_completed_contract_valid(client, service_signed_contract):
    body = _verify_rest(client, service_signed_contract.final)
    assert body["valid"] is True and body["problems"] == []
    assert body["documentSha256"] == service.sha256(service_signed_contract.final)
    lender, borrower, stamp = body["signatures"]
    assert lender["fieldName"] == "sg_lender" and lender["signer"] == service.ORG_NAME
    assert borrower["fieldName"] == "sg_borrower" and borrower["signer"] == service.PERSON_NAME
    for sig in body["signatures"]:
        assert sig["intact"] and sig["trusted"] and sig["timestampTrusted"] and sig["longTermValidation"]
        assert sig["verdict"] == "VALID" and sig["reasons"] == []
    assert lender["coverage"] == "ENTIRE_REVISION" and lender["modifications"] == "FORM_FILLING"
    assert borrower["modifications"] == "LTA_UPDATES"
    assert stamp["coverage"] == "ENTIRE_FILE" and stamp["signer"] == "E-Contract Platform TSA"
    assert lender["reason"] == "签署借款合同"
    assert lender["serialNumber"] == service_signed_contract.org_reply.certificate_serial
    assert lender["issuerDn"].startswith("CN=E-Contract Platform Issuing CA")
    assert service.PERSON_REF["id"] not in borrower["signerDn"]  # hashed, never the ID number


@pytest.mark.parametrize("case", tamper.CASES)
def test_verify_reports_each_tampering_invalid(client, service_signed_contract, case):
    tampered = getattr(tamper, case)(service_signed_contract.after_person)
    body = _verify_rest(client, tampered)
    assert body["valid"] is False
    verdicts = {s["fieldName"]: s["verdict"] for s in body["signatures"]}
    assert "INVALID" in verdicts.values(), body
    touched = tamper.TOUCHED[case]
    for name in touched:
        assert verdicts[name] == "INVALID", body
        assert next(s for s in body["signatures"] if s["fieldName"] == name)["reasons"]


def test_verify_of_something_that_is_not_a_pdf_is_400(client):
    reply = client.post("/v1/documents:verify", {"pdf": service.b64(b"hello")})
    assert reply.status_code == 400 and "pdf" in reply.json()["message"]


def test_evidence_of_each_signature_is_kept(mesh, service_signed_contract):
    records = EvidenceStore(mesh.contexts["signing"].sessions).for_contract("ct_flow")
    assert [r.signer_id for r in records] == ["sg_lender", "sg_borrower"]
    lender = json.loads(records[0].record_json)
    assert lender["intent"]["tokenId"] == "tok_flow_org" and lender["intent"]["method"] == "SMS"
    assert lender["documentSha256"] == service.sha256(service_signed_contract.original)
    assert lender["signedSha256"] == service.sha256(service_signed_contract.after_org)
    assert lender["appearance"]["sealId"] == service_signed_contract.seal_id
    assert records[1].intent_token_id == "tok_flow_person"
    assert json.loads(records[1].record_json)["appearance"]["kind"] == "handwriting"
    assert records[0].record_sha256 == service.sha256(records[0].record_json.encode())


def test_riding_seal_and_the_default_seal(signing_rpc, contract, client):
    # The person has no seal yet: a square name seal is generated and becomes the default.
    reply = signing_rpc.SignDocument(service.sign_request(
        contract, service.person_signer("sg_rider"), "ct_rider",
        service.claims("ct_rider", contract, signer_id="sg_rider", token_id="tok_rider"),
        [service.keyword("乙方（签字）")], riding_seal=True))
    reader = PdfFileReader(io.BytesIO(reply.pdf.data))
    (sig_field,) = [f.get_object() for f in reader.root["/AcroForm"]["/Fields"]]
    assert len(sig_field["/Kids"]) == 1 + 3  # the seal at the keyword plus one slice per page
    seals = client.get("/v1/seals?subject.idType=ID_CARD&subject.id=110101199003074514").json()["seals"]
    assert seals[-1]["isDefault"] and seals[-1]["style"] == "SQUARE_PERSONAL"
    assert _verify_rest(client, reply.pdf.data)["valid"] is True


def test_the_default_seal_is_generated_in_the_business_lines_style(mesh, apps, signing_rpc, contract):
    created = apps.create("oval-seals", ["seal:read", "app:self", "document:verify"])
    app = SignedClient(mesh.base_url, created.app.app_id, created.secret)
    try:
        reply = app.request("PATCH", "/v1/apps/self", {"sealStyles": {"company": "OVAL_COMPANY"}})
        assert reply.status_code == 200, reply.text
        subject = {"idType": "USCC", "id": "91110302MA01OVAL5X"}
        signer = service.org_signer("sg_oval", subject_id="sub_oval")
        signer.subject.id = subject["id"]
        claims = service.claims("ct_oval", contract, signer_id="sg_oval", token_id="tok_oval", subject_id="sub_oval")
        claims.app_id = created.app.app_id  # the business line whose signer this is
        signed = signing_rpc.SignDocument(service.sign_request(contract, signer, "ct_oval", claims,
                                                               [service.point(1, 300, 400)]))
        (seal,) = app.get(f"/v1/seals?subject.idType=USCC&subject.id={subject['id']}").json()["seals"]
        assert seal["isDefault"] and seal["style"] == "OVAL_COMPANY" and seal["source"] == "GENERATED"
        reader = PdfFileReader(io.BytesIO(signed.pdf.data))
        (sig_field,) = [f.get_object() for f in reader.root["/AcroForm"]["/Fields"]]
        x1, y1, x2, y2 = (float(v) for v in sig_field["/Rect"])
        assert x2 - x1 == pytest.approx(119.0, abs=0.01)  # a 42 mm company seal ...
        assert y2 - y1 == pytest.approx(119.0 * 0.75, abs=0.5)  # ... that is an oval of 4:3
        assert _verify_rest(app, signed.pdf.data)["valid"] is True
    finally:
        app.close()


def test_the_signing_date_is_stamped_at_the_date_position(client, signing_rpc, contract, rest_root_pem):
    before = signing_date(dt.datetime.now(dt.timezone.utc))
    request = service.sign_request(
        contract, service.person_signer("sg_dated"), "ct_dated",
        service.claims("ct_dated", contract, signer_id="sg_dated", token_id="tok_dated"),
        [service.keyword(PERSON_KEYWORD)], date_position=common_pb2.SignaturePosition(keyword=PERSON_KEYWORD, y=-40))
    reply = signing_rpc.SignDocument(request)
    after = signing_date(dt.datetime.now(dt.timezone.utc))
    (hit,) = anchors.find_keyword(contract, PERSON_KEYWORD)
    cx, cy = hit.center
    stamped = text_in(reply.pdf.data, hit.page_index, (cx - 60, cy - 50, cx + 60, cy - 30))
    assert stamped.strip() in {before, after} and stamped.strip().endswith("日")
    assert not text_in(contract, hit.page_index, (cx - 60, cy - 50, cx + 60, cy - 30)).strip()  # not there before

    # The date is part of the signature: one field, its widgets in the signed revision.
    reader = PdfFileReader(io.BytesIO(reply.pdf.data))
    (sig_field,) = [f.get_object() for f in reader.root["/AcroForm"]["/Fields"]]
    assert len(sig_field["/Kids"]) == 2  # the seal and the date
    (embedded,) = reader.embedded_signatures
    root = asn1_x509.Certificate.load(
        x509.load_pem_x509_certificate(rest_root_pem).public_bytes(serialization.Encoding.DER))
    context = DocumentSecurityStore.read_dss(reader).as_validation_context(
        {"trust_roots": [root], "allow_fetching": False, "revocation_mode": "require"})
    status = validate_pdf_signature(embedded, signer_validation_context=context)
    assert status.intact and status.valid and status.trusted and status.coverage.name == "ENTIRE_FILE"
    assert _verify_rest(client, reply.pdf.data)["valid"] is True


def test_a_date_position_whose_keyword_is_missing_is_not_found(signing_rpc, contract):
    with pytest.raises(grpc.RpcError) as failure:
        signing_rpc.SignDocument(service.sign_request(
            contract, service.person_signer("sg_nodate"), "ct_nodate",
            service.claims("ct_nodate", contract, signer_id="sg_nodate", token_id="tok_nodate"),
            [service.keyword(PERSON_KEYWORD)], date_position=common_pb2.SignaturePosition(keyword="签署日期")))
    assert failure.value.code() == grpc.StatusCode.NOT_FOUND and "签署日期" in failure.value.details()


def test_signed_document_can_be_delivered_to_the_blob_store(mesh, signing_rpc, contract):
    ref = mesh.contexts["signing"].blobs.put(contract)
    request = service.sign_request(contract, service.org_signer("sg_blob"), "ct_blob",
                                   service.claims("ct_blob", contract, signer_id="sg_blob", token_id="tok_blob"),
                                   [service.point(1, 300, 400)], delivery=common_pb2.DELIVERY_BLOB)
    request.pdf.CopyFrom(common_pb2.FileData(blob_ref=ref))
    reply = signing_rpc.SignDocument(request)
    assert reply.pdf.blob_ref == "sha256:" + reply.sha256
    assert mesh.contexts["signing"].blobs.get(reply.pdf.blob_ref).startswith(contract)


def test_keyword_missing_from_the_document_is_not_found(signing_rpc, contract):
    with pytest.raises(grpc.RpcError) as failure:
        signing_rpc.SignDocument(service.sign_request(
            contract, service.org_signer("sg_nokw"), "ct_nokw",
            service.claims("ct_nokw", contract, signer_id="sg_nokw", token_id="tok_nokw"),
            [service.keyword("丙方（盖章）")]))
    assert failure.value.code() == grpc.StatusCode.NOT_FOUND
    assert "丙方（盖章）" in failure.value.details()


def test_an_apps_trust_anchors_count_for_its_own_verifications(mesh, apps, contract, tmp_path):
    outside = make_ca(tmp_path)  # a CA the platform does not know, as a licensed CA would be
    signer = pki.new_signer(outside, pki.OrgSubject(service.ORG_NAME, service.ORG_REF["id"]))
    context = pades.signing_validation_context(outside, signer, [outside.tsa_material().cert])
    signed = pades.sign(contract, signer, field_name="outside", validation_context=context,
                        timestamper=TimestampAuthority(outside.tsa_material()).timestamper())
    created = apps.create("anchored", ["document:verify", "app:self"])
    app = SignedClient(mesh.base_url, created.app.app_id, created.secret)
    try:
        before = _verify_rest(app, signed)
        assert before["valid"] is False and before["signatures"][0]["verdict"] == "INDETERMINATE"
        root_pem = outside.root_cert.public_bytes(serialization.Encoding.PEM).decode()
        patched = app.request("PATCH", "/v1/apps/self", {"trustAnchors": [root_pem]})
        assert patched.status_code == 200, patched.text
        after = _verify_rest(app, signed)
        assert after["valid"] is True and after["signatures"][0]["trusted"] is True
        only_platform = app.post("/v1/documents:verify", {"pdf": service.b64(signed), "platformTrustOnly": True})
        assert only_platform.json()["valid"] is False
    finally:
        app.close()
