import hashlib

import pytest

from core.blobs import BlobStore
from core.errors import InvalidArgument, NotFound
from core.masterkey import MasterKey, load_master_key
from core.settings import SettingsError, load


def test_blobs_are_content_addressed_and_stored_once(tmp_path):
    store = BlobStore(tmp_path)
    ref = store.put(b"contract")
    assert ref == "sha256:" + hashlib.sha256(b"contract").hexdigest()
    assert store.put(b"contract") == ref
    assert store.get(ref) == b"contract"
    assert len([p for p in tmp_path.rglob("*") if p.is_file()]) == 1


def test_blob_refs_cannot_walk_the_disk(tmp_path):
    with pytest.raises(InvalidArgument):
        BlobStore(tmp_path).get("sha256:../../etc/passwd")
    with pytest.raises(NotFound):
        BlobStore(tmp_path).get("sha256:" + "0" * 64)


def test_master_key_round_trip_is_bound_to_its_context():
    key = MasterKey(b"k" * 32)
    sealed = key.encrypt(b"secret", b"app-secret:a")
    assert key.decrypt(sealed, b"app-secret:a") == b"secret"
    with pytest.raises(Exception):
        key.decrypt(sealed, b"app-secret:b")
    assert "k" not in repr(key)


def test_dev_mode_creates_a_master_key_once(tmp_path, monkeypatch):
    monkeypatch.delenv("ECONTRACT_MASTER_KEY", raising=False)
    settings = load("identity", {"ECONTRACT_VAR_DIR": str(tmp_path)})
    first = load_master_key(settings).encrypt(b"x", b"c")
    assert load_master_key(settings).decrypt(first, b"c") == b"x"
    assert (tmp_path / "master.key").stat().st_mode & 0o077 == 0


def test_production_without_a_master_key_fails_fast(tmp_path, monkeypatch):
    monkeypatch.delenv("ECONTRACT_MASTER_KEY", raising=False)
    settings = load("identity", {"ECONTRACT_VAR_DIR": str(tmp_path), "ECONTRACT_ENV": "prod"})
    with pytest.raises(SettingsError, match="no master key"):
        load_master_key(settings)
