import datetime as dt
from pathlib import Path

import pytest

from core.settings import SettingsError, load
from services.signing.config import load_config


def _settings(tmp_path: Path):
    return load("signing", {"ECONTRACT_VAR_DIR": str(tmp_path)})


def test_defaults_work_locally(tmp_path):
    config = load_config(_settings(tmp_path), {})
    assert config.pki_dir == tmp_path.resolve() / "pki"
    assert config.signer_cert_lifetime == dt.timedelta(minutes=10)
    assert config.status_cache_ttl == dt.timedelta(seconds=60)
    assert config.seal_font is None and config.upload_limits.max_bytes == 2 * 1024 * 1024


def test_values_are_read(tmp_path):
    font = tmp_path / "seal.ttc"
    font.write_bytes(b"font")
    config = load_config(_settings(tmp_path), {
        "SIGNING_PKI_DIR": str(tmp_path / "keys"), "SIGNING_CERT_MINUTES": "5",
        "SIGNING_STATUS_CACHE_SECONDS": "0", "SIGNING_SEAL_FONT": f"{font}:1",
        "SIGNING_SEAL_MAX_BYTES": "4096", "SIGNING_PLATFORM_NAME": "某某电子合同平台"})
    assert config.pki_dir == tmp_path / "keys" and config.signer_cert_lifetime == dt.timedelta(minutes=5)
    assert config.status_cache_ttl == dt.timedelta(0) and config.seal_font == f"{font}:1"
    assert config.upload_limits.max_bytes == 4096 and config.platform_name == "某某电子合同平台"


@pytest.mark.parametrize("name, value", [
    ("SIGNING_CERT_MINUTES", "0"), ("SIGNING_CERT_MINUTES", "ten"), ("SIGNING_CERT_MINUTES", "2000"),
    ("SIGNING_STATUS_CACHE_SECONDS", "-1"), ("SIGNING_SEAL_FONT", "/no/such/font.ttc"),
    ("SIGNING_SEAL_MAX_PIXELS", "999999999"),
])
def test_bad_values_fail_fast_naming_the_variable(tmp_path, name, value):
    with pytest.raises(SettingsError, match=name):
        load_config(_settings(tmp_path), {name: value})
