"""Where the platform's long-lived keys live: encrypted files (the default) or a PKCS#11 token.

A key store holds one key pair per platform role (``root``, ``issuing``, ``tsa``,
``seal``) with its certificate. The CA code only asks it to make a key for a role, to
keep the certified pair, and to load it again; what the private key is (an OpenSSL key
decrypted from disk, or a handle to a key inside a token, ``hsm.TokenKey``) is the
store's business. Both kinds are ``ec.EllipticCurvePrivateKey`` objects, so certificate,
CRL, OCSP and timestamp signing work the same way with either.

Certificates are public and always kept as PEM files in the PKI directory, next to the
encrypted keys in software mode; in token mode the directory holds certificates only.
"""
from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, runtime_checkable

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from pyhanko.sign.signers.pdf_cms import Signer

from core.errors import FailedPrecondition


@dataclass
class HeldKey:
    """A platform role's private key and its certificate."""

    key: ec.EllipticCurvePrivateKey
    cert: x509.Certificate


@runtime_checkable
class KeyStore(Protocol):
    """Makes, keeps and loads the key pair of each platform role."""

    def load(self, name: str) -> HeldKey | None: ...

    def generate(self, name: str) -> ec.EllipticCurvePrivateKey: ...

    def save(self, name: str, key: ec.EllipticCurvePrivateKey, cert: x509.Certificate) -> HeldKey: ...


@runtime_checkable
class CmsSignerSource(Protocol):
    """A key that brings its own pyHanko signer (a token key signs through pyHanko's
    PKCS#11 signer rather than through an in-memory key)."""

    def cms_signer(self, cert: x509.Certificate, chain: tuple[x509.Certificate, ...]) -> Signer: ...


class SoftwareKeyStore:
    """Encrypted PKCS#8 keys and PEM certificates in one directory."""

    def __init__(self, directory: Path, password: bytes):
        self._dir = Path(directory)
        self._password = password

    def load(self, name: str) -> HeldKey | None:
        key_path = self._dir / f"{name}.key.pem"
        cert = read_certificate(self._dir, name)
        if cert is None:
            return None
        try:
            key = serialization.load_pem_private_key(key_path.read_bytes(), password=self._password)
        except (ValueError, TypeError, FileNotFoundError) as exc:
            raise FailedPrecondition(
                f"cannot decrypt the {name} key in {self._dir}: wrong master key or corrupt file") from exc
        if not isinstance(key, ec.EllipticCurvePrivateKey):
            raise FailedPrecondition(f"the {name} key in {self._dir} is not an EC key")
        return HeldKey(key, cert)

    def generate(self, name: str) -> ec.EllipticCurvePrivateKey:
        return ec.generate_private_key(ec.SECP256R1())

    def save(self, name: str, key: ec.EllipticCurvePrivateKey, cert: x509.Certificate) -> HeldKey:
        pem = key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(self._password))
        atomic_write(self._dir / f"{name}.key.pem", pem)
        write_certificate(self._dir, name, cert)
        return HeldKey(key, cert)


def read_certificate(directory: Path, name: str) -> x509.Certificate | None:
    path = directory / f"{name}.cert.pem"
    if not path.exists():
        return None
    return x509.load_pem_x509_certificate(path.read_bytes())


def write_certificate(directory: Path, name: str, cert: x509.Certificate) -> None:
    # Written last: its presence is what marks a role's key pair complete.
    atomic_write(directory / f"{name}.cert.pem", cert.public_bytes(serialization.Encoding.PEM), 0o644)


def atomic_write(path: Path, data: bytes, mode: int = 0o600) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)
