"""Typed configuration of the signing service, read from environment variables.

Everything has a working local default. A bad value fails at start-up with a
``SettingsError`` naming the variable.

| variable | default | meaning |
|---|---|---|
| ``SIGNING_PKI_DIR`` | ``$ECONTRACT_VAR_DIR/pki`` | where the CA, TSA and platform-seal keys live (encrypted) with their certificates; replicas share it |
| ``SIGNING_PLATFORM_NAME`` | ``E-Contract Platform`` | organisation name in the platform's CA, TSA and seal certificates (used when they are created) |
| ``SIGNING_CERT_MINUTES`` | ``10`` | lifetime of a one-time signer certificate, in minutes (at most 1440) |
| ``SIGNING_STATUS_CACHE_SECONDS`` | ``60`` | how long one replica reuses a built CRL or OCSP answer; a revocation shows at once on the replica that made it and within this time on the others |
| ``SIGNING_SEAL_FONT`` | fontconfig's bold CJK serif | font file for generated seals, ``PATH`` or ``PATH:INDEX`` for a collection |
| ``SIGNING_SEAL_MAX_BYTES`` | ``2097152`` | largest uploaded seal or handwriting image, in bytes |
| ``SIGNING_SEAL_MAX_PIXELS`` | ``16000000`` | most pixels of an uploaded image (checked before decoding) |

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
class SigningConfig:
    pki_dir: Path
    platform_name: str = "E-Contract Platform"
    signer_cert_lifetime: dt.timedelta = dt.timedelta(minutes=10)
    status_cache_ttl: dt.timedelta = dt.timedelta(seconds=60)
    seal_font: str | None = None
    upload_limits: UploadLimits = field(default_factory=UploadLimits)


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
    )
