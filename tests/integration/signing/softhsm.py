"""A real SoftHSM2 token for the tests, initialised with ``softhsm2-util --init-token``
under a temporary SOFTHSM2_CONF.

SoftHSM reads SOFTHSM2_CONF when the module is first initialised, and python-pkcs11 loads
one module per process for good, so the token is made once per test process and shared.
"""
from __future__ import annotations

import os
import secrets
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import pytest

MODULE_PATHS = (
    Path("/usr/lib/softhsm/libsofthsm2.so"),
    Path("/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so"),
    Path("/usr/lib/aarch64-linux-gnu/softhsm/libsofthsm2.so"),
)
LABEL = "econtract-test"


@dataclass(frozen=True)
class SoftToken:
    module: Path
    label: str
    pin: str = field(repr=False)
    conf: Path


_made: list[SoftToken] = []


def soft_token(base: Path) -> SoftToken:
    """The process's SoftHSM token (made under ``base`` on first use); skips without SoftHSM."""
    if _made:
        return _made[0]
    module = next((p for p in MODULE_PATHS if p.is_file()), None)
    if module is None or shutil.which("softhsm2-util") is None:
        pytest.skip("SoftHSM2 is needed (Debian package softhsm2)")
    tokens = base / "tokens"
    tokens.mkdir(parents=True)
    conf = base / "softhsm2.conf"
    conf.write_text(f"directories.tokendir = {tokens}\nobjectstore.backend = file\nlog.level = ERROR\n"
                    "slots.removable = false\n")
    os.environ["SOFTHSM2_CONF"] = str(conf)
    pin = secrets.token_hex(8)
    subprocess.run(["softhsm2-util", "--init-token", "--free", "--label", LABEL, "--pin", pin,
                    "--so-pin", secrets.token_hex(8)], check=True, capture_output=True)
    _made.append(SoftToken(module, LABEL, pin, conf))
    return _made[0]
