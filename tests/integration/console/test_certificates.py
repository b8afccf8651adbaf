"""The certificates page: a certificate the platform CA issued is found by subject id and
by name with its status and validity, an administrator revokes it through the form (with
the CSRF token), and the public CRL and OCSP through the gateway report it at once.
A reviewer may look but not revoke; an operator may not open the page."""
from __future__ import annotations

import secrets

import grpc
import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509 import ocsp

from econtract.signing.v1 import signing_pb2_grpc
from tests.unit.signing.fixtures import contract_pdf
from tests.integration.console.conftest import flash_of
from tests.integration.signing import service
from tests.integration.signing.test_console_certificates import issuing_key_hash, issuing_name_hash


@pytest.fixture(scope="module")
def issued(mesh) -> tuple[str, str]:
    """(subject id, serial) of a certificate issued by a platform signature."""
    subject_id = "sub_console_" + secrets.token_hex(4)
    signer = service.person_signer("sg_" + subject_id)
    signer.subject_id = subject_id
    pdf = contract_pdf(1)
    with grpc.insecure_channel(mesh.env["SIGNING_ADDR"]) as channel:
        signed = signing_pb2_grpc.SigningServiceStub(channel).SignDocument(service.sign_request(
            pdf, signer, "ct_" + subject_id,
            service.claims("ct_" + subject_id, pdf, signer_id=signer.signer_id, token_id="tok_" + subject_id,
                           subject_id=subject_id), [service.point(1, 300, 400)]), timeout=120)
    return subject_id, signed.certificate_serial


def _revoked_per_ocsp_and_crl(base_url: str, serial: str) -> tuple[bool, bool]:
    issuing = x509.load_der_x509_certificate(httpx.get(base_url + "/pki/certs/issuing.cer").content)
    request = ocsp.OCSPRequestBuilder().add_certificate_by_hash(
        issuing_name_hash(issuing), issuing_key_hash(issuing), int(serial, 16), hashes.SHA1()).build()
    answer = httpx.post(base_url + "/pki/ocsp", content=request.public_bytes(serialization.Encoding.DER),
                        headers={"Content-Type": "application/ocsp-request"})
    crl = x509.load_der_x509_crl(httpx.get(base_url + "/pki/crl/issuing.crl").content)
    return (ocsp.load_der_ocsp_response(answer.content).certificate_status is ocsp.OCSPCertStatus.REVOKED,
            crl.get_revoked_certificate_by_serial_number(int(serial, 16)) is not None)


def test_an_issued_certificate_is_listed_and_revoked_through_the_console(mesh, console_as, people, issued):
    subject_id, serial = issued
    admin = console_as(people["admin"])
    page = admin.open(f"/console/certificates?subject_id={subject_id}")
    assert page.status_code == 200, page.text
    assert f'data-serial="{serial}"' in page.text and "有效" in page.text and "CN=" + service.PERSON_NAME in page.text
    by_name = admin.open(f"/console/certificates?name={service.PERSON_NAME}&show=all")
    assert f'data-serial="{serial}"' in by_name.text
    assert _revoked_per_ocsp_and_crl(mesh.base_url, serial) == (False, False)

    assert admin.post(f"/console/certificates/{serial}/revoke", {"reason": "keyCompromise"},
                      csrf=False).status_code == 403  # no CSRF token, nothing revoked
    assert _revoked_per_ocsp_and_crl(mesh.base_url, serial) == (False, False)

    back = f"/console/certificates?subject_id={subject_id}"
    reply = admin.post(f"/console/certificates/{serial}/revoke", {"reason": "keyCompromise", "back": back})
    assert reply.status_code == 303 and reply.headers["location"] == back
    after = admin.open(back)
    assert flash_of(after) == f"证书 {serial} 已吊销，CRL 与 OCSP 已同步。"
    assert "已吊销" in after.text and "key_compromise" in after.text
    assert _revoked_per_ocsp_and_crl(mesh.base_url, serial) == (True, True)
    active_only = admin.open(back + "&show=active")
    assert f'data-serial="{serial}"' not in active_only.text


def test_a_reviewer_may_look_but_not_revoke_and_an_operator_may_not_look(console_as, people, issued):
    subject_id, serial = issued
    reviewer = console_as(people["reviewer"])
    page = reviewer.open(f"/console/certificates?subject_id={subject_id}")
    assert page.status_code == 200 and f'data-serial="{serial}"' in page.text
    assert "/revoke" not in page.text and 'href="/console/certificates"' in page.text
    refused = reviewer.post(f"/console/certificates/{serial}/revoke", {"reason": "superseded",
                                                                        "back": "/console/certificates"})
    assert flash_of(reviewer.open(refused.headers["location"])) == "您的角色无权进行此操作。"
    operator = console_as(people["operator"])
    assert operator.open("/console/certificates").status_code == 403


def test_an_unknown_reason_is_refused_with_a_clear_message(console_as, people, issued):
    _, serial = issued
    admin = console_as(people["admin"])
    reply = admin.post(f"/console/certificates/{serial}/revoke", {"reason": "bored", "back": "/console/certificates"})
    assert flash_of(admin.open(reply.headers["location"])) == "证书序列号或吊销原因有误。"
