"""Shared fixtures: a private environment per test run on the real PostgreSQL and Redis.

PostgreSQL at 127.0.0.1:5432 (database ``test``) is used when it answers, SQLite otherwise;
Redis at 127.0.0.1:6379 is required: when none answers, the run starts a local
``redis-server`` there and stops it at the end. Every run gets its own schemas and key
prefix, so runs never see each other's data and nothing is flushed.
"""
from __future__ import annotations

import os
import secrets
import socket

import pytest
import redis

PG_URL = os.environ.get("TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


def _postgres_answers() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 5432), timeout=1):
            return True
    except OSError:
        return False


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def run_id() -> str:
    return "t" + secrets.token_hex(4)


@pytest.fixture(scope="session")
def use_postgres() -> bool:
    return _postgres_answers()


@pytest.fixture(scope="session", autouse=True)
def _redis_server(tmp_path_factory):
    """Redis for the whole run, as ``econtract up`` does it: the one that answers, or our own."""
    from core.launcher import local_redis

    try:
        with local_redis(REDIS_URL, tmp_path_factory.mktemp("redis") / "redis.log"):
            yield
    except SystemExit as exc:
        pytest.exit(f"Redis is required: {exc}", returncode=3)


@pytest.fixture(scope="session")
def redis_client(_redis_server):
    client = redis.Redis.from_url(REDIS_URL)
    client.ping()  # Redis is required: fail loudly rather than skip
    yield client
    client.close()


def make_platform_env(var, namespace: str, use_postgres: bool) -> dict[str, str]:
    """Environment for one platform of this test run: own ports, var dir, schemas, keys."""
    env = {
        "ECONTRACT_ENV": "dev",
        "ECONTRACT_VAR_DIR": str(var),
        "REDIS_URL": REDIS_URL,
        "ECONTRACT_REDIS_PREFIX": f"{namespace}:",
        "ECONTRACT_GRACE_SECONDS": "10",
        "OTEL_TRACES_EXPORTER": "jsonl",
        "OTEL_BSP_SCHEDULE_DELAY": "100",
    }
    for name in ("template", "contract", "signing", "identity", "filegen", "gateway"):
        env[f"{name.upper()}_ADDR"] = f"127.0.0.1:{free_port()}"
    env["ECONTRACT_PUBLIC_URL"] = f"http://{env['GATEWAY_ADDR']}"
    if use_postgres:
        env["DATABASE_URL"] = PG_URL
        env["ECONTRACT_DB_SCHEMA_PREFIX"] = f"{namespace}_"
    return env


@pytest.fixture(scope="session")
def platform_env(tmp_path_factory, run_id, use_postgres) -> dict[str, str]:
    return make_platform_env(tmp_path_factory.mktemp("var"), run_id, use_postgres)


@pytest.fixture(scope="session", autouse=True)
def _drop_test_schemas(run_id, use_postgres):
    yield
    if not use_postgres:
        return
    import sqlalchemy as sa

    engine = sa.create_engine(PG_URL.replace("postgresql://", "postgresql+psycopg://"))
    with engine.begin() as conn:
        names = conn.execute(
            sa.text("SELECT schema_name FROM information_schema.schemata WHERE schema_name LIKE :p"),
            {"p": f"{run_id}%"},
        ).scalars().all()
        for name in names:
            conn.execute(sa.text(f'DROP SCHEMA "{name}" CASCADE'))
    engine.dispose()
