"""What the console needs about certificates, over the internal RPCs: find a subject's
certificates (by platform id or by name), see their status, revoke one, and the public
CRL and OCSP answers show the revocation at once."""
from __future__ import annotations

import httpx
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509 import ocsp

from econtract.signing.v1 import signing_pb2 as pb
from tests.integration.signing import service


def test_a_revocation_from_the_console_shows_in_crl_and_ocsp_at_once(mesh, signing_rpc, contract):
    signer = service.person_signer("sg_console")
    signer.subject_id = "sub_console"
    signed = signing_rpc.SignDocument(service.sign_request(
        contract, signer, "ct_console",
        service.claims("ct_console", contract, signer_id="sg_console", token_id="tok_console",
                       subject_id="sub_console"), [service.point(1, 300, 400)]))
    serial = signed.certificate_serial
    issuing = x509.load_der_x509_certificate(httpx.get(mesh.base_url + "/pki/certs/issuing.cer").content)

    def ocsp_status() -> ocsp.OCSPCertStatus:
        request = ocsp.OCSPRequestBuilder().add_certificate_by_hash(
            issuing_name_hash(issuing), issuing_key_hash(issuing), int(serial, 16), hashes.SHA1()).build()
        answer = httpx.post(mesh.base_url + "/pki/ocsp", content=request.public_bytes(serialization.Encoding.DER),
                            headers={"Content-Type": "application/ocsp-request"})
        return ocsp.load_der_ocsp_response(answer.content).certificate_status

    def on_crl() -> bool:
        crl = x509.load_der_x509_crl(httpx.get(mesh.base_url + "/pki/crl/issuing.crl").content)
        return crl.get_revoked_certificate_by_serial_number(int(serial, 16)) is not None

    by_id = signing_rpc.ListCertificates(pb.ListCertificatesRequest(subject_id="sub_console"))
    by_name = signing_rpc.ListCertificates(pb.ListCertificatesRequest(subject_name=service.PERSON_NAME,
                                                                      include_inactive=True))
    assert [c.serial_number for c in by_id.certificates] == [serial]
    assert serial in [c.serial_number for c in by_name.certificates]
    assert all("CN=" + service.PERSON_NAME in c.subject_dn for c in by_name.certificates)
    assert by_id.certificates[0].status == pb.Certificate.STATUS_VALID
    assert ocsp_status() is ocsp.OCSPCertStatus.GOOD and not on_crl()

    revoked = signing_rpc.RevokeCertificate(pb.RevokeCertificateRequest(serial_number=serial,
                                                                        reason="keyCompromise"))
    assert revoked.certificate.status == pb.Certificate.STATUS_REVOKED
    assert revoked.certificate.revoke_reason == "key_compromise"
    assert ocsp_status() is ocsp.OCSPCertStatus.REVOKED and on_crl()
    listed = signing_rpc.ListCertificates(pb.ListCertificatesRequest(subject_id="sub_console",
                                                                     include_inactive=True))
    assert listed.certificates[0].status == pb.Certificate.STATUS_REVOKED
    assert not signing_rpc.ListCertificates(pb.ListCertificatesRequest(subject_id="sub_console")).certificates


def issuing_name_hash(issuer: x509.Certificate) -> bytes:
    digest = hashes.Hash(hashes.SHA1())
    digest.update(issuer.subject.public_bytes())
    return digest.finalize()


def issuing_key_hash(issuer: x509.Certificate) -> bytes:
    digest = hashes.Hash(hashes.SHA1())
    digest.update(issuer.public_key().public_bytes(serialization.Encoding.X962,
                                                   serialization.PublicFormat.UncompressedPoint))
    return digest.finalize()
