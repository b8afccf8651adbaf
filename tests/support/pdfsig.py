"""poppler's pdfsig (NSS) as an independent validator: an NSS database trusting the given
roots, and pdfsig's report read back as one block of fields per signature."""
from __future__ import annotations

import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path

import pytest


def require_pdfsig() -> None:
    """Skips the calling test when pdfsig or NSS's certutil is missing (``make setup``
    installs both)."""
    if shutil.which("pdfsig") is None or shutil.which("certutil") is None:
        pytest.skip("pdfsig (poppler-utils) and certutil (libnss3-tools) are needed")


def nss_database(directory: Path, roots: Sequence[bytes]) -> Path:
    """A new NSS database in ``directory`` trusting each of ``roots`` (PEM) as a CA."""
    directory.mkdir(parents=True, exist_ok=True)
    subprocess.run(["certutil", "-N", "-d", f"sql:{directory}", "--empty-password"], check=True,
                   capture_output=True)
    for index, pem in enumerate(roots):
        path = directory / f"root{index}.pem"
        path.write_bytes(pem)
        subprocess.run(["certutil", "-A", "-d", f"sql:{directory}", "-n", f"root{index}", "-t", "CT,C,C",
                        "-a", "-i", str(path)], check=True, capture_output=True)
    return directory


def pdfsig_report(pdf: bytes, nssdir: Path, workdir: Path, *options: str) -> list[dict[str, str]]:
    """pdfsig's report on ``pdf`` with the NSS database ``nssdir``, one block per signature
    (``options`` such as ``-no-ocsp`` go to pdfsig)."""
    path = workdir / "signed.pdf"
    path.write_bytes(pdf)
    out = subprocess.run(["pdfsig", "-nssdir", f"sql:{nssdir}", *options, str(path)],
                         capture_output=True, text=True, timeout=120, check=False).stdout
    blocks: list[dict[str, str]] = []
    for line in out.splitlines():
        text = line.strip().removeprefix("- ")
        if line.startswith("Signature #"):
            blocks.append({})
        elif blocks and text:
            key, _, value = text.partition(": ")  # flags like "Total document signed" have no value
            blocks[-1][key.strip()] = value.strip()
    return blocks
