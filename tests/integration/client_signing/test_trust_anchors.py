"""A business line's trust anchors: only CA certificates that may sign certificates are
accepted; an intermediate alone is enough for the signatures under it to be trusted; and
removing an anchor makes documents:verify report them untrusted again."""
from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.fixtures.docx_fixtures import loan_contract_docx_bytes
from tests.integration.client_signing import steps
from tests.integration.client_signing.conftest import BORROWER_ONLY
from tests.integration.client_signing.outside_ca import CrlServer, OutsideCa
from tests.integration.client_signing.steps import ClientKey
from tests.integration.contract.helpers import approved_template, borrower, create_contract, error, ok

INVALID_ARGUMENT = 3


@pytest.fixture(scope="module")
def issuing_ca() -> Iterator[OutsideCa]:
    """An intermediate CA under a root the business line never registers."""
    crls = CrlServer()
    ca = OutsideCa(name="Outside Issuing CA", crl_url=crls.url, parent=OutsideCa(name="Outside Root CA"))
    crls.ca = ca
    yield ca
    crls.stop()


def _pem(cert: x509.Certificate) -> str:
    return cert.public_bytes(serialization.Encoding.PEM).decode()


def _signature(report: dict) -> dict:
    (signature,) = [s for s in report["signatures"] if s["fieldName"].startswith("sig_")]
    return signature


def test_an_intermediate_alone_is_trusted_until_it_is_removed(new_app, reviewer, issuing_ca):
    client = new_app("anchored-at-an-intermediate")
    assert issuing_ca.root.issuer != issuing_ca.root.subject  # not self-signed: an intermediate
    ok(client.request("PATCH", "/v1/apps/self", {"trustAnchors": [issuing_ca.root_pem]}))
    template = approved_template(client, reviewer, loan_contract_docx_bytes(), roles=BORROWER_ONLY)
    contract = create_contract(client, template["templateId"], signers=[borrower(order=1)])
    key = ClientKey.ec(issuing_ca, "张三")  # its chain: the signer's certificate and the intermediate
    preparation = steps.prepared(client, contract, "borrower", key)
    assert ok(steps.complete(client, contract, preparation, key.sign(steps.to_be_signed(preparation))))["status"] \
        == "COMPLETED"
    pdf = steps.document(client, contract["contractId"])

    trusted = steps.verify(client, pdf)
    mine = _signature(trusted)
    assert trusted["valid"] is True and mine["trusted"] is True and mine["verdict"] == "VALID"
    assert mine["issuerDn"] == issuing_ca.root.subject.rfc4514_string()

    cleared = ok(client.request("PATCH", "/v1/apps/self", {"trustAnchors": [], "updateMask": "trustAnchors"}))
    assert cleared.get("trustAnchors", []) == []
    untrusted = steps.verify(client, pdf)
    mine = _signature(untrusted)
    assert untrusted["valid"] is False and mine["trusted"] is False and mine["intact"] is True
    assert mine["verdict"] == "INDETERMINATE"


def test_only_ca_certificates_that_sign_certificates_are_anchors(new_app, outside_ca):
    client = new_app("anchors-checked")
    leaf = ClientKey.ec(outside_ca, "张三").cert
    refused = error(client.request("PATCH", "/v1/apps/self", {"trustAnchors": [outside_ca.root_pem, _pem(leaf)]}),
                    400, INVALID_ARGUMENT)
    assert refused["message"] == (
        f"trust_anchors[1] ({leaf.subject.rfc4514_string()}) is not a CA certificate (BasicConstraints cA is not "
        "set): register the root or intermediate CA that issues the signer certificates")

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "CA without keyCertSign")])
    now = dt.datetime.now(dt.timezone.utc)
    no_cert_sign = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(now).not_valid_after(now + dt.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=False,
                                     data_encipherment=False, key_agreement=False, key_cert_sign=False, crl_sign=True,
                                     encipher_only=False, decipher_only=False), critical=True)
        .sign(key, hashes.SHA256()))
    refused = error(client.request("PATCH", "/v1/apps/self", {"trustAnchors": [_pem(no_cert_sign)]}),
                    400, INVALID_ARGUMENT)
    assert refused["message"] == ("trust_anchors[0] (CN=CA without keyCertSign) may not sign certificates "
                                  "(its KeyUsage lacks keyCertSign)")
    assert ok(client.get("/v1/apps/self")).get("trustAnchors", []) == []  # nothing of a refused change is kept
    assert ok(client.request("PATCH", "/v1/apps/self", {"trustAnchors": [outside_ca.root_pem]}))["trustAnchors"] \
        == [outside_ca.root_pem]
