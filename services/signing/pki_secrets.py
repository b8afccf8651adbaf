"""The signing service's own secrets, derived from one random key wrapped by the master key.

The PKI directory holds ``pki.secret``: 32 random bytes encrypted with the platform master
key (AES-GCM, bound to this use). Every secret of the service is derived from it with
HKDF, one label per use, so a key never serves two purposes:
- the password of the encrypted PKCS#8 CA, TSA and seal keys next to it;
- the salt of the hashed ID numbers in person certificates (stable, or the same person
  would get a different certificate serialNumber after a restart);
- the key of the seal owners' lookup hashes (identifiers are never stored in clear).
Changing the master key means re-wrapping this one file, not re-encrypting every key.
The first process to find the file missing creates it atomically, so replicas agree.
"""
from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from core.masterkey import MasterKey
from core.settings import SettingsError

SECRET_FILE = "pki.secret"
_CONTEXT = b"econtract:signing:pki-secret"


@dataclass(frozen=True)
class PkiSecrets:
    key_password: bytes = field(repr=False)
    id_hash_salt: bytes = field(repr=False)
    subject_lookup_key: bytes = field(repr=False)

    def subject_hash(self, id_type: str, identifier: str) -> str:
        """Lookup hash of one identifier of a subject (lowercase hex)."""
        message = id_type.encode() + b"\x00" + identifier.encode()
        return hmac.new(self.subject_lookup_key, message, hashlib.sha256).hexdigest()


def open_pki_secrets(directory: Path, master_key: MasterKey) -> PkiSecrets:
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    path = directory / SECRET_FILE
    if not path.exists():
        # Written in full under a private name, then linked into place: link() fails when
        # another process got there first, and nobody ever reads a half-written file.
        tmp = directory / f".{SECRET_FILE}.{os.getpid()}.{secrets.token_hex(4)}"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(master_key.encrypt(secrets.token_bytes(32), _CONTEXT))
                out.flush()
                os.fsync(out.fileno())
            os.link(tmp, path)
        except FileExistsError:
            pass  # another process won the race: use its secret
        finally:
            tmp.unlink(missing_ok=True)
    try:
        root = master_key.decrypt(path.read_bytes(), _CONTEXT)
    except (InvalidTag, ValueError):
        raise SettingsError(f"cannot decrypt {path}: wrong master key or corrupt file") from None
    return PkiSecrets(
        key_password=_derive(root, b"pki-key-password"),
        id_hash_salt=_derive(root, b"id-hash-salt"),
        subject_lookup_key=_derive(root, b"seal-owner-lookup"),
    )


def _derive(root: bytes, label: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"econtract:signing:" + label).derive(root)
