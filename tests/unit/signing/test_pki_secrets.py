import threading

import pytest

from core.masterkey import MasterKey
from core.settings import SettingsError
from services.signing.pki_secrets import SECRET_FILE, open_pki_secrets


def test_secrets_are_made_once_and_derived_per_use(tmp_path):
    master = MasterKey(b"m" * 32)
    first = open_pki_secrets(tmp_path, master)
    again = open_pki_secrets(tmp_path, master)
    assert first == again
    assert len({first.key_password, first.id_hash_salt, first.subject_lookup_key}) == 3
    assert (tmp_path / SECRET_FILE).stat().st_mode & 0o077 == 0
    assert first.key_password not in (tmp_path / SECRET_FILE).read_bytes()
    assert repr(first) == "PkiSecrets()"  # never shows key material


def test_subject_hash_is_keyed_and_separates_identifier_systems(tmp_path):
    secrets = open_pki_secrets(tmp_path, MasterKey(b"m" * 32))
    assert secrets.subject_hash("USCC", "91110302MA01NNKT89") == secrets.subject_hash("USCC", "91110302MA01NNKT89")
    assert secrets.subject_hash("USER_ID", "1") != secrets.subject_hash("PIN", "1")
    other = open_pki_secrets(tmp_path / "other", MasterKey(b"m" * 32))
    assert other.subject_hash("USER_ID", "1") != secrets.subject_hash("USER_ID", "1")


def test_a_wrong_master_key_fails_clearly(tmp_path):
    open_pki_secrets(tmp_path, MasterKey(b"m" * 32))
    with pytest.raises(SettingsError, match="wrong master key"):
        open_pki_secrets(tmp_path, MasterKey(b"x" * 32))


def test_processes_starting_together_agree(tmp_path):
    master = MasterKey(b"m" * 32)
    found = []
    threads = [threading.Thread(target=lambda: found.append(open_pki_secrets(tmp_path, master))) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(set(found)) == 1 and len(list(tmp_path.iterdir())) == 1
