"""The platform PKI over HTTP through the gateway: trust roots, CA certificates, CRLs,
OCSP (POST and GET) and the RFC 3161 TSA, each parsed as a relying party would."""
import base64
import hashlib
import secrets
import urllib.parse

import httpx
import pytest
from asn1crypto import crl as asn1_crl
from asn1crypto import ocsp as asn1_ocsp
from asn1crypto import tsp
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509 import ocsp
from cryptography.x509.oid import AuthorityInformationAccessOID, ExtensionOID

from services.signing import verify


def _get(mesh, path: str) -> httpx.Response:
    reply = httpx.get(mesh.base_url + path)
    assert reply.status_code == 200, reply.text
    return reply


@pytest.fixture(scope="module")
def root(mesh) -> x509.Certificate:
    return x509.load_der_x509_certificate(_get(mesh, "/pki/certs/root.cer").content)


@pytest.fixture(scope="module")
def issuing(mesh) -> x509.Certificate:
    return x509.load_der_x509_certificate(_get(mesh, "/pki/certs/issuing.cer").content)


@pytest.fixture(scope="module")
def signer_cert(service_signed_contract) -> x509.Certificate:
    return dict(verify.signature_certificates(service_signed_contract.after_org))["sg_lender"]


def test_trust_roots_is_public_and_serves_our_root(mesh, root, issuing):
    reply = httpx.get(mesh.base_url + "/v1/trust/roots")  # no app signature
    assert reply.status_code == 200
    (pem,) = reply.json()["roots"]
    served = x509.load_pem_x509_certificate(pem.encode())
    assert served == root and served.subject == served.issuer
    assert served.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    issuing.verify_directly_issued_by(served)


def test_certificate_urls_point_at_the_gateway(mesh, signer_cert, issuing, root):
    aia = signer_cert.extensions.get_extension_for_oid(ExtensionOID.AUTHORITY_INFORMATION_ACCESS).value
    urls = {d.access_method: d.access_location.value for d in aia}
    assert urls[AuthorityInformationAccessOID.OCSP] == mesh.base_url + "/pki/ocsp"
    ca_issuers = httpx.get(urls[AuthorityInformationAccessOID.CA_ISSUERS])
    assert ca_issuers.headers["content-type"] == "application/pkix-cert"
    assert x509.load_der_x509_certificate(ca_issuers.content) == issuing
    (point,) = signer_cert.extensions.get_extension_for_class(x509.CRLDistributionPoints).value
    crl = x509.load_der_x509_crl(httpx.get(point.full_name[0].value).content)
    assert crl.issuer == issuing.subject and crl.is_signature_valid(issuing.public_key())
    (point,) = issuing.extensions.get_extension_for_class(x509.CRLDistributionPoints).value
    assert point.full_name[0].value == mesh.base_url + "/pki/crl/root.crl"


@pytest.mark.parametrize("name, signer", [("root", "root"), ("issuing", "issuing")])
def test_crls_parse_and_are_signed_by_their_ca(mesh, request, name, signer):
    reply = _get(mesh, f"/pki/crl/{name}.crl")
    assert reply.headers["content-type"] == "application/pkix-crl"
    parsed = asn1_crl.CertificateList.load(reply.content)
    ca = request.getfixturevalue(signer)
    assert parsed.issuer.dump() == ca.subject.public_bytes()
    crl = x509.load_der_x509_crl(reply.content)
    assert crl.is_signature_valid(ca.public_key())
    assert crl.next_update_utc > crl.last_update_utc


def _ocsp_request(cert: x509.Certificate, issuer: x509.Certificate, nonce: bytes | None = None) -> bytes:
    builder = ocsp.OCSPRequestBuilder().add_certificate(cert, issuer, hashes.SHA1())
    if nonce is not None:
        builder = builder.add_extension(x509.OCSPNonce(nonce), critical=False)
    return builder.build().public_bytes(serialization.Encoding.DER)


def _single(der: bytes) -> asn1_ocsp.SingleResponse:
    response = asn1_ocsp.OCSPResponse.load(der)
    assert response["response_status"].native == "successful"
    (single,) = response.basic_ocsp_response["tbs_response_data"]["responses"]
    return single


def test_ocsp_post_answers_good_with_the_nonce(mesh, signer_cert, issuing):
    nonce = secrets.token_bytes(16)
    reply = httpx.post(mesh.base_url + "/pki/ocsp", content=_ocsp_request(signer_cert, issuing, nonce),
                       headers={"Content-Type": "application/ocsp-request"})
    assert reply.status_code == 200 and reply.headers["content-type"] == "application/ocsp-response"
    single = _single(reply.content)
    assert single["cert_status"].name == "good"
    assert single["cert_id"]["serial_number"].native == signer_cert.serial_number
    parsed = ocsp.load_der_ocsp_response(reply.content)
    assert parsed.extensions.get_extension_for_class(x509.OCSPNonce).value.nonce == nonce
    issuing.public_key().verify(parsed.signature, parsed.tbs_response_bytes, ec.ECDSA(hashes.SHA256()))


def test_ocsp_get_takes_the_url_encoded_base64_request(mesh, signer_cert, issuing):
    encoded = urllib.parse.quote(base64.b64encode(_ocsp_request(signer_cert, issuing)).decode(), safe="")
    reply = _get(mesh, "/pki/ocsp/" + encoded)
    assert reply.headers["content-type"] == "application/ocsp-response"
    assert _single(reply.content)["cert_status"].name == "good"


def test_ocsp_about_a_stranger_or_garbage_is_an_unsuccessful_answer(mesh, signer_cert, root):
    foreign = httpx.post(mesh.base_url + "/pki/ocsp", content=_ocsp_request(signer_cert, root))
    assert asn1_ocsp.OCSPResponse.load(foreign.content)["response_status"].native == "unauthorized"
    garbage = httpx.post(mesh.base_url + "/pki/ocsp", content=b"not an OCSP request")
    assert asn1_ocsp.OCSPResponse.load(garbage.content)["response_status"].native == "malformed_request"
    bad_get = httpx.get(mesh.base_url + "/pki/ocsp/%%%not-base64")
    assert asn1_ocsp.OCSPResponse.load(bad_get.content)["response_status"].native == "malformed_request"


def _timestamp_query(digest: bytes, nonce: int) -> bytes:
    return tsp.TimeStampReq({
        "version": "v1",
        "message_imprint": {"hash_algorithm": {"algorithm": "sha256"}, "hashed_message": digest},
        "nonce": nonce,
        "cert_req": True,
    }).dump()


def test_tsa_grants_a_token_over_http(mesh, issuing):
    digest = hashlib.sha256(b"the contract").digest()
    reply = httpx.post(mesh.base_url + "/pki/tsa", content=_timestamp_query(digest, 4242),
                       headers={"Content-Type": "application/timestamp-query"})
    assert reply.status_code == 200 and reply.headers["content-type"] == "application/timestamp-reply"
    response = tsp.TimeStampResp.load(reply.content)
    assert response["status"]["status"].native == "granted"
    signed_data = response["time_stamp_token"]["content"]
    info = signed_data["encap_content_info"]["content"].parsed
    assert info["message_imprint"]["hashed_message"].native == digest
    assert info["nonce"].native == 4242
    certs = [x509.load_der_x509_certificate(c.chosen.dump()) for c in signed_data["certificates"]]
    (tsa_cert,) = [c for c in certs if c != issuing]
    assert tsa_cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).critical
    tsa_cert.verify_directly_issued_by(issuing)


def test_tsa_rejects_a_bad_query_in_rfc_3161_terms(mesh):
    reply = httpx.post(mesh.base_url + "/pki/tsa", content=_timestamp_query(b"short", 1),
                       headers={"Content-Type": "application/timestamp-query"})
    assert reply.status_code == 200
    assert b"message imprint has the wrong length" in reply.content


def test_tsa_wants_its_media_type(mesh):
    reply = httpx.post(mesh.base_url + "/pki/tsa", content=b"x", headers={"Content-Type": "application/json"})
    assert reply.status_code == 415


def test_oversized_request_is_413(mesh):
    reply = httpx.post(mesh.base_url + "/pki/ocsp", content=b"x" * (64 * 1024 + 1))
    assert reply.status_code == 413
