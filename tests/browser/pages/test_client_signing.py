"""Signing with the signer's own certificate in the browser: the signer picks a certificate
chain (from a CA the test makes) and a PKCS#8 key file; the page imports the key into
WebCrypto as non-extractable, signs what the platform prepared, and the key never leaves
the browser. The contract's PDF then validates and names the client certificate."""
from __future__ import annotations

import base64
from collections.abc import Iterator

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from playwright.sync_api import expect

from tests.browser.pages.signer import open_cloud_signing, sign_url, status_of, verify_by_sms, verify_document
from tests.integration.client_signing.outside_ca import CrlServer, OutsideCa
from tests.integration.contract.helpers import borrower, create_contract, lender, ok, signer_of

# Records every importKey the page makes, across its navigations (the binding outlives them).
RECORD_IMPORTS = """
const importKey = crypto.subtle.importKey.bind(crypto.subtle);
crypto.subtle.importKey = async (format, data, algorithm, extractable, usages) => {
  const key = await importKey(format, data, algorithm, extractable, usages);
  await window.recordImport({format, algorithm: algorithm.name, extractable: key.extractable, usages});
  return key;
};
"""


@pytest.fixture(scope="module")
def client_ca() -> Iterator[OutsideCa]:
    crls = CrlServer()
    ca = OutsideCa(name="Browser Client CA", crl_url=crls.url)
    crls.ca = ca
    yield ca
    crls.stop()


def _key_file(kind: str) -> tuple[object, dict]:
    """The signer's private key and its file as the signer would pick it: PEM for EC, DER for RSA."""
    if kind == "ecdsa":
        key = ec.generate_private_key(ec.SECP256R1())
        return key, {"name": "signer.key", "mimeType": "application/x-pem-file",
                     "buffer": key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                 serialization.NoEncryption())}
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key, {"name": "signer.p8", "mimeType": "application/octet-stream",
                 "buffer": key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
                                             serialization.NoEncryption())}


@pytest.mark.parametrize("kind", ["ecdsa", "rsa"])
def test_the_signer_signs_with_their_own_key_in_the_browser(kind, business_line, client_ca, open_page, shot):
    line = business_line()
    ok(line.client.request("PATCH", "/v1/apps/self", {"trustAnchors": [client_ca.root_pem]}))
    person = borrower(order=1)
    contract = create_contract(line.client, line.template_id, signers=[lender(order=2), person])
    key, key_file = _key_file(kind)
    cert = client_ca.issue(person["name"], key.public_key())
    chain = cert.public_bytes(serialization.Encoding.PEM) + client_ca.root_pem.encode()

    page = open_page()
    imports, bodies = [], []
    page.expose_function("recordImport", lambda entry: imports.append(entry))
    page.add_init_script(RECORD_IMPORTS)
    page.on("request", lambda request: bodies.append(request.post_data_buffer or b""))
    page.goto(sign_url(line.client, contract))
    open_cloud_signing(page)
    verify_by_sms(page, line.client, person["mobile"])
    expect(page.get_by_role("heading", name="阅读并签署")).to_be_visible()
    page.get_by_test_id("client-sign-link").click()
    expect(page.get_by_role("heading", name="用自己的证书签署")).to_be_visible()
    page.get_by_label("证书链").set_input_files(
        {"name": "chain.pem", "mimeType": "application/x-pem-file", "buffer": chain})
    page.get_by_label("私钥").set_input_files(key_file)
    shot(page, "files-chosen")
    page.get_by_role("button", name="用我的证书签署").click()
    expect(page.get_by_test_id("outcome")).to_have_text("签署完成")
    shot(page, "signed")

    # The key was imported once, for signing only, and cannot be exported from WebCrypto...
    algorithm = "ECDSA" if kind == "ecdsa" else "RSASSA-PKCS1-v1_5"
    assert [i for i in imports if i["algorithm"] == algorithm] == [
        {"format": "pkcs8", "algorithm": algorithm, "extractable": False, "usages": ["sign"]}]
    # ...and no request carried it, in any form; the chain went to the platform.
    der = key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption())
    secret_forms = [der, base64.b64encode(der), key_file["buffer"], base64.b64encode(key_file["buffer"])]
    assert not [b for b in bodies if any(form in b for form in secret_forms)]
    assert any(cert.public_bytes(serialization.Encoding.PEM).strip().splitlines()[1] in b for b in bodies)

    signed = status_of(line.client, contract["contractId"])
    assert signer_of(signed, "borrower")["status"] == "SIGNED" and signed["status"] == "SIGNING"
    report = verify_document(line.client, contract["contractId"])
    assert report["valid"] is True
    (mine,) = report["signatures"]
    assert mine["serialNumber"] == format(cert.serial_number, "x")
    assert mine["signer"] == person["name"] and mine["issuerDn"] == client_ca.root.subject.rfc4514_string()
    assert mine["verdict"] == "VALID" and mine["trusted"] is True and mine.get("timestampTime")
    events = [e["type"] for e in ok(line.client.get(f"/v1/contracts/{contract['contractId']}/events"))["events"]]
    assert "signature.prepared" in events and "signer.signed" in events


def test_a_key_that_does_not_match_the_certificate_is_refused_and_the_right_one_then_signs(
        business_line, client_ca, open_page):
    line = business_line()
    ok(line.client.request("PATCH", "/v1/apps/self", {"trustAnchors": [client_ca.root_pem]}))
    person = borrower(order=1)
    contract = create_contract(line.client, line.template_id, signers=[lender(order=2), person])
    key, key_file = _key_file("ecdsa")
    cert = client_ca.issue(person["name"], key.public_key())
    _, other_key_file = _key_file("ecdsa")  # not the certificate's key

    page = open_page()
    page.goto(sign_url(line.client, contract))
    open_cloud_signing(page)
    verify_by_sms(page, line.client, person["mobile"])
    page.get_by_test_id("client-sign-link").click()
    page.get_by_label("证书链").set_input_files(
        {"name": "chain.pem", "mimeType": "application/x-pem-file",
         "buffer": cert.public_bytes(serialization.Encoding.PEM) + client_ca.root_pem.encode()})
    page.get_by_label("私钥").set_input_files(other_key_file)
    page.get_by_role("button", name="用我的证书签署").click()
    expect(page.get_by_test_id("client-sign-error")).to_contain_text("does not verify")
    assert signer_of(status_of(line.client, contract["contractId"]), "borrower")["status"] == "PENDING"

    page.get_by_label("私钥").set_input_files(key_file)  # the right key signs what was prepared
    page.get_by_role("button", name="用我的证书签署").click()
    expect(page.get_by_test_id("outcome")).to_have_text("签署完成")
    assert signer_of(status_of(line.client, contract["contractId"]), "borrower")["status"] == "SIGNED"
    events = [e["type"] for e in ok(line.client.get(f"/v1/contracts/{contract['contractId']}/events"))["events"]]
    assert events.count("signature.prepared") == 1
