"""Benchmark: one platform signature vs plain pyHanko, on the same 3-page contract.

Platform signature = one-time P-256 key and certificate, revocation data, visible
seal appearance, RFC 3161 timestamp from the in-process TSA and DSS (PAdES B-LT).
Plain = pyHanko ``sign_pdf`` with an already loaded P-256 key, no appearance,
no timestamp, no validation data. The seal position is computed once, as the
contract service does when a contract is created.

    .venv/bin/python scripts/bench_signing.py [iterations]
"""
from __future__ import annotations

import io
import logging
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from asn1crypto import keys, x509  # noqa: E402
from cryptography.hazmat.primitives import serialization  # noqa: E402
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter  # noqa: E402
from pyhanko.sign import signers  # noqa: E402
from pyhanko_certvalidator.registry import SimpleCertificateStore  # noqa: E402

from services.signing import anchors, pades, pki, seals  # noqa: E402
from services.signing.tsa import TimestampAuthority  # noqa: E402
from tests.unit.signing.fixtures import ORG_KEYWORD, contract_pdf  # noqa: E402


def _summary(name: str, samples: list[float]) -> None:
    ms = sorted(s * 1000 for s in samples)
    p99 = ms[min(len(ms) - 1, round(0.99 * (len(ms) - 1)))]
    print(f"{name:<22} p50 {statistics.median(ms):6.1f} ms   p99 {p99:6.1f} ms   "
          f"mean {statistics.fmean(ms):6.1f} ms   {1000 / statistics.fmean(ms):5.1f} signatures/s")


def main(iterations: int) -> None:
    logging.disable(logging.WARNING)  # pyHanko's "fetching is not allowed" notice
    pdf = contract_pdf()
    with tempfile.TemporaryDirectory() as tmp:
        ca = pki.PlatformCa.open(pki.PkiSettings(
            master_key=b"bench-master-key-0123456789", id_hash_salt=b"bench-id-salt-0123456789",
            directory=Path(tmp)))
        timestamper = TimestampAuthority(ca.tsa_material()).timestamper()
        subject = pki.OrgSubject("某某科技有限公司", "91110302MA01NNKT89")
        seal = seals.round_company_seal(subject.name, "1101020012345")
        started = time.perf_counter()
        placement = anchors.keyword_placement(pdf, ORG_KEYWORD, width=pades.COMPANY_SEAL_SIZE,
                                              height=pades.COMPANY_SEAL_SIZE)
        keyword_ms = (time.perf_counter() - started) * 1000

        def platform(i: int) -> bytes:
            signer = pki.new_signer(ca, subject)
            context = pades.signing_validation_context(ca, signer, [ca.tsa_material().cert])
            return pades.sign(pdf, signer, field_name=f"sig{i}", timestamper=timestamper,
                              validation_context=context, appearance=pades.Appearance(seal, placement))

        loaded = pki.new_signer(ca, subject)

        def der(cert) -> x509.Certificate:
            return x509.Certificate.load(cert.public_bytes(serialization.Encoding.DER))

        plain_signer = signers.SimpleSigner(
            signing_cert=der(loaded.cert),
            signing_key=keys.PrivateKeyInfo.load(loaded.key.private_bytes(
                serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())),
            cert_registry=SimpleCertificateStore.from_certs([der(c) for c in loaded.chain]),
        )

        def plain(i: int) -> bytes:
            return signers.sign_pdf(IncrementalPdfFileWriter(io.BytesIO(pdf)),
                                    signers.PdfSignatureMetadata(field_name=f"sig{i}"),
                                    signer=plain_signer).getvalue()

        results: dict[str, list[float]] = {"platform (B-LT+seal)": [], "plain pyHanko": []}
        for fn in (platform, plain):
            for i in range(10):
                fn(i)  # warm caches (seal planes, dummy timestamp, imports)
        for i in range(iterations):  # interleaved, so both see the same machine load
            for name, fn in (("platform (B-LT+seal)", platform), ("plain pyHanko", plain)):
                started = time.perf_counter()
                fn(i)
                results[name].append(time.perf_counter() - started)

    print(f"3-page contract, {iterations} signatures each, keyword lookup once: {keyword_ms:.1f} ms")
    for name, samples in results.items():
        _summary(name, samples)
    ratio = statistics.median(results["platform (B-LT+seal)"]) / statistics.median(results["plain pyHanko"])
    print(f"platform / plain (p50): {ratio:.2f}x")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 200)
