"""``make bench-signing``: one platform signature against plain pyHanko, in one run.

Platform signature = what SignDocument does, through the same domain call its handler
makes (``Signatures.sign``), in-process without the gRPC hop: intent-claims check,
revocation check of earlier signatures, the seal from the store, the position, a
one-time P-256 key and certificate (recorded in the SQL registry), OCSP and CRL for the
validation data, a visible seal appearance, an RFC 3161 timestamp from the TSA, the DSS
(PAdES B-LT), and the evidence record. The service is wired by
``services.signing.server.build_parts`` exactly as at start-up, on SQLite in a temporary
directory. Measured twice: with the position as page + x + y (what the contract service
passes when it resolved the template's keyword at contract creation) and with the
keyword itself, looked up in the PDF at every signature.

Plain = pyHanko ``sign_pdf`` with an already loaded P-256 key on the same 3-page
contract: no appearance, no timestamp, no validation data.

Both run interleaved in the same process, so they see the same machine load.

    .venv/bin/python -m bench.signing [--iterations N]
"""
from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import io
import logging
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from asn1crypto import keys, x509
from cryptography.hazmat.primitives import serialization
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.sign import signers
from pyhanko_certvalidator.registry import SimpleCertificateStore

from bench.report import percentile, write_section
from core.service import ServiceContext
from core.settings import load
from services.signing import anchors, pki
from services.signing.config import load_config
from services.signing.intent import IntentClaims
from services.signing.placement import Position
from services.signing.seal_library import SealStyle, SubjectRef
from services.signing.server import build_parts
from services.signing.signatures import ORG, Signer, SignRequest
from tests.unit.signing.fixtures import ORG_KEYWORD, contract_pdf

ORG_NAME = "某某科技有限公司"
CREDIT_CODE = "91110302MA01NNKT89"


def _summary(samples: list[float]) -> dict[str, float]:
    ms = [s * 1000 for s in samples]
    return {"p50": statistics.median(ms), "p99": percentile(ms, 99), "mean": statistics.fmean(ms),
            "rate": 1000 / statistics.fmean(ms)}


def _plain_signer(ca: pki.PlatformCa) -> signers.SimpleSigner:
    loaded = pki.new_signer(ca, pki.OrgSubject(ORG_NAME, CREDIT_CODE))

    def der(cert) -> x509.Certificate:
        return x509.Certificate.load(cert.public_bytes(serialization.Encoding.DER))

    return signers.SimpleSigner(
        signing_cert=der(loaded.cert),
        signing_key=keys.PrivateKeyInfo.load(loaded.key.private_bytes(
            serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())),
        cert_registry=SimpleCertificateStore.from_certs([der(c) for c in loaded.chain]),
    )


def run(iterations: int, var_dir: Path) -> dict[str, dict[str, float]]:
    env = {"ECONTRACT_VAR_DIR": str(var_dir), "ECONTRACT_ENV": "dev",
           "ECONTRACT_MASTER_KEY_FILE": str(var_dir / "master.key")}
    settings = load("signing", env)
    ctx = ServiceContext(settings)
    ctx.migrate()
    try:
        parts = build_parts(ctx, load_config(settings, env))
        pdf = contract_pdf()
        digest = hashlib.sha256(pdf).hexdigest()
        subject = SubjectRef("USCC", CREDIT_CODE)
        seal = parts.seals.generate(subject, SealStyle.ROUND_COMPANY, ORG_NAME, horizontal_text="合同专用章",
                                    seal_code="1101020012345")
        signer = Signer(kind=ORG, name=ORG_NAME, subject=subject, subject_id="sub_bench", signer_id="sg_bench")

        (hit,) = anchors.find_keyword(pdf, ORG_KEYWORD)
        at_point = Position(page=hit.page_index + 1, x=hit.center[0], y=hit.center[1])

        def platform(position: Position, tag: str) -> Callable[[int], bytes]:
            def one(i: int) -> bytes:
                claims = IntentClaims(
                    token_id=f"tok_{tag}_{i}", app_id="app_bench", signer_id="sg_bench", subject_id="sub_bench",
                    contract_ids=("ct_bench",), document_hashes={"ct_bench": (digest,)}, method="SMS",
                    expire_time=dt.datetime.now(dt.timezone.utc) + dt.timedelta(minutes=5))
                return parts.signatures.sign(SignRequest(
                    pdf=pdf, signer=signer, contract_id="ct_bench", intent=claims, positions=[position],
                    seal_id=seal.seal_id)).pdf
            return one

        plain_signer = _plain_signer(parts.ca)

        def plain(i: int) -> bytes:
            return signers.sign_pdf(IncrementalPdfFileWriter(io.BytesIO(pdf)),
                                    signers.PdfSignatureMetadata(field_name=f"sig{i}"),
                                    signer=plain_signer).getvalue()

        cases: dict[str, Callable[[int], bytes]] = {
            "platform": platform(at_point, "point"),
            "keyword": platform(Position(keyword=ORG_KEYWORD), "keyword"),
            "plain": plain,
        }
        for fn in cases.values():
            for i in range(10):
                fn(-1 - i)  # warm up: imports, font and seal caches, the dummy timestamp
        samples: dict[str, list[float]] = {name: [] for name in cases}
        for i in range(iterations):
            for name, fn in cases.items():
                started = time.perf_counter()
                fn(i)
                samples[name].append(time.perf_counter() - started)
        return {name: _summary(values) for name, values in samples.items()}
    finally:
        ctx.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--iterations", type=int, default=200)
    args = parser.parse_args()
    logging.disable(logging.WARNING)  # pyHanko's "fetching is not allowed" notice on every signature
    with tempfile.TemporaryDirectory() as tmp:
        results = run(args.iterations, Path(tmp))
    platform, keyword, plain = results["platform"], results["keyword"], results["plain"]

    def row(name: str, r: dict[str, float]) -> str:
        return (f"| {name} | {args.iterations} | {r['p50']:.1f} ms | {r['p99']:.1f} ms | {r['mean']:.1f} ms "
                f"| {r['rate']:.1f} |")

    body = f"""
Fixture: the 3-page test contract (`tests/unit/signing/fixtures.py`), the company seal on page 3.
**platform** = `Signatures.sign`, the call behind SignDocument, in-process (no gRPC hop): intent
check, seal from the store, one-time P-256 key + certificate in the SQL registry (SQLite),
OCSP/CRL, visible seal, RFC 3161 timestamp, DSS (PAdES B-LT), evidence record; the position as
page + x + y (as the contract service passes it), or as the keyword, searched in the PDF each time.
**plain** = pyHanko `sign_pdf` with an already loaded P-256 key, invisible, no timestamp, no
validation data. Interleaved, {args.iterations} signatures each, after 10 warm-up rounds.

| what | n | p50 | p99 | mean | signatures/s |
|---|---|---|---|---|---|
{row("platform signature (B-LT + seal), page + x + y", platform)}
{row("platform signature (B-LT + seal), keyword lookup", keyword)}
{row("plain pyHanko `sign_pdf`", plain)}

- p99 of a platform signature: **{platform['p99']:.1f} ms** (target ≤ 60 ms).
- platform ÷ plain pyHanko: **{platform['p50'] / plain['p50']:.2f}×** at p50, \
{platform['p99'] / plain['p99']:.2f}× at p99 (target ≤ 3×).
- the keyword lookup (PDFium text search of all 3 pages) adds {keyword['p50'] - platform['p50']:.1f} ms at p50.
"""
    write_section("signing: one signature", body)
    print(body)


if __name__ == "__main__":
    main()
