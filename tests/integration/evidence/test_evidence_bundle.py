"""The evidence of a really signed contract (real signing service, PAdES, platform TSA),
fetched through REST: the bundle verifies offline with the CLI, and changing any byte of
any part makes the check fail with a reason naming that part. The log's inclusion and
consistency proofs through REST follow the RFC 6962 algorithms and catch tampering."""
from __future__ import annotations

import base64
import io
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from services.contract import evidence_formats as formats
from services.contract import merkle
from services.contract.evidence_verify import check_token, verify_bundle
from tests.integration.contract.helpers import create_contract, ok, sign_as
from tests.integration.evidence.conftest import wait_until

ROOT = Path(__file__).resolve().parents[3]


def _completed(client, template_id: str) -> dict:
    contract = create_contract(client, template_id)
    sign_as(client, contract, "lender")
    assert sign_as(client, contract, "borrower")["status"] == "COMPLETED"
    wait_until(lambda: "document.timestamped" in [e["type"] for e in ok(
        client.get(f"/v1/contracts/{contract['contractId']}/events"))["events"]], 60, "the B-LTA timestamp")
    return contract


@pytest.fixture(scope="module")
def bundle(real_signing, business, template) -> dict:
    contract = _completed(business, template["templateId"])
    reply = business.get(f"/v1/contracts/{contract['contractId']}/evidence?alt=media")
    assert reply.status_code == 200, reply.text
    assert reply.headers["content-type"] == "application/zip"
    return {"contract": contract, "zip": reply.content}


def _cli(path: Path, *extra: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "core.cli", "evidence", "verify", str(path), *extra], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)


def test_a_bundle_of_a_signed_contract_verifies_offline(bundle, business, tmp_path):
    path = tmp_path / "bundle.zip"
    path.write_bytes(bundle["zip"])
    done = _cli(path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.strip().endswith("VERIFIED") and "FAIL" not in done.stdout
    pem = tmp_path / "root.pem"
    pem.write_text("".join(ok(business.get("/v1/trust/roots"))["roots"]))
    pinned = _cli(path, "--trust-root", str(pem))
    assert pinned.returncode == 0 and "is the trusted root given" in pinned.stdout, pinned.stdout
    stranger = tmp_path / "stranger.pem"
    stranger.write_bytes(_self_signed_root())
    refused = _cli(path, "--trust-root", str(stranger))
    assert refused.returncode == 1 and "is not the trusted root given" in refused.stdout, refused.stdout

    parts = zipfile.ZipFile(io.BytesIO(bundle["zip"])).namelist()
    document = bundle["contract"]["documents"][0]["documentId"]
    assert sorted(parts) == sorted([*formats.FIXED_PARTS, formats.document_part(document)])
    leaf = formats.parse_leaf(zipfile.ZipFile(io.BytesIO(bundle["zip"])).read(formats.LEAF))
    signed = ok(business.get(f"/v1/contracts/{bundle['contract']['contractId']}"))["documents"][0]["sha256"]
    assert leaf.documents[0].sha256 == signed  # the final, timestamped PDF is what was logged


def _self_signed_root() -> bytes:
    import datetime as dt

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Someone Else's Root")])
    now = dt.datetime.now(dt.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now).not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True).sign(key, hashes.SHA256()))
    return cert.public_bytes(serialization.Encoding.PEM)


def test_the_json_form_carries_the_same_bundle(bundle, business):
    reply = ok(business.get(f"/v1/contracts/{bundle['contract']['contractId']}/evidence"))
    assert reply["contentType"] == "application/zip" and reply["fileName"].endswith("-evidence.zip")
    assert verify_bundle(base64.b64decode(reply["data"])).ok


def _rezip(data: bytes, part: str, change) -> bytes:
    source = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for name in source.namelist():
            content = source.read(name)
            target.writestr(name, change(content) if name == part else content)
    return out.getvalue()


def _flip(content: bytes) -> bytes:
    middle = len(content) // 2
    return content[:middle] + bytes([content[middle] ^ 0x01]) + content[middle + 1:]


PARTS = [*formats.FIXED_PARTS, "documents/"]


@pytest.mark.parametrize("part", PARTS)
def test_changing_a_byte_of_any_part_fails_the_check_naming_that_part(bundle, part, tmp_path):
    names = zipfile.ZipFile(io.BytesIO(bundle["zip"])).namelist()
    target = next(n for n in names if n.startswith(part)) if part.endswith("/") else part
    tampered = _rezip(bundle["zip"], target, _flip)
    report = verify_bundle(tampered)
    assert not report.ok
    assert target in {f.part for f in report.failures}, report.text()
    if part == formats.CERTIFICATE:  # the CLI says the same, and exits non-zero
        path = tmp_path / "tampered.zip"
        path.write_bytes(tampered)
        done = _cli(path)
        assert done.returncode == 1 and f"FAIL {target}:" in done.stdout and "NOT VERIFIED" in done.stdout


@pytest.mark.parametrize("where", ["first", "last"])
def test_changing_the_first_or_last_byte_of_every_part_fails_too(bundle, where):
    names = zipfile.ZipFile(io.BytesIO(bundle["zip"])).namelist()
    index = 0 if where == "first" else -1
    for name in names:
        def change(content: bytes) -> bytes:
            at = index % len(content)
            return content[:at] + bytes([content[at] ^ 0x20]) + content[at + 1:]

        report = verify_bundle(_rezip(bundle["zip"], name, change))
        assert not report.ok, f"{name}: {report.text()}"


def test_a_damaged_zip_an_extra_part_and_a_missing_part_are_named(bundle):
    raw = bytearray(bundle["zip"])
    raw[200] ^= 0xFF
    assert "bundle" in {f.part for f in verify_bundle(bytes(raw)).failures}
    out = io.BytesIO()
    source = zipfile.ZipFile(io.BytesIO(bundle["zip"]))
    with zipfile.ZipFile(out, "w") as target:
        for name in source.namelist():
            if name != formats.TREE_HEAD_TOKEN:
                target.writestr(name, source.read(name))
        target.writestr("notes.txt", b"added later")
    report = verify_bundle(out.getvalue())
    assert any(f.part == "bundle" and formats.TREE_HEAD_TOKEN in f.message for f in report.failures), report.text()
    added = io.BytesIO(bundle["zip"])
    with zipfile.ZipFile(added, "a") as archive:
        archive.writestr("notes.txt", b"added later")
    report = verify_bundle(added.getvalue())
    assert any(f.part == "bundle" and "notes.txt" in f.message for f in report.failures), report.text()


# -- the log's proofs through REST ---------------------------------------------------------------------


def _hashes(values: list[str]) -> list[bytes]:
    return [bytes.fromhex(v) for v in values]


def test_inclusion_and_consistency_proofs_verify_and_tampering_is_caught(bundle, business, template):
    first = bundle["contract"]
    before = ok(business.get(f"/v1/evidenceLog/inclusionProof?contractId={first['contractId']}"))
    head = before["treeHead"]
    leaf = base64.b64decode(before["leaf"])
    assert merkle.leaf_hash(leaf).hex() == before["leafHash"]
    path = _hashes(before.get("auditPath", []))
    root = bytes.fromhex(head["rootHash"])
    merkle.verify_inclusion(merkle.leaf_hash(leaf), int(before["leafIndex"]), int(head["treeSize"]), path, root)

    signed_head = base64.b64decode(head["treeHeadJson"])
    assert formats.parse_tree_head(signed_head).root_hash == head["rootHash"]

    second = _completed(business, template["templateId"])
    after = ok(business.get(f"/v1/evidenceLog/inclusionProof?contractId={second['contractId']}"))
    new_head = after["treeHead"]
    assert int(new_head["treeSize"]) > int(head["treeSize"])
    merkle.verify_inclusion(bytes.fromhex(after["leafHash"]), int(after["leafIndex"]), int(new_head["treeSize"]),
                            _hashes(after.get("auditPath", [])), bytes.fromhex(new_head["rootHash"]))
    # The first contract is still in the bigger tree.
    again = ok(business.get(f"/v1/evidenceLog/inclusionProof?contractId={first['contractId']}"
                            f"&treeSize={new_head['treeSize']}"))
    merkle.verify_inclusion(merkle.leaf_hash(leaf), int(again["leafIndex"]), int(new_head["treeSize"]),
                            _hashes(again.get("auditPath", [])), bytes.fromhex(new_head["rootHash"]))

    consistency = ok(business.get(f"/v1/evidenceLog/consistencyProof?firstTreeSize={head['treeSize']}"
                                  f"&secondTreeSize={new_head['treeSize']}"))
    proof = _hashes(consistency.get("proof", []))
    old_root, new_root = bytes.fromhex(head["rootHash"]), bytes.fromhex(new_head["rootHash"])
    merkle.verify_consistency(int(head["treeSize"]), int(new_head["treeSize"]), old_root, new_root, proof)
    assert consistency["firstTreeHead"]["rootHash"] == head["rootHash"]

    # Tampered proofs are refused, each with its reason.
    if path:
        bad = [bytes([path[0][0] ^ 1]) + path[0][1:], *path[1:]]
        with pytest.raises(merkle.ProofError, match="does not lead to the signed root"):
            merkle.verify_inclusion(merkle.leaf_hash(leaf), int(before["leafIndex"]), int(head["treeSize"]), bad, root)
        with pytest.raises(merkle.ProofError, match="shorter"):
            merkle.verify_inclusion(merkle.leaf_hash(leaf), int(before["leafIndex"]), int(head["treeSize"]), path[:-1],
                                    root)
    with pytest.raises(merkle.ProofError):
        merkle.verify_inclusion(merkle.leaf_hash(leaf + b" "), int(before["leafIndex"]), int(head["treeSize"]), path,
                                root)
    if proof:
        with pytest.raises(merkle.ProofError):
            merkle.verify_consistency(int(head["treeSize"]), int(new_head["treeSize"]), old_root, new_root,
                                      [bytes([proof[0][0] ^ 1]) + proof[0][1:], *proof[1:]])
    with pytest.raises(merkle.ProofError):
        merkle.verify_consistency(int(head["treeSize"]), int(new_head["treeSize"]), bytes(32), new_root, proof)

    # The tree head's timestamp token is the platform TSA's, over the exact signed bytes.
    from cryptography import x509

    archive = zipfile.ZipFile(io.BytesIO(bundle["zip"]))
    tsa = x509.load_pem_x509_certificates(archive.read(formats.TSA_CHAIN))[0]
    token = base64.b64decode(head["timestampToken"])
    check_token(token, signed_head, tsa)
    with pytest.raises(ValueError, match="changed after it was timestamped"):
        check_token(token, signed_head.replace(b'"treeSize"', b'"treeSize" '), tsa)


def test_proof_requests_that_cannot_be_answered_say_why(bundle, business, template):
    signing = create_contract(business, template["templateId"])
    refused = business.get(f"/v1/evidenceLog/inclusionProof?contractId={signing['contractId']}")
    assert refused.status_code == 400 and "SIGNING" in refused.json()["message"]
    assert business.get("/v1/evidenceLog/inclusionProof?contractId=ct_nope").status_code == 404
    assert business.get("/v1/evidenceLog/consistencyProof?firstTreeSize=0").status_code == 400
    assert business.get("/v1/evidenceLog/treeHead?treeSize=999999").status_code == 404
    latest = ok(business.get("/v1/evidenceLog/treeHead"))["treeHead"]
    assert int(latest["treeSize"]) >= 1 and len(latest["rootHash"]) == 64
    evidence = business.get(f"/v1/contracts/{signing['contractId']}/evidence")
    assert evidence.status_code == 400 and "COMPLETED" in evidence.json()["message"]


def test_tree_heads_reach_the_ledger(bundle, replicas):
    from services.contract.ledger import FileLedger

    ledger = FileLedger(replicas.schedule.ledger_file)
    wait_until(lambda: ledger.entries(), 20, "a tree head on the ledger")
    sizes = [e["treeSize"] for e in ledger.entries()]
    assert sizes == sorted(set(sizes))  # each tree head once, in order


def test_a_damaged_compression_method_is_reported_not_raised(bundle):
    raw = bundle["zip"]
    method = raw.index(b"PK\x01\x02") + 10  # the first central directory entry's compression method
    for damaged_byte in (method, method + 1):  # the low byte (8 -> 247) and the high byte (8 -> 65288)
        damaged = bytearray(raw)
        damaged[damaged_byte] ^= 0xFF
        report = verify_bundle(bytes(damaged))
        assert any(f.part == "bundle" and "cannot be read" in f.message for f in report.failures), report.text()


def test_no_damaged_byte_anywhere_crashes_the_verifier(bundle):
    raw = bundle["zip"]
    positions = range(0, len(raw), max(1, len(raw) // 400))
    noticed = 0
    for position in positions:
        damaged = bytearray(raw)
        damaged[position] ^= 0xFF
        # A report, never an exception; only bytes of ZIP metadata (e.g. timestamps) change no part.
        noticed += bool(verify_bundle(bytes(damaged)).failures)
    assert noticed >= 0.95 * len(positions)
