"""Typed settings read from environment variables, with working local defaults.

Every process (each service, the gateway, the CLI) builds one ``Settings`` at start-up.
A bad value fails at once with a message naming the variable, instead of surfacing
later as a confusing connection error.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Mapping, TypeVar

SERVICES = ("template", "contract", "signing", "identity", "filegen")
DEFAULT_PORTS = {
    "template": 50051,
    "contract": 50052,
    "signing": 50053,
    "identity": 50054,
    "filegen": 50055,
    "gateway": 8080,
}

T = TypeVar("T")


class SettingsError(ValueError):
    """A configuration value is missing or malformed."""


def _read(env: Mapping[str, str], name: str, default: T, parse: Callable[[str], T]) -> T:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        return parse(raw)
    except ValueError as exc:
        raise SettingsError(f"{name}={raw!r} is not valid: {exc}") from None


def _positive_int(raw: str) -> int:
    value = int(raw)
    if value <= 0:
        raise ValueError("must be a positive integer")
    return value


def _positive_float(raw: str) -> float:
    value = float(raw)
    if value <= 0:
        raise ValueError("must be a positive number")
    return value


def _address(raw: str) -> str:
    host, sep, port = raw.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError("expected HOST:PORT")
    return raw


def _env_name(raw: str) -> str:
    if raw not in ("dev", "prod", "test"):
        raise ValueError("expected one of dev, prod, test")
    return raw


def _bool(raw: str) -> bool:
    lowered = raw.strip().lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off"):
        return False
    raise ValueError("expected true or false")


def _database_url(raw: str) -> str:
    if raw.startswith(("postgres://", "postgresql://")):
        # psycopg 3 is the driver we ship; plain URLs name the old psycopg2 default.
        return "postgresql+psycopg://" + raw.split("://", 1)[1]
    if not raw.startswith(("sqlite", "postgresql+")):
        raise ValueError("expected a sqlite:// or postgresql:// URL")
    return raw


@dataclass(frozen=True)
class Settings:
    """Configuration of one process of the platform."""

    component: str
    env: str
    var_dir: Path
    addresses: dict[str, str]
    database_url: str
    db_schema: str | None
    redis_url: str
    redis_prefix: str
    call_timeout: float
    write_timeout: float
    grace_seconds: float
    rpc_workers: int
    rpc_max_concurrent: int
    public_url: str
    auto_migrate: bool
    master_key_file: Path = field(repr=False)

    @property
    def dev(self) -> bool:
        return self.env == "dev"

    @property
    def address(self) -> str:
        """Where this component listens."""
        return self.addresses[self.component]

    @property
    def port(self) -> int:
        return int(self.address.rpartition(":")[2])

    @property
    def blob_dir(self) -> Path:
        return self.var_dir / "blobs"

    @property
    def trace_dir(self) -> Path:
        return self.var_dir / "traces"


def load(component: str, env: Mapping[str, str] | None = None) -> Settings:
    """Settings of ``component`` (a service name, ``gateway`` or ``cli``)."""
    env = os.environ if env is None else env
    prefix = component.upper()
    var_dir = Path(_read(env, "ECONTRACT_VAR_DIR", "var", str)).resolve()
    addresses = {
        name: _read(env, f"{name.upper()}_ADDR", f"127.0.0.1:{port}", _address)
        for name, port in DEFAULT_PORTS.items()
    }
    sqlite_default = f"sqlite:///{var_dir / (component + '.db')}"
    database_url = _read(
        env, f"{prefix}_DATABASE_URL", _read(env, "DATABASE_URL", sqlite_default, _database_url), _database_url
    )
    schema = None
    if database_url.startswith("postgresql"):
        # One schema per service keeps each service's tables its own on a shared server.
        schema = _read(env, "ECONTRACT_DB_SCHEMA_PREFIX", "", str) + component
    gateway_port = addresses["gateway"].rpartition(":")[2]
    rpc_workers = _read(env, "ECONTRACT_RPC_WORKERS", default_rpc_workers(), _positive_int)
    return Settings(
        component=component,
        env=_read(env, "ECONTRACT_ENV", "dev", _env_name),
        var_dir=var_dir,
        addresses=addresses,
        database_url=database_url,
        db_schema=schema,
        redis_url=_read(env, "REDIS_URL", "redis://127.0.0.1:6379/0", str),
        redis_prefix=_read(env, "ECONTRACT_REDIS_PREFIX", "ec:", str),
        call_timeout=_read(env, "ECONTRACT_CALL_TIMEOUT", 10.0, _positive_float),
        write_timeout=_read(env, "ECONTRACT_GATEWAY_WRITE_TIMEOUT", 90.0, _positive_float),
        grace_seconds=_read(env, "ECONTRACT_GRACE_SECONDS", 20.0, _positive_float),
        rpc_workers=rpc_workers,
        rpc_max_concurrent=_read(env, "ECONTRACT_RPC_MAX_CONCURRENT", 4 * rpc_workers, _positive_int),
        public_url=_read(env, "ECONTRACT_PUBLIC_URL", f"http://127.0.0.1:{gateway_port}", str).rstrip("/"),
        auto_migrate=_read(env, "ECONTRACT_AUTO_MIGRATE", True, _bool),
        master_key_file=Path(_read(env, "ECONTRACT_MASTER_KEY_FILE", str(var_dir / "master.key"), str)),
    )


def default_rpc_workers() -> int:
    """Handler threads per service: 16, or more on a big machine, so filegen's one
    LibreOffice worker per core still leaves threads for callers queueing for them."""
    return max(16, 2 * (os.cpu_count() or 1) + 4)
