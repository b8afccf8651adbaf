"""SQLAlchemy engines and Alembic migrations, one schema (or SQLite file) per service."""
from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase, sessionmaker

from core.settings import Settings

ROOT = Path(__file__).resolve().parent.parent


class Base(DeclarativeBase):
    """Declarative base; each service declares its own subclass so metadata stays separate."""


def make_engine(settings: Settings) -> Engine:
    url = settings.database_url
    if url.startswith("sqlite"):
        Path(url.split("///", 1)[1]).parent.mkdir(parents=True, exist_ok=True)
        engine = sa.create_engine(url, connect_args={"timeout": 30})
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    engine = sa.create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=20)
    schema = settings.db_schema

    @event.listens_for(engine, "connect")
    def _search_path(dbapi_connection, _record):  # every pooled connection sees only its schema
        with dbapi_connection.cursor() as cursor:
            cursor.execute(f'SET search_path TO "{schema}"')
        dbapi_connection.commit()

    return engine


def trace_engine(engine: Engine, tracer_provider) -> None:
    """Spans for this engine's statements (the instrumentor's global switch would cover only one engine)."""
    from opentelemetry import metrics
    from opentelemetry.instrumentation.sqlalchemy.engine import EngineTracer

    tracer = tracer_provider.get_tracer("opentelemetry.instrumentation.sqlalchemy")
    usage = metrics.get_meter("opentelemetry.instrumentation.sqlalchemy").create_up_down_counter(
        "db.client.connections.usage", unit="connections"
    )
    EngineTracer(tracer, engine, usage)


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    # WAL lets readers run beside the one writer; foreign keys are off by default in SQLite.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def make_sessions(engine: Engine) -> sessionmaker:
    return sessionmaker(engine, expire_on_commit=False)


def migrations_dir(component: str) -> Path:
    if component == "gateway":
        return ROOT / "gateway" / "migrations"
    return ROOT / "services" / component / "migrations"


def migrate(settings: Settings, engine: Engine | None = None) -> None:
    """Bring the component's schema to the newest migration (no-op without migrations)."""
    from alembic import command
    from alembic.config import Config

    script_dir = migrations_dir(settings.component)
    if not script_dir.exists():
        return
    engine = engine or make_engine(settings)
    if settings.db_schema:
        with engine.begin() as conn:
            conn.execute(sa.text(f'CREATE SCHEMA IF NOT EXISTS "{settings.db_schema}"'))
    config = Config()
    config.set_main_option("script_location", str(script_dir))
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            # Replicas starting together must not run the same migration twice.
            conn.execute(sa.text("SELECT pg_advisory_xact_lock(hashtext(:s))"), {"s": settings.db_schema})
        config.attributes["connection"] = conn
        config.attributes["schema"] = settings.db_schema
        command.upgrade(config, "head")


def run_migration_env() -> None:
    """Body of every service's ``migrations/env.py``: run online against the given connection."""
    from alembic import context

    config = context.config
    conn = config.attributes["connection"]
    context.configure(
        connection=conn,
        version_table_schema=config.attributes.get("schema"),
        render_as_batch=conn.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()
