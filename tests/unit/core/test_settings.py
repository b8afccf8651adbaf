import pytest

from core.settings import SettingsError, load


def test_defaults_work_without_any_variable():
    settings = load("identity", {})
    assert settings.address == "127.0.0.1:50054"
    assert settings.database_url.startswith("sqlite:///") and settings.database_url.endswith("identity.db")
    assert settings.db_schema is None and settings.dev


def test_postgres_url_gets_psycopg3_and_a_schema_per_service():
    settings = load("contract", {"DATABASE_URL": "postgresql://u@h/db", "ECONTRACT_DB_SCHEMA_PREFIX": "x_"})
    assert settings.database_url == "postgresql+psycopg://u@h/db"
    assert settings.db_schema == "x_contract"


def test_per_service_database_url_wins():
    settings = load("signing", {"DATABASE_URL": "postgresql://a/b", "SIGNING_DATABASE_URL": "sqlite:////tmp/s.db"})
    assert settings.database_url == "sqlite:////tmp/s.db"


@pytest.mark.parametrize(
    "name,value",
    [("IDENTITY_ADDR", "nohost"), ("ECONTRACT_CALL_TIMEOUT", "-1"), ("ECONTRACT_ENV", "staging"),
     ("DATABASE_URL", "mysql://x"), ("ECONTRACT_AUTO_MIGRATE", "maybe")],
)
def test_bad_values_fail_fast_naming_the_variable(name, value):
    with pytest.raises(SettingsError, match=name):
        load("identity", {name: value})
