"""Checkbox agreements sealed by the platform, and the console's certificate calls."""
import datetime as dt
import json

import grpc
import httpx
import pytest
from cryptography import x509

from econtract.common.v1 import common_pb2
from econtract.signing.v1 import signing_pb2 as pb
from services.signing.store import EvidenceStore
from tests.integration.signing import service


def _agreement(pdf: bytes, contract_id: str, **extra) -> pb.SealAgreementRequest:
    return pb.SealAgreementRequest(
        pdf=common_pb2.FileData(data=pdf), signer=service.person_signer("sg_agree"), reading_seconds=42,
        agree_time=service.timestamp(dt.datetime(2026, 1, 5, 9, 30, tzinfo=dt.timezone.utc)),
        client_evidence=common_pb2.ClientEvidence(ip="203.0.113.7", user_agent="Mozilla/5.0 (H5)",
                                                  device_id="dev-1", checkbox_text="我已阅读并同意",
                                                  page_url="https://h5.example.com/sign"),
        contract_id=contract_id, **extra)


def test_agreement_is_sealed_by_the_platform_and_its_evidence_kept(mesh, client, signing_rpc, contract):
    reply = signing_rpc.SealAgreement(_agreement(contract, "ct_agree"))
    assert reply.sha256 == service.sha256(reply.pdf.data) and reply.field_name == "agreement_sg_agree"
    assert reply.HasField("timestamp_time")
    body = client.post("/v1/documents:verify", {"pdf": service.b64(reply.pdf.data)}).json()
    assert body["valid"] is True
    (sig,) = body["signatures"]
    assert sig["signer"] == "E-Contract Platform Seal" and sig["verdict"] == "VALID"
    (record,) = EvidenceStore(mesh.contexts["signing"].sessions).for_contract("ct_agree")
    assert record.kind == "AGREEMENT" and record.signed_sha256 == reply.sha256
    evidence = json.loads(record.record_json)
    agreement = evidence["agreement"]
    assert agreement["ip"] == "203.0.113.7" and agreement["userAgent"] == "Mozilla/5.0 (H5)"
    assert agreement["readingSeconds"] == 42 and agreement["agreedAt"] == "2026-01-05T09:30:00.000Z"
    assert agreement["documentSha256"] == service.sha256(contract)
    assert evidence["client"]["checkboxText"] == "我已阅读并同意"
    # the signature's /Reason binds the record kept here to the signed PDF
    assert agreement["evidenceSha256"] in sig["reason"]


def test_agreement_with_claims_for_another_document_is_refused(signing_rpc, contract):
    intent = service.claims("ct_agree2", contract, signer_id="sg_agree", token_id="tok_agree2",
                            hashes=["f" * 64])
    with pytest.raises(grpc.RpcError) as failure:
        signing_rpc.SealAgreement(_agreement(contract, "ct_agree2", intent=intent))
    assert failure.value.code() == grpc.StatusCode.FAILED_PRECONDITION


def test_certificates_of_a_subject_are_listed_newest_first(signing_rpc, service_signed_contract, contract):
    signing_rpc.SignDocument(service.sign_request(  # a second certificate of the same subject
        contract, service.org_signer("sg_list"), "ct_list",
        service.claims("ct_list", contract, signer_id="sg_list", token_id="tok_list"), [service.point(1, 300, 400)]))
    reply = signing_rpc.ListCertificates(pb.ListCertificatesRequest(subject_id="sub_org", include_inactive=True))
    serials = [c.serial_number for c in reply.certificates]
    lender_serial = service_signed_contract.org_reply.certificate_serial
    assert lender_serial in serials
    cert = next(c for c in reply.certificates if c.serial_number == lender_serial)
    assert cert.subject_id == "sub_org" and cert.status == pb.Certificate.STATUS_VALID
    assert cert.issuer_dn.startswith("CN=E-Contract Platform Issuing CA")
    assert x509.load_pem_x509_certificate(cert.pem.encode()).serial_number == int(cert.serial_number, 16)
    times = [c.not_before.ToDatetime() for c in reply.certificates]
    assert times == sorted(times, reverse=True)
    page = signing_rpc.ListCertificates(pb.ListCertificatesRequest(subject_id="sub_org", include_inactive=True,
                                                                   page_size=1))
    assert len(page.certificates) == 1 and page.next_page_token
    rest = signing_rpc.ListCertificates(pb.ListCertificatesRequest(
        subject_id="sub_org", include_inactive=True, page_token=page.next_page_token))
    assert [c.serial_number for c in [*page.certificates, *rest.certificates]] == serials


def test_revoke_with_free_text_keeps_the_note(signing_rpc, contract):
    signed = signing_rpc.SignDocument(service.sign_request(
        contract, service.org_signer("sg_note", "sub_note"), "ct_note",
        service.claims("ct_note", contract, signer_id="sg_note", token_id="tok_note", subject_id="sub_note"),
        [service.point(1, 300, 400)]))
    revoked = signing_rpc.RevokeCertificate(pb.RevokeCertificateRequest(
        serial_number=signed.certificate_serial, reason="signed by mistake"))
    assert revoked.certificate.status == pb.Certificate.STATUS_REVOKED
    assert revoked.certificate.revoke_reason == "unspecified: signed by mistake"
    again = signing_rpc.RevokeCertificate(pb.RevokeCertificateRequest(
        serial_number=signed.certificate_serial, reason="superseded"))
    assert again.certificate.revoke_time == revoked.certificate.revoke_time  # the first revocation stands
    active = signing_rpc.ListCertificates(pb.ListCertificatesRequest(subject_id="sub_note"))
    assert signed.certificate_serial not in [c.serial_number for c in active.certificates]


@pytest.mark.parametrize("serial, code", [("zz", grpc.StatusCode.INVALID_ARGUMENT),
                                          ("abc123", grpc.StatusCode.NOT_FOUND)])
def test_revoke_of_an_unknown_serial(signing_rpc, serial, code):
    with pytest.raises(grpc.RpcError) as failure:
        signing_rpc.RevokeCertificate(pb.RevokeCertificateRequest(serial_number=serial))
    assert failure.value.code() == code


def test_the_issuing_ca_is_not_revoked_from_the_console(mesh, signing_rpc):
    issuing = x509.load_der_x509_certificate(httpx.get(mesh.base_url + "/pki/certs/issuing.cer").content)
    with pytest.raises(grpc.RpcError) as failure:
        signing_rpc.RevokeCertificate(pb.RevokeCertificateRequest(serial_number=format(issuing.serial_number, "x")))
    assert failure.value.code() == grpc.StatusCode.FAILED_PRECONDITION


def test_client_side_signing_needs_a_document(signing_rpc):
    # Implemented in issue 10 (tests/integration/client_signing); an empty request is bad input.
    with pytest.raises(grpc.RpcError) as failure:
        signing_rpc.PrepareSignature(pb.PrepareSignatureRequest())
    assert failure.value.code() == grpc.StatusCode.INVALID_ARGUMENT
