"""Choosing where the platform keys live, and client-side signing timings, from the environment."""
import datetime as dt
from pathlib import Path

import pytest

from core.settings import SettingsError, load
from services.signing.config import load_config


def _settings(tmp_path: Path):
    return load("signing", {"ECONTRACT_VAR_DIR": str(tmp_path)})


@pytest.fixture
def module(tmp_path) -> Path:
    path = tmp_path / "libtoken.so"
    path.write_bytes(b"\x7fELF")
    return path


def test_software_keys_are_the_default(tmp_path):
    config = load_config(_settings(tmp_path), {})
    assert config.token is None
    assert config.preparation_ttl == dt.timedelta(minutes=10) and config.revocation_fetch_timeout == 10.0


def test_a_token_by_label_with_the_pin_from_an_environment_variable(tmp_path, module):
    config = load_config(_settings(tmp_path), {
        "SIGNING_KEYSTORE": "pkcs11", "SIGNING_PKCS11_MODULE": str(module), "SIGNING_PKCS11_TOKEN_LABEL": "ca",
        "SIGNING_PKCS11_PIN": "env:HSM_PIN", "HSM_PIN": "s3cret-pin", "SIGNING_PREPARATION_SECONDS": "60",
        "SIGNING_REVOCATION_FETCH_SECONDS": "3"})
    assert config.token is not None
    assert (config.token.module, config.token.token_label, config.token.slot_id) == (module, "ca", None)
    assert config.token.pin == "s3cret-pin" and config.token.key_prefix == "econtract-"
    assert "s3cret-pin" not in repr(config) and "s3cret-pin" not in repr(config.token)
    assert config.preparation_ttl == dt.timedelta(seconds=60) and config.revocation_fetch_timeout == 3.0


def test_a_token_by_slot_with_the_pin_from_a_file(tmp_path, module):
    pin = tmp_path / "pin"
    pin.write_text("4321\n")
    config = load_config(_settings(tmp_path), {
        "SIGNING_KEYSTORE": "PKCS11", "SIGNING_PKCS11_MODULE": str(module), "SIGNING_PKCS11_SLOT": "7",
        "SIGNING_PKCS11_PIN": f"file:{pin}", "SIGNING_PKCS11_KEY_PREFIX": "prod-"})
    assert config.token.slot_id == 7 and config.token.pin == "4321" and config.token.key_prefix == "prod-"


@pytest.mark.parametrize("changes, named", [
    ({"SIGNING_KEYSTORE": "vault"}, "SIGNING_KEYSTORE"),
    ({"SIGNING_PKCS11_MODULE": "/no/such/module.so"}, "SIGNING_PKCS11_MODULE"),
    ({"SIGNING_PKCS11_TOKEN_LABEL": ""}, "SIGNING_PKCS11_TOKEN_LABEL or SIGNING_PKCS11_SLOT"),
    ({"SIGNING_PKCS11_SLOT": "first"}, "SIGNING_PKCS11_SLOT"),
    ({"SIGNING_PKCS11_PIN": "1234"}, "SIGNING_PKCS11_PIN"),
    ({"SIGNING_PKCS11_PIN": "env:UNSET_PIN_VARIABLE_FOR_TEST"}, "holds no PIN"),
    ({"SIGNING_PKCS11_PIN": "file:/no/such/pin"}, "cannot read"),
    ({"SIGNING_PREPARATION_SECONDS": "5"}, "SIGNING_PREPARATION_SECONDS"),
])
def test_bad_token_settings_fail_fast_without_showing_the_pin(tmp_path, module, changes, named):
    env = {"SIGNING_KEYSTORE": "pkcs11", "SIGNING_PKCS11_MODULE": str(module), "SIGNING_PKCS11_TOKEN_LABEL": "ca",
           "SIGNING_PKCS11_PIN": "env:HSM_PIN", "HSM_PIN": "s3cret-pin", **changes}
    with pytest.raises(SettingsError, match=named) as failure:
        load_config(_settings(tmp_path), env)
    assert "s3cret-pin" not in str(failure.value)
