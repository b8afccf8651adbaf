"""The business line's side of client-side signing, as its client would do it."""
from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass
from pathlib import Path

import httpx
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

from tests.integration.client_signing.outside_ca import OutsideCa
from tests.integration.contract.helpers import intent_token, ok, signer_of
from tests.support.pdfsig import nss_database, pdfsig_report
from tests.support.signed import SignedClient


@dataclass(frozen=True)
class ClientKey:
    """The signer's own key (it never leaves the test) and its certificate from the outside CA."""

    key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey
    cert: x509.Certificate
    ca: OutsideCa

    @classmethod
    def ec(cls, ca: OutsideCa, name: str) -> ClientKey:
        key = ec.generate_private_key(ec.SECP256R1())
        return cls(key, ca.issue(name, key.public_key()), ca)

    @classmethod
    def rsa(cls, ca: OutsideCa, name: str) -> ClientKey:
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        return cls(key, ca.issue(name, key.public_key()), ca)

    def chain(self) -> list[str]:
        return [self.cert.public_bytes(serialization.Encoding.PEM).decode(), self.ca.root_pem]

    def sign(self, data: bytes) -> bytes:
        if isinstance(self.key, ec.EllipticCurvePrivateKey):
            return self.key.sign(data, ec.ECDSA(hashes.SHA256()))
        return self.key.sign(data, padding.PKCS1v15(), hashes.SHA256())


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def prepare(client: SignedClient, contract: dict, role: str, key: ClientKey) -> httpx.Response:
    signer = signer_of(contract, role)
    token = intent_token(client, signer["signerId"], [contract["contractId"]], signer["mobile"])
    return client.post(f"/v1/contracts/{contract['contractId']}:prepareSign",
                       {"signerId": signer["signerId"], "intentToken": token, "certificateChain": key.chain()})


def prepared(client: SignedClient, contract: dict, role: str, key: ClientKey) -> dict:
    body = ok(prepare(client, contract, role, key))
    tbs = base64.b64decode(body["toBeSigned"])
    assert base64.b64decode(body["digest"]) == hashlib.sha256(tbs).digest()
    assert tbs[0] == 0x31  # a DER SET OF: the CMS signed attributes, as signed
    return body


def complete(client: SignedClient, contract: dict, preparation: dict, signature: bytes) -> httpx.Response:
    return client.post(f"/v1/contracts/{contract['contractId']}:completeSign",
                       {"preparationId": preparation["preparationId"], "signature": b64(signature)})


def to_be_signed(preparation: dict) -> bytes:
    return base64.b64decode(preparation["toBeSigned"])


def document(client: SignedClient, contract_id: str) -> bytes:
    reply = client.get(f"/v1/contracts/{contract_id}/document?alt=media")
    assert reply.status_code == 200, reply.text
    return reply.content


def verify(client: SignedClient, pdf: bytes, **extra) -> dict:
    return ok(client.post("/v1/documents:verify", {"pdf": b64(pdf), **extra}))


def pdfsig(pdf: bytes, workdir: Path, roots: list[bytes]) -> list[dict[str, str]]:
    """poppler's pdfsig (NSS) trusting ``roots`` (PEM), offline: one block per signature. Tests
    calling it ask for the ``pdfsig_tools`` fixture, which skips them when pdfsig is missing."""
    return pdfsig_report(pdf, nss_database(workdir / "nss", roots), workdir, "-no-ocsp")

