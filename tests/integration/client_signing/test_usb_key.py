"""Client-side signing with a USB key: the signer's key lives on a PKCS#11 token (a SoftHSM2
token standing in for the USB key), the desktop client signs the prepared digest there
through python-pkcs11, and the platform embeds the signature; pdfsig reports it valid."""
from __future__ import annotations

import base64
import hashlib
import secrets

import pkcs11
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from pkcs11 import Attribute, KeyType, Mechanism
from pkcs11.exceptions import AttributeSensitive, UserAlreadyLoggedIn
from pkcs11.util.ec import encode_ec_public_key, encode_ecdsa_signature, encode_named_curve_parameters
from pkcs11.util.rsa import encode_rsa_public_key

from tests.integration.client_signing import steps
from tests.integration.client_signing.steps import ClientKey
from tests.integration.contract.helpers import borrower, create_contract, ok, signer_of
from tests.integration.signing.softhsm import soft_token

PRIVATE = {Attribute.SIGN: True, Attribute.SENSITIVE: True, Attribute.EXTRACTABLE: False, Attribute.PRIVATE: True}


@pytest.fixture(scope="module")
def usb_session(tmp_path_factory):
    token = soft_token(tmp_path_factory.mktemp("softhsm"))
    device = pkcs11.lib(str(token.module)).get_token(token_label=token.label)
    try:
        session = device.open(rw=True, user_pin=token.pin)
    except UserAlreadyLoggedIn:  # login is per process: another test of this process logged in
        session = device.open(rw=True)
    yield session
    session.close()


class UsbKey(ClientKey):
    """A ClientKey whose private half is a non-extractable key object on the token."""

    def sign(self, data: bytes) -> bytes:  # the client's software hands the token the digest only
        if self.key.key_type == KeyType.EC:
            return encode_ecdsa_signature(self.key.sign(hashlib.sha256(data).digest(), mechanism=Mechanism.ECDSA))
        return self.key.sign(data, mechanism=Mechanism.SHA256_RSA_PKCS)


def _usb_key(session, kind: KeyType, ca, name: str) -> UsbKey:
    label = f"usb-{secrets.token_hex(4)}"
    if kind == KeyType.EC:
        params = session.create_domain_parameters(
            KeyType.EC, {Attribute.EC_PARAMS: encode_named_curve_parameters("secp256r1")}, local=True)
        public, private = params.generate_keypair(store=True, label=label, private_template=PRIVATE)
        public_key = serialization.load_der_public_key(encode_ec_public_key(public))
    else:
        public, private = session.generate_keypair(KeyType.RSA, 2048, store=True, label=label,
                                                   private_template=PRIVATE)
        public_key = serialization.load_der_public_key(encode_rsa_public_key(public))
    return UsbKey(private, ca.issue(name, public_key), ca)


@pytest.mark.parametrize("kind", [KeyType.EC, KeyType.RSA], ids=["ecdsa-p256", "rsa-2048"])
def test_a_usb_key_signs_the_prepared_digest(kind, usb_session, business, borrower_template, outside_ca, pdfsig_tools,
                                             tmp_path):
    key = _usb_key(usb_session, kind, outside_ca, "张三")
    assert key.key[Attribute.EXTRACTABLE] is False  # the key cannot leave the token
    with pytest.raises(AttributeSensitive):
        _ = key.key[Attribute.VALUE if kind == KeyType.EC else Attribute.PRIVATE_EXPONENT]
    expected = ec.EllipticCurvePublicKey if kind == KeyType.EC else rsa.RSAPublicKey
    assert isinstance(key.cert.public_key(), expected)

    contract = create_contract(business, borrower_template["templateId"], signers=[borrower(order=1)])
    preparation = steps.prepared(business, contract, "borrower", key)
    # The digest the platform hands out is the one the token signs (ECDSA over the SHA-256).
    assert base64.b64decode(preparation["digest"]) == hashlib.sha256(steps.to_be_signed(preparation)).digest()
    done = ok(steps.complete(business, contract, preparation, key.sign(steps.to_be_signed(preparation))))
    assert done["status"] == "COMPLETED"

    pdf = steps.document(business, contract["contractId"])
    field = f"sig_{signer_of(contract, 'borrower')['signerId']}"
    report = steps.verify(business, pdf)
    mine = next(s for s in report["signatures"] if s["fieldName"] == field)
    assert report["valid"] is True and mine["verdict"] == "VALID"
    assert mine["serialNumber"] == format(key.cert.serial_number, "x")

    roots = [r.encode() for r in ok(business.get("/v1/trust/roots"))["roots"]]
    blocks = steps.pdfsig(pdf, tmp_path, [*roots, outside_ca.root.public_bytes(serialization.Encoding.PEM)])
    theirs = next(b for b in blocks if b.get("Signature Field Name") == field)
    assert theirs["Signer Certificate Common Name"] == "张三"
    assert theirs["Signature Validation"] == "Signature is Valid."
    assert theirs["Certificate Validation"] == "Certificate is Trusted."
