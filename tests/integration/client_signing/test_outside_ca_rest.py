"""Cloud signing under an outside CA a business line chose in its settings: the platform
enrols each one-time signer key with the CA over EST (the local EST server in front of a
test CA), so the signature in the PDF rests on the outside CA's certificate."""
from __future__ import annotations

import io

import pytest
from cryptography import x509
from pyhanko.pdf_utils.reader import PdfFileReader

from tests.fixtures.docx_fixtures import loan_contract_docx_bytes
from tests.integration.client_signing import steps
from tests.integration.client_signing.conftest import BORROWER_ONLY
from tests.integration.contract.helpers import approved_template, borrower, create_contract, error, ok, sign_as
from tests.integration.signing.est_server import EstServer, est_ca

USER, PASSWORD = "econtract-licensed", "est-Pa55-only-here"
INVALID_ARGUMENT, PERMISSION_DENIED = 3, 7


@pytest.fixture(scope="module")
def licensed_ca(tmp_path_factory):
    with est_ca("Licensed EST CA", tmp_path_factory.mktemp("est"), USER, PASSWORD) as made:
        yield made


def _est_provider(est: EstServer, password: str = PASSWORD) -> dict:
    return {"kind": "EST", "estUrl": est.base_url, "estTlsRoots": est.tls_ca.read_text(),
            "estUsername": USER, "estPassword": password}


@pytest.fixture(scope="module")
def licensed(new_app, licensed_ca):
    ca, est = licensed_ca
    client = new_app("licensed-ca")
    reply = client.request("PATCH", "/v1/apps/self", {"caProvider": _est_provider(est), "trustAnchors": [ca.root_pem]})
    assert reply.status_code == 200, reply.text
    return client


def _signed_pdf(client, reviewer) -> tuple[dict, bytes]:
    template = approved_template(client, reviewer, loan_contract_docx_bytes(), roles=BORROWER_ONLY)
    contract = create_contract(client, template["templateId"], signers=[borrower(order=1)])
    assert sign_as(client, contract, "borrower")["status"] == "COMPLETED"
    return contract, steps.document(client, contract["contractId"])


def _signer_certificate(pdf: bytes, field_name: str) -> x509.Certificate:
    signature = next(s for s in PdfFileReader(io.BytesIO(pdf)).embedded_signatures if s.field_name == field_name)
    return x509.load_der_x509_certificate(signature.signer_cert.dump())


def test_the_password_is_kept_but_never_shown(licensed, licensed_ca):
    _, est = licensed_ca
    kept = {"caProvider": {**_est_provider(est), "estPassword": ""}}  # an empty password keeps the stored one
    for reply in (licensed.get("/v1/apps/self"), licensed.request("PATCH", "/v1/apps/self", kept)):
        body = ok(reply)
        assert PASSWORD not in reply.text
        shown = body["caProvider"]
        assert shown.pop("estPassword", "") == ""  # write-only
        assert shown == {"kind": "EST", "estUrl": est.base_url, "estTlsRoots": est.tls_ca.read_text(),
                         "estUsername": USER, "estPasswordSet": True}
    # A new URL or user name needs the password again: it is not sent to another server unasked.
    moved = licensed.request("PATCH", "/v1/apps/self",
                             {"caProvider": {**_est_provider(est), "estUrl": "https://ca.example.com/.well-known/est",
                                             "estPassword": ""}})
    assert "est_password is required" in error(moved, 400, INVALID_ARGUMENT)["message"]
    plain = licensed.request("PATCH", "/v1/apps/self",
                             {"caProvider": {**_est_provider(est), "estUrl": est.base_url.replace("https", "http")}})
    assert "https" in error(plain, 400, INVALID_ARGUMENT)["message"]


def test_cloud_signing_gets_the_signer_certificate_from_the_chosen_ca(mesh, licensed, licensed_ca, reviewer,
                                                                      new_app):
    ca, est = licensed_ca
    enrolled = len(est.enrolled)
    contract, pdf = _signed_pdf(licensed, reviewer)
    field = f"sig_{contract['signers'][0]['signerId']}"

    cert = _signer_certificate(pdf, field)
    assert len(est.enrolled) == enrolled + 1 and cert == est.enrolled[-1]  # enrolled over EST for this signing
    assert cert.issuer == ca.root.subject
    cert.verify_directly_issued_by(ca.root)
    assert cert.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)[0].value == "张三"
    # The enrolment is traced as a client span of its own, without the credentials.
    spans = mesh.exporter.get_finished_spans()
    enrolments = [s for s in spans if s.name == "est.simpleenroll"]
    assert enrolments and enrolments[-1].attributes["http.response.status_code"] == 200
    assert enrolments[-1].attributes["url.path"] == "/.well-known/est/simpleenroll"
    assert not [s for s in spans if any(PASSWORD in str(v) for v in (s.attributes or {}).values())]

    # Trusted for the business line that registered the CA's root...
    report = steps.verify(licensed, pdf)
    mine = next(s for s in report["signatures"] if s["fieldName"] == field)
    assert report["valid"] is True, report
    assert mine["trusted"] is True and mine["verdict"] == "VALID" and mine["intact"] is True
    assert mine["issuerDn"] == ca.root.subject.rfc4514_string()
    assert mine["serialNumber"] == format(cert.serial_number, "x")
    # ...not for another one, which never registered it.
    other = steps.verify(new_app("bystander-of-licensed"), pdf)
    theirs = next(s for s in other["signatures"] if s["fieldName"] == field)
    assert other["valid"] is False and theirs["trusted"] is False and theirs["intact"] is True
    assert theirs["verdict"] == "INDETERMINATE"


def test_another_business_line_still_signs_with_the_built_in_ca(business, borrower_template, licensed_ca):
    ca, est = licensed_ca
    enrolled = len(est.enrolled)
    contract = create_contract(business, borrower_template["templateId"], signers=[borrower(order=1)])
    sign_as(business, contract, "borrower")
    pdf = steps.document(business, contract["contractId"])
    cert = _signer_certificate(pdf, f"sig_{contract['signers'][0]['signerId']}")
    assert cert.issuer != ca.root.subject and len(est.enrolled) == enrolled
    assert steps.verify(business, pdf, platformTrustOnly=True)["valid"] is True


def test_refused_est_credentials_stop_the_signing_clearly(new_app, reviewer, licensed_ca):
    ca, est = licensed_ca
    client = new_app("licensed-ca-wrong-password")
    ok(client.request("PATCH", "/v1/apps/self",
                      {"caProvider": _est_provider(est, "not-the-password"), "trustAnchors": [ca.root_pem]}))
    template = approved_template(client, reviewer, loan_contract_docx_bytes(), roles=BORROWER_ONLY)
    contract = create_contract(client, template["templateId"], signers=[borrower(order=1)])
    signer = contract["signers"][0]
    from tests.integration.contract.helpers import intent_token, sign

    token = intent_token(client, signer["signerId"], [contract["contractId"]], signer["mobile"])
    refused = sign(client, contract["contractId"], signer["signerId"], token)
    body = error(refused, 403, PERMISSION_DENIED)
    assert "refused the EST credentials" in body["message"] and "not-the-password" not in refused.text
    assert ok(client.get(f"/v1/contracts/{contract['contractId']}"))["signers"][0]["status"] == "PENDING"
