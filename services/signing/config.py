"""Typed configuration of the signing service, read from environment variables.

Everything has a working local default. A bad value fails at start-up with a
``SettingsError`` naming the variable.

| variable | default | meaning |
|---|---|---|
| ``SIGNING_PKI_DIR`` | ``$ECONTRACT_VAR_DIR/pki`` | where the CA, TSA and platform-seal keys live (encrypted) with their certificates; replicas share it |
| ``SIGNING_PLATFORM_NAME`` | ``E-Contract Platform`` | organisation name in the platform's CA, TSA and seal certificates (used when they are created) |
| ``SIGNING_CERT_MINUTES`` | ``10`` | lifetime of a one-time signer certificate, in minutes (at most 1440) |
| ``SIGNING_STATUS_CACHE_SECONDS`` | ``60`` | how long one replica reuses a built CRL or OCSP answer while no revocation happened anywhere (a counter in Redis tells every replica at once) |
| ``SIGNING_SEAL_FONT`` | fontconfig's bold CJK serif | font file for generated seals, ``PATH`` or ``PATH:INDEX`` for a collection |
| ``SIGNING_SEAL_MAX_BYTES`` | ``2097152`` | largest uploaded seal or handwriting image, in bytes |
| ``SIGNING_SEAL_MAX_PIXELS`` | ``16000000`` | most pixels of an uploaded image (checked before decoding) |
| ``SIGNING_KEYSTORE`` | ``software`` | where the CA, TSA and platform-seal keys live: ``software`` (encrypted files in ``SIGNING_PKI_DIR``) or ``pkcs11`` (generated in a PKCS#11 token, non-extractable) |
| ``SIGNING_PKCS11_MODULE`` | (none; required for ``pkcs11``) | path of the token's PKCS#11 module, e.g. ``/usr/lib/softhsm/libsofthsm2.so`` |
| ``SIGNING_PKCS11_TOKEN_LABEL`` | (none) | label of the token to use; this or ``SIGNING_PKCS11_SLOT`` is required |
| ``SIGNING_PKCS11_SLOT`` | (none) | slot id of the token to use |
| ``SIGNING_PKCS11_PIN`` | (none; required for ``pkcs11``) | where the user PIN is read: ``env:NAME`` (an environment variable) or ``file:PATH``; the PIN itself never goes in this variable and is never logged |
| ``SIGNING_PKCS11_KEY_PREFIX`` | ``econtract-`` | label prefix of the platform's keys on the token (``<prefix>root``, ``…issuing``, ``…tsa``, ``…seal``) |
| ``SIGNING_PREPARATION_SECONDS`` | ``600`` | how long a client-side signing preparation waits for the signer's signature (30–3600) |
| ``SIGNING_REVOCATION_FETCH_SECONDS`` | ``10`` | timeout of each fetch of a client certificate's CRL or OCSP answer (1–60) |
| ``SIGNING_OUTSIDE_CA_ALLOW_PRIVATE`` | ``true`` in dev mode, else ``false`` | let a business line's EST CA (``caProvider``) be on a loopback, private or link-local address |

The URLs put into certificates (OCSP, CA issuers, CRL distribution points) are
``ECONTRACT_PUBLIC_URL`` followed by ``/pki/...``: the gateway serves them.
"""
from __future__ import annotations

import datetime as dt
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

from core.settings import Settings, SettingsError
from services.signing.seals import UploadLimits

T = TypeVar("T")


@dataclass(frozen=True)
class TokenSettings:
    """Which PKCS#11 token holds the platform keys and how to log in. The PIN is never
    shown (``repr``) or logged."""

    module: Path
    pin: str = field(repr=False)
    token_label: str = ""
    slot_id: int | None = None
    key_prefix: str = "econtract-"


@dataclass(frozen=True)
class SigningConfig:
    pki_dir: Path
    platform_name: str = "E-Contract Platform"
    signer_cert_lifetime: dt.timedelta = dt.timedelta(minutes=10)
    status_cache_ttl: dt.timedelta = dt.timedelta(seconds=60)
    seal_font: str | None = None
    upload_limits: UploadLimits = field(default_factory=UploadLimits)
    token: TokenSettings | None = None  # None: software keys
    preparation_ttl: dt.timedelta = dt.timedelta(minutes=10)
    revocation_fetch_timeout: float = 10.0
    outside_ca_allow_private: bool = False


def _read(env: Mapping[str, str], name: str, default: T, parse: Callable[[str], T]) -> T:
    raw = (env.get(name) or "").strip()
    if not raw:
        return default
    try:
        return parse(raw)
    except ValueError as exc:
        raise SettingsError(f"{name}={raw!r} is not valid: {exc}") from None


def _int_between(low: int, high: int) -> Callable[[str], int]:
    def parse(raw: str) -> int:
        value = int(raw)
        if not low <= value <= high:
            raise ValueError(f"must be between {low} and {high}")
        return value
    return parse


def _font(raw: str) -> str:
    path = raw.rpartition(":")[0] if raw.rpartition(":")[2].isdigit() else raw
    if not Path(path).is_file():
        raise ValueError("no such font file")
    return raw


def _flag(raw: str) -> bool:
    if raw.lower() in ("1", "true", "yes", "on"):
        return True
    if raw.lower() in ("0", "false", "no", "off"):
        return False
    raise ValueError("must be true or false")


def _token(env: Mapping[str, str]) -> TokenSettings | None:
    mode = (env.get("SIGNING_KEYSTORE") or "software").strip().lower()
    if mode == "software":
        return None
    if mode != "pkcs11":
        raise SettingsError(f"SIGNING_KEYSTORE={mode!r} is not valid: use 'software' or 'pkcs11'")
    module = (env.get("SIGNING_PKCS11_MODULE") or "").strip()
    if not module or not Path(module).is_file():
        raise SettingsError(f"SIGNING_PKCS11_MODULE={module!r} is not valid: the path of a PKCS#11 module is required")
    label = (env.get("SIGNING_PKCS11_TOKEN_LABEL") or "").strip()
    slot = _read(env, "SIGNING_PKCS11_SLOT", None, int)
    if not label and slot is None:
        raise SettingsError("SIGNING_PKCS11_TOKEN_LABEL or SIGNING_PKCS11_SLOT is required with SIGNING_KEYSTORE=pkcs11")
    prefix = (env.get("SIGNING_PKCS11_KEY_PREFIX") or "econtract-").strip()
    return TokenSettings(module=Path(module), pin=_pin(env), token_label=label, slot_id=slot, key_prefix=prefix)


def _pin(env: Mapping[str, str]) -> str:
    """The PIN from where ``SIGNING_PKCS11_PIN`` points; errors name the source, never the PIN."""
    source = (env.get("SIGNING_PKCS11_PIN") or "").strip()
    kind, _, where = source.partition(":")
    if kind == "env" and where:
        pin = env.get(where) or os.environ.get(where) or ""
    elif kind == "file" and where:
        try:
            pin = Path(where).read_text().strip()
        except OSError as exc:
            raise SettingsError(f"SIGNING_PKCS11_PIN: cannot read {where}: {exc.strerror}") from None
    else:
        raise SettingsError(f"SIGNING_PKCS11_PIN={source!r} is not valid: use env:NAME or file:PATH")
    if not pin:
        raise SettingsError(f"SIGNING_PKCS11_PIN: {source} holds no PIN")
    return pin


def load_config(settings: Settings, env: Mapping[str, str] | None = None) -> SigningConfig:
    env = os.environ if env is None else env
    defaults = UploadLimits()
    return SigningConfig(
        pki_dir=Path(_read(env, "SIGNING_PKI_DIR", str(settings.var_dir / "pki"), str)),
        platform_name=_read(env, "SIGNING_PLATFORM_NAME", "E-Contract Platform", str),
        signer_cert_lifetime=dt.timedelta(minutes=_read(env, "SIGNING_CERT_MINUTES", 10, _int_between(1, 1440))),
        status_cache_ttl=dt.timedelta(
            seconds=_read(env, "SIGNING_STATUS_CACHE_SECONDS", 60, _int_between(0, 3600))),
        seal_font=_read(env, "SIGNING_SEAL_FONT", None, _font),
        upload_limits=UploadLimits(
            max_bytes=_read(env, "SIGNING_SEAL_MAX_BYTES", defaults.max_bytes, _int_between(1024, 32 * 1024 * 1024)),
            max_pixels=_read(env, "SIGNING_SEAL_MAX_PIXELS", defaults.max_pixels, _int_between(10_000, 80_000_000)),
        ),
        token=_token(env),
        preparation_ttl=dt.timedelta(seconds=_read(env, "SIGNING_PREPARATION_SECONDS", 600, _int_between(30, 3600))),
        revocation_fetch_timeout=float(_read(env, "SIGNING_REVOCATION_FETCH_SECONDS", 10, _int_between(1, 60))),
        outside_ca_allow_private=_read(env, "SIGNING_OUTSIDE_CA_ALLOW_PRIVATE", settings.dev, _flag),
    )
