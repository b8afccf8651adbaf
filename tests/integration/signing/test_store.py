"""The SQL store on the service's real database (PostgreSQL when it runs, else SQLite)."""
import datetime as dt
import secrets
from concurrent.futures import ThreadPoolExecutor

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from core.errors import NotFound
from services.signing import pki
from services.signing.store import (
    EvidenceRecord,
    EvidenceStore,
    SealStore,
    SqlCertificateRegistry,
    StoredSeal,
)
from tests.integration.signing.conftest import ORG


@pytest.fixture(scope="module")
def sessions(mesh):
    return mesh.contexts["signing"].sessions


@pytest.fixture(scope="module")
def registry(sessions) -> SqlCertificateRegistry:
    return SqlCertificateRegistry(sessions)


def _record(ca) -> pki.IssuedCertificate:
    cert = pki.new_signer(ca, ORG).cert
    return pki.IssuedCertificate(
        serial=cert.serial_number, issuer="issuing", role=pki.CertRole.SIGNER, subject=cert.subject.rfc4514_string(),
        not_before=cert.not_valid_before_utc, not_after=cert.not_valid_after_utc,
        cert_der=cert.public_bytes(serialization.Encoding.DER),
        subject_id="sub_store")


def test_it_is_a_certificate_registry(registry, ca):
    assert isinstance(registry, pki.CertificateRegistry)
    record = _record(ca)
    registry.add(record)
    registry.add(record)  # a replica re-recording the same certificate changes nothing
    assert registry.get(record.serial) == record
    assert registry.get(record.serial + 1) is None
    entry = registry.entry(record.serial)
    assert entry.subject_kind == "ORG" and entry.subject_name == ORG.name


def test_the_first_revocation_stands_when_two_race(registry, ca):
    record = _record(ca)
    registry.add(record)
    when = dt.datetime(2026, 2, 1, tzinfo=dt.timezone.utc)
    reasons = ["key_compromise", "superseded"] * 4
    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(lambda r: registry.revoke(record.serial, when, r), reasons))
    assert len({(r.revoked_at, r.revocation_reason) for r in results}) == 1
    assert results[0].status is pki.CertStatus.REVOKED
    assert record.serial in {r.serial for r in registry.revoked("issuing")}
    assert record.serial not in {r.serial for r in registry.revoked("root")}
    with pytest.raises(NotFound):
        registry.revoke(record.serial + 1, when, "superseded")


def test_the_platform_ca_runs_on_the_sql_registry(registry, tmp_path):
    settings = pki.PkiSettings(master_key=b"store-master-key-0123", id_hash_salt=b"store-salt-0123456789",
                               directory=tmp_path)
    ca = pki.PlatformCa.open(settings, registry)
    for cert in (ca.issuing_cert, ca.tsa_material().cert, ca.platform_seal().cert):
        assert registry.get(cert.serial_number) is not None
    signer = pki.new_signer(ca, ORG, subject_id="sub_sql")
    assert registry.get(signer.cert.serial_number).subject_id == "sub_sql"
    ca.revoke(signer.cert.serial_number, pki.RevocationReason.KEY_COMPROMISE)
    crl = x509.load_der_x509_crl(ca.build_crl("issuing"))
    assert crl.get_revoked_certificate_by_serial_number(signer.cert.serial_number) is not None


def _seal(owner: str) -> StoredSeal:
    return StoredSeal(seal_id="seal_" + secrets.token_hex(10), owner_hash=owner, id_type="USCC", subject_id=None,
                      name="", style="ROUND_COMPANY", source="GENERATED", image_ref="sha256:" + "0" * 64,
                      width=1, height=1, created_by_app="", is_default=False,
                      created_at=dt.datetime.now(dt.timezone.utc))


def test_one_default_seal_per_owner_even_under_races(sessions):
    store = SealStore(sessions)
    owner = secrets.token_hex(32)
    with ThreadPoolExecutor(6) as pool:
        stored = list(pool.map(lambda _: store.add(_seal(owner)), range(6)))
    assert sum(s.is_default for s in stored) == 1
    assert store.default(owner).seal_id == next(s.seal_id for s in stored if s.is_default)


def test_an_intent_token_records_each_document_once(sessions):
    store = EvidenceStore(sessions)
    token = "tok_" + secrets.token_hex(4)

    def record(contract: str, document: str = "0" * 64) -> EvidenceRecord:
        return EvidenceRecord(
            evidence_id="ev_" + secrets.token_hex(10), kind="SIGNATURE", contract_id=contract, signer_id="sg",
            intent_token_id=token, field_name="sg", certificate_serial="1", document_sha256=document,
            signed_sha256="1" * 64, record_json="{}", record_sha256="2" * 64,
            created_at=dt.datetime.now(dt.timezone.utc))

    first = record("ct_a")
    assert store.add(first)
    assert store.add(record("ct_b"))  # combined signing: one token, several contracts
    assert store.add(record("ct_a", "9" * 64))  # ... and several documents of one contract
    assert store.find(token, "ct_a", "0" * 64) == first
    assert store.find(token, "ct_c", "0" * 64) is None
    assert store.add(record("ct_a")) is False  # the first record stands
