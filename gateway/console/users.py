"""Console users: creating them, checking their passwords, and the first administrator.

``create_user`` is what ``econtract users create`` calls to make the first administrator
of a new installation (and any user later); in dev mode the gateway makes ``admin`` itself
at start (``ensure_dev_admin``).
"""
from __future__ import annotations

import hashlib
import logging
import os
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timezone

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import sessionmaker

from core.errors import AlreadyExists, FailedPrecondition, NotFound, invalid
from core.settings import Settings
from gateway.console import passwords
from gateway.console.roles import ADMIN, check_role
from gateway.console.store import UserRow

log = logging.getLogger(__name__)
ACTIVE, DISABLED = "ACTIVE", "DISABLED"
_NAME = re.compile(r"^[A-Za-z0-9_.@-]{2,64}$")
DEV_ADMIN = "admin"
DEV_ADMIN_FILE = "console-admin.txt"


@dataclass(frozen=True)
class User:
    user_id: str
    name: str
    display_name: str
    role: str
    status: str
    created_at: datetime
    # Changes with the password: sessions made under an older password end.
    credential_stamp: str = ""

    @property
    def caller_id(self) -> str:
        """Who the services see: the app id a console user calls them as."""
        return f"console:{self.user_id}"

    @property
    def label(self) -> str:
        return self.display_name or self.name


@dataclass(frozen=True)
class CreatedUser:
    user: User
    password: str  # as given, or generated: shown to whoever created the user, once
    generated: bool


def _user(row: UserRow) -> User:
    stamp = hashlib.sha256(row.password_hash.encode()).hexdigest()[:16]
    return User(row.user_id, row.name, row.display_name, row.role, row.status, row.created_at, stamp)


def _now() -> datetime:
    return datetime.now(timezone.utc)


def check_name(name: str) -> str:
    if not _NAME.match(name):
        raise invalid("name", "must be 2 to 64 letters, digits or . _ @ -")
    return name


class Users:
    def __init__(self, sessions: sessionmaker):
        self._sessions = sessions

    def create(self, name: str, role: str, password: str | None = None, display_name: str = "") -> CreatedUser:
        check_name(name)
        check_role(role)
        if len(display_name) > 100:
            raise invalid("displayName", "must be at most 100 characters")
        generated = password is None
        password = passwords.random_password() if password is None else password
        passwords.check_new_password(password)
        now = _now()
        row = UserRow(
            user_id="usr_" + secrets.token_hex(8),
            name=name,
            display_name=display_name.strip(),
            role=role,
            password_hash=passwords.hash_password(password),
            status=ACTIVE,
            created_at=now,
            updated_at=now,
        )
        try:
            with self._sessions.begin() as session:
                session.add(row)
        except IntegrityError:
            raise AlreadyExists(f"a console user named {name!r} already exists") from None
        return CreatedUser(_user(row), password, generated)

    def authenticate(self, name: str, password: str) -> User | None:
        """The active user with this name and password; None otherwise, in about the same time."""
        with self._sessions() as session:
            row = session.execute(sa.select(UserRow).where(UserRow.name == name)).scalar_one_or_none()
        stored = row.password_hash if row is not None else passwords.DECOY
        matches = passwords.verify_password(password, stored)
        if row is None or not matches or row.status != ACTIVE:
            return None
        return _user(row)

    def get(self, user_id: str) -> User | None:
        with self._sessions() as session:
            row = session.get(UserRow, user_id)
            return _user(row) if row is not None else None

    def list(self) -> list[User]:
        with self._sessions() as session:
            return [_user(r) for r in session.execute(sa.select(UserRow).order_by(UserRow.created_at)).scalars()]

    def labels(self, user_ids: set[str]) -> dict[str, str]:
        """Display names of the given users, for showing who uploaded or reviewed something."""
        if not user_ids:
            return {}
        with self._sessions() as session:
            rows = session.execute(sa.select(UserRow).where(UserRow.user_id.in_(user_ids))).scalars()
            return {r.user_id: r.display_name or r.name for r in rows}

    def update(self, user_id: str, *, acting: User, role: str | None = None, status: str | None = None,
               password: str | None = None) -> User:
        if role is not None:
            check_role(role)
        if status is not None and status not in (ACTIVE, DISABLED):
            raise invalid("status", "must be ACTIVE or DISABLED")
        if user_id == acting.user_id and (status == DISABLED or (role is not None and role != acting.role)):
            raise FailedPrecondition("administrators cannot disable or demote themselves; ask another administrator")
        if password is not None:
            passwords.check_new_password(password)
        with self._sessions.begin() as session:
            row = session.get(UserRow, user_id, with_for_update=True)
            if row is None:
                raise NotFound(f"console user {user_id} not found")
            if role is not None:
                row.role = role
            if status is not None:
                row.status = status
            if password is not None:
                row.password_hash = passwords.hash_password(password)
            row.updated_at = _now()
            return _user(row)

    def exists(self, name: str) -> bool:
        with self._sessions() as session:
            return session.execute(sa.select(UserRow.user_id).where(UserRow.name == name)).first() is not None


def create_user(settings: Settings, name: str, role: str, password: str | None = None,
                display_name: str = "") -> CreatedUser:
    """Create a console user in the gateway's database (migrating it first).

    For ``econtract users create --name NAME --role operator|reviewer|admin``: without
    ``password`` a random one is generated and returned, to be shown once. Raises
    ``AlreadyExists`` for a taken name and ``InvalidArgument`` for a bad name, role or
    password (shorter than 12 characters).
    """
    from core.db import make_engine, make_sessions, migrate

    engine = make_engine(settings)
    try:
        migrate(settings, engine)
        return Users(make_sessions(engine)).create(name, role, password, display_name)
    finally:
        engine.dispose()


def ensure_dev_admin(users: Users, settings: Settings, password: str | None) -> None:
    """Dev mode only: make ``admin`` when missing, so a fresh checkout can log in.

    The password comes from ``ECONTRACT_CONSOLE_ADMIN_PASSWORD``, or is random and written
    to ``var/console-admin.txt`` (mode 0600); it is never logged.
    """
    if not settings.dev or users.exists(DEV_ADMIN):
        return
    try:
        created = users.create(DEV_ADMIN, ADMIN, password, display_name="Administrator")
    except AlreadyExists:
        return  # another gateway replica made it first
    if created.generated:
        path = settings.var_dir / DEV_ADMIN_FILE
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(f"user: {DEV_ADMIN}\npassword: {created.password}\n")
        os.chmod(path, 0o600)
        log.info("console: created the dev user %r; its password is in %s", DEV_ADMIN, path)
    else:
        log.info("console: created the dev user %r with ECONTRACT_CONSOLE_ADMIN_PASSWORD", DEV_ADMIN)
