"""Console users in the gateway's own database: the CLI's ``create_user``, password hashes,
and the dev administrator made at start-up."""
from __future__ import annotations

import logging
import stat

import pytest

from core.db import make_engine, make_sessions, migrate
from core.errors import AlreadyExists, InvalidArgument
from core.settings import SettingsError, load
from gateway.console.config import load_console_config
from gateway.console.store import UserRow
from gateway.console.users import DEV_ADMIN_FILE, Users, create_user, ensure_dev_admin


@pytest.fixture
def settings(tmp_path):
    return load("gateway", {"ECONTRACT_VAR_DIR": str(tmp_path), "ECONTRACT_ENV": "dev"})


@pytest.fixture
def users(settings):
    engine = make_engine(settings)
    migrate(settings, engine)
    yield Users(make_sessions(engine))
    engine.dispose()


def test_create_user_generates_a_password_once_and_it_works(settings, users):
    created = create_user(settings, "first-admin", "admin")
    assert created.generated and len(created.password) >= 20
    assert created.user.role == "admin" and created.user.caller_id == f"console:{created.user.user_id}"
    assert users.authenticate("first-admin", created.password).user_id == created.user.user_id
    assert users.authenticate("first-admin", created.password + "x") is None
    assert users.authenticate("nobody", created.password) is None


def test_create_user_refuses_bad_input(settings):
    create_user(settings, "taken", "operator", "a-long-enough-password")
    with pytest.raises(AlreadyExists):
        create_user(settings, "taken", "reviewer", "a-long-enough-password")
    with pytest.raises(InvalidArgument, match="role"):
        create_user(settings, "someone", "superuser", "a-long-enough-password")
    with pytest.raises(InvalidArgument, match="at least 12"):
        create_user(settings, "someone", "operator", "short")
    with pytest.raises(InvalidArgument, match="name"):
        create_user(settings, "bad name!", "operator", "a-long-enough-password")


def test_hashes_are_scrypt_with_a_salt_of_their_own(settings, users):
    create_user(settings, "alice", "operator", "the-same-password")
    create_user(settings, "bob", "operator", "the-same-password")
    with users._sessions() as session:
        hashes = {row.name: row.password_hash for row in session.query(UserRow).filter(UserRow.name.in_(["alice", "bob"]))}
    assert all(h.startswith("scrypt$32768$8$1$") for h in hashes.values())
    assert hashes["alice"] != hashes["bob"] and "the-same-password" not in hashes["alice"]


def test_a_disabled_user_cannot_authenticate(settings, users):
    created = create_user(settings, "leaver", "operator", "a-long-enough-password")
    admin = create_user(settings, "boss", "admin").user
    users.update(created.user.user_id, acting=admin, status="DISABLED")
    assert users.authenticate("leaver", "a-long-enough-password") is None


def test_dev_mode_makes_admin_with_a_random_password_in_a_private_file(settings, users, caplog):
    caplog.set_level(logging.DEBUG)
    ensure_dev_admin(users, settings, None)
    path = settings.var_dir / DEV_ADMIN_FILE
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    password = path.read_text().split("password: ")[1].strip()
    assert users.authenticate("admin", password).role == "admin"
    assert password not in caplog.text
    ensure_dev_admin(users, settings, None)  # a second start changes nothing
    assert path.read_text().split("password: ")[1].strip() == password


def test_dev_mode_takes_the_admin_password_from_the_environment(settings, users):
    ensure_dev_admin(users, settings, "from-the-environment")
    assert users.authenticate("admin", "from-the-environment") is not None
    assert not (settings.var_dir / DEV_ADMIN_FILE).exists()


def test_outside_dev_mode_no_admin_is_made(tmp_path):
    prod = load("gateway", {"ECONTRACT_VAR_DIR": str(tmp_path), "ECONTRACT_ENV": "prod"})
    engine = make_engine(prod)
    migrate(prod, engine)
    users = Users(make_sessions(engine))
    ensure_dev_admin(users, prod, None)
    assert not users.exists("admin") and not (tmp_path / DEV_ADMIN_FILE).exists()
    engine.dispose()


@pytest.mark.parametrize("env, message", [
    ({"CONSOLE_SESSION_IDLE_SECONDS": "0"}, "CONSOLE_SESSION_IDLE_SECONDS"),
    ({"CONSOLE_LOGIN_MAX_FAILURES": "many"}, "CONSOLE_LOGIN_MAX_FAILURES"),
    ({"CONSOLE_SESSION_IDLE_SECONDS": "100", "CONSOLE_SESSION_MAX_SECONDS": "50"}, "must not exceed"),
    ({"CONSOLE_TIMEZONE": "Mars/Olympus"}, "CONSOLE_TIMEZONE"),
    ({"ECONTRACT_CONSOLE_ADMIN_PASSWORD": "short"}, "at least 12"),
    ({"IDENTITY_ID_TYPES": "ID_CARD,lower"}, "IDENTITY_ID_TYPES"),
])
def test_bad_console_settings_fail_fast(env, message):
    with pytest.raises(SettingsError, match=message):
        load_console_config(env)


def test_console_defaults():
    config = load_console_config({})
    assert (config.idle_seconds, config.max_seconds, config.max_failures, config.lock_seconds) == (1800, 43200, 5, 900)
    assert config.id_types[:2] == ("ID_CARD", "USCC") and config.dev_admin_password is None
