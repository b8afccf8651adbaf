"""SignDocument refuses, with a clear code and message, whatever the signer did not authorise."""
import secrets
import time
from concurrent.futures import ThreadPoolExecutor

import grpc
import httpx
import pytest
from asn1crypto import crl as asn1_crl
from asn1crypto import ocsp as asn1_ocsp
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509 import ocsp

from econtract.common.v1 import common_pb2
from econtract.signing.v1 import signing_pb2 as pb
from services.signing import verify
from tests.integration.signing import service
from tests.unit.signing.fixtures import ORG_KEYWORD


def _refused(signing_rpc, request) -> grpc.RpcError:
    with pytest.raises(grpc.RpcError) as failure:
        signing_rpc.SignDocument(request)
    return failure.value


def _org_request(pdf: bytes, contract_id: str, intent, **extra) -> pb.SignDocumentRequest:
    return service.sign_request(pdf, service.org_signer("sg_refused"), contract_id, intent,
                                [service.keyword(ORG_KEYWORD)], **extra)


def test_claims_for_another_contract(signing_rpc, contract):
    intent = service.claims("ct_other", contract, signer_id="sg_refused", token_id="tok_other")
    error = _refused(signing_rpc, _org_request(contract, "ct_mine", intent))
    assert error.code() == grpc.StatusCode.PERMISSION_DENIED
    assert "does not cover contract ct_mine" in error.details()


def test_pdf_hash_not_in_the_claims(signing_rpc, contract):
    intent = service.claims("ct_hash", contract, signer_id="sg_refused", token_id="tok_hash",
                            hashes=["0" * 64])
    error = _refused(signing_rpc, _org_request(contract, "ct_hash", intent))
    assert error.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert "changed after the intent was confirmed" in error.details()


def test_expired_claims(signing_rpc, contract):
    intent = service.claims("ct_late", contract, signer_id="sg_refused", token_id="tok_late", expires_in=-1)
    error = _refused(signing_rpc, _org_request(contract, "ct_late", intent))
    assert error.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert "expired" in error.details() and "confirm again" in error.details()


def test_missing_claims(signing_rpc, contract):
    request = _org_request(contract, "ct_none", service.claims("ct_none", contract, signer_id="x", token_id="t"))
    request.ClearField("intent")
    error = _refused(signing_rpc, request)
    assert error.code() == grpc.StatusCode.PERMISSION_DENIED and "intent token" in error.details()


def test_claims_of_another_signer(signing_rpc, contract):
    intent = service.claims("ct_who", contract, signer_id="sg_someone_else", token_id="tok_who")
    error = _refused(signing_rpc, _org_request(contract, "ct_who", intent))
    assert error.code() == grpc.StatusCode.PERMISSION_DENIED and "another signer" in error.details()


def test_a_document_that_is_not_the_contracts_record_is_refused(signing_rpc, contract):
    recorded = service.sha256(contract)
    changed = contract + b"%changed after it was recorded\n"
    # The claims cover the changed bytes too, so only the contract's record can refuse them.
    intent = service.claims("ct_record", contract, signer_id="sg_refused", token_id="tok_record",
                            hashes=[recorded, service.sha256(changed)])
    error = _refused(signing_rpc, _org_request(changed, "ct_record", intent, document_sha256=recorded))
    assert error.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert "no longer matches the contract's record" in error.details()
    # The same document as recorded signs.
    signed = signing_rpc.SignDocument(_org_request(contract, "ct_record", intent, document_sha256=recorded.upper()))
    assert signed.pdf.data.startswith(contract)


def test_a_document_changed_in_storage_is_refused(mesh, signing_rpc, contract):
    blobs = mesh.contexts["signing"].blobs
    original = contract + b"%" + secrets.token_hex(8).encode() + b"\n"  # a blob of this test alone
    ref = blobs.put(original)
    digest = ref.removeprefix("sha256:")
    (blobs.root / digest[:2] / digest[2:4] / digest).write_bytes(original + b"%tampered\n")
    intent = service.claims("ct_stored", original, signer_id="sg_refused", token_id="tok_stored")
    request = _org_request(b"", "ct_stored", intent, document_sha256=digest)
    request.pdf.CopyFrom(common_pb2.FileData(blob_ref=ref))
    error = _refused(signing_rpc, request)
    assert error.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert "no longer matches the contract's record" in error.details()


def test_a_token_signs_a_document_once(signing_rpc, contract):
    intent = service.claims("ct_once", contract, signer_id="sg_refused", token_id="tok_once")
    first = signing_rpc.SignDocument(_org_request(contract, "ct_once", intent))
    # A retry after a lost answer gets the first signature back, not a second one.
    again = signing_rpc.SignDocument(_org_request(contract, "ct_once", intent))
    assert (again.sha256, again.certificate_serial, again.pdf.data) == (
        first.sha256, first.certificate_serial, first.pdf.data)
    assert again.timestamp_time == first.timestamp_time
    # The token does not reach the signed result: its hash is not one the signer confirmed.
    error = _refused(signing_rpc, _org_request(first.pdf.data, "ct_once", intent))
    assert error.code() == grpc.StatusCode.FAILED_PRECONDITION


def test_a_seal_of_another_subject(signing_rpc, client, contract):
    other = client.post("/v1/seals:generate", {"subject": {"idType": "USCC", "id": "91350100M000100Y43"},
                                               "style": "ROUND_COMPANY", "text": "另一家有限公司"})
    assert other.status_code == 200, other.text
    intent = service.claims("ct_seal", contract, signer_id="sg_refused", token_id="tok_seal")
    error = _refused(signing_rpc, _org_request(contract, "ct_seal", intent, seal_id=other.json()["sealId"]))
    assert error.code() == grpc.StatusCode.PERMISSION_DENIED and "does not belong" in error.details()


def test_an_organisation_signs_under_its_credit_code(signing_rpc, contract):
    signer = service.org_signer("sg_refused")
    signer.subject.id_type = "MERCHANT_NO"
    intent = service.claims("ct_uscc", contract, signer_id="sg_refused", token_id="tok_uscc")
    error = _refused(signing_rpc, service.sign_request(contract, signer, "ct_uscc", intent,
                                                      [service.keyword(ORG_KEYWORD)]))
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT and "USCC" in error.details()


def _ocsp_over_http(mesh, cert: x509.Certificate) -> asn1_ocsp.OCSPResponse:
    issuing = x509.load_der_x509_certificate(httpx.get(mesh.base_url + "/pki/certs/issuing.cer").content)
    request = ocsp.OCSPRequestBuilder().add_certificate(cert, issuing, hashes.SHA256()).build()
    reply = httpx.post(mesh.base_url + "/pki/ocsp", content=request.public_bytes(serialization.Encoding.DER),
                       headers={"Content-Type": "application/ocsp-request"})
    assert reply.status_code == 200 and reply.headers["content-type"] == "application/ocsp-response"
    return asn1_ocsp.OCSPResponse.load(reply.content)


def test_a_revoked_signer_certificate_stops_the_contract(mesh, client, signing_rpc, contract):
    first = signing_rpc.SignDocument(_org_request(
        contract, "ct_revoked", service.claims("ct_revoked", contract, signer_id="sg_refused", token_id="tok_rv1")))
    (_, cert), = verify.signature_certificates(first.pdf.data)
    assert format(cert.serial_number, "x") == first.certificate_serial
    assert _ocsp_over_http(mesh, cert).basic_ocsp_response["tbs_response_data"]["responses"][0][
        "cert_status"].name == "good"

    time.sleep(1.1)  # revocation times have whole seconds: make it clearly later than the timestamp
    revoked = signing_rpc.RevokeCertificate(pb.RevokeCertificateRequest(
        serial_number=first.certificate_serial, reason="keyCompromise"))
    assert revoked.certificate.status == pb.Certificate.STATUS_REVOKED

    # At once visible over HTTP, through the gateway: OCSP says revoked, the CRL lists it.
    response = _ocsp_over_http(mesh, cert).basic_ocsp_response["tbs_response_data"]["responses"][0]
    assert response["cert_status"].name == "revoked"
    assert response["cert_status"].chosen["revocation_reason"].native == "key_compromise"
    crl = asn1_crl.CertificateList.load(httpx.get(mesh.base_url + "/pki/crl/issuing.crl").content)
    listed = {entry["user_certificate"].native: entry for entry in crl["tbs_cert_list"]["revoked_certificates"]}
    assert cert.serial_number in listed

    # Nobody signs on top of the revoked signature, and the contract is not completed.
    after = first.pdf.data
    error = _refused(signing_rpc, service.sign_request(
        after, service.person_signer("sg_next"), "ct_revoked",
        service.claims("ct_revoked", after, signer_id="sg_next", token_id="tok_rv2"), [service.point(3, 400, 120)]))
    assert error.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert "revoked" in error.details() and first.certificate_serial in error.details()
    with pytest.raises(grpc.RpcError) as stamping:
        signing_rpc.TimestampDocument(pb.TimestampDocumentRequest(pdf=first.pdf))
    assert stamping.value.code() == grpc.StatusCode.FAILED_PRECONDITION

    # Verification follows AdES: the timestamp proves the signature existed before the
    # revocation, which therefore does not reach back to it.
    body = client.post("/v1/documents:verify", {"pdf": service.b64(after)}).json()
    (sig,) = body["signatures"]
    assert sig["verdict"] == "VALID" and sig["timestampTrusted"], sig


def test_racing_repeats_of_one_request_give_one_signature(signing_rpc, contract):
    intent = service.claims("ct_race", contract, signer_id="sg_refused", token_id="tok_race", subject_id="sub_race")
    request = service.sign_request(contract, service.org_signer("sg_refused", "sub_race"), "ct_race", intent,
                                   [service.keyword(ORG_KEYWORD)])
    with ThreadPoolExecutor(3) as pool:
        replies = list(pool.map(lambda _: signing_rpc.SignDocument(request), range(3)))
    assert len({r.sha256 for r in replies}) == 1
    issued = signing_rpc.ListCertificates(pb.ListCertificatesRequest(subject_id="sub_race", include_inactive=True))
    kept = [c for c in issued.certificates if c.status == pb.Certificate.STATUS_VALID]
    assert [c.serial_number for c in kept] == [replies[0].certificate_serial]
    # any certificate made by a losing request was revoked as superseded
    assert all(c.revoke_reason == "superseded" for c in issued.certificates if c not in kept)
