"""The blob store's temporary area: intermediate renders that expire on their own.

Each item is one file named by a random id; its modification time is set to its
expiry time, so no index is needed and any replica sharing the directory agrees on
what has expired. Expired files are never returned, and each ``put`` sweeps a
bounded slice of the directory, resuming where the previous sweep stopped, so the
whole area is cleaned over successive writes without a background thread.
"""
from __future__ import annotations

import logging
import os
import re
import secrets
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from pathlib import Path

from core import errors

log = logging.getLogger(__name__)

DEFAULT_DIRECTORY = Path("var/blobs/tmp")
DEFAULT_TTL = 3600.0
_ID = re.compile(r"[A-Za-z0-9_-]{24}")
_PARTIAL_SUFFIX = ".part"
_PARTIAL_GRACE = 3600.0  # a half-written file older than this was left by a crashed writer


class TempFiles:
    """Bytes stored under random ids, readable until their time runs out."""

    def __init__(
        self,
        directory: Path | str = DEFAULT_DIRECTORY,
        ttl: float = DEFAULT_TTL,
        *,
        sweep_batch: int = 8,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if not ttl > 0:
            raise ValueError(f"the temporary files' lifetime must be positive, got {ttl}")
        if sweep_batch < 1:
            raise ValueError(f"sweep_batch must be at least 1, got {sweep_batch}")
        self.directory = Path(directory)
        self.ttl = ttl
        self.sweep_batch = sweep_batch
        self._clock = clock
        self._lock = threading.Lock()
        self._pending: deque[str] = deque()  # names still to look at in this sweep pass

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> TempFiles:
        """``FILEGEN_TMP_DIR`` (default var/blobs/tmp) and ``FILEGEN_TMP_TTL`` seconds."""
        env = os.environ if environ is None else environ
        raw_ttl = env.get("FILEGEN_TMP_TTL") or str(DEFAULT_TTL)
        try:
            ttl = float(raw_ttl)
        except ValueError:
            raise ValueError(f"FILEGEN_TMP_TTL must be a number of seconds, got {raw_ttl!r}") from None
        return cls(env.get("FILEGEN_TMP_DIR") or DEFAULT_DIRECTORY, ttl)

    def put(self, data: bytes, ttl: float | None = None) -> str:
        """Store ``data`` for ``ttl`` seconds (default: the area's lifetime); return its id."""
        lifetime = self.ttl if ttl is None else ttl
        if not lifetime > 0:
            raise errors.invalid("ttl", "must be positive")
        self.directory.mkdir(parents=True, exist_ok=True)
        blob_id = secrets.token_urlsafe(18)
        final = self.directory / blob_id
        partial = self.directory / (blob_id + _PARTIAL_SUFFIX)
        expires = self._clock() + lifetime
        with open(partial, "xb") as stream:
            stream.write(data)
        os.utime(partial, (expires, expires))
        os.replace(partial, final)  # readers never see a half-written item
        self.sweep()
        return blob_id

    def get(self, blob_id: str) -> bytes:
        """The bytes stored under ``blob_id``; NotFound if unknown or expired."""
        path = self._path(blob_id)
        try:
            with open(path, "rb") as stream:
                if os.fstat(stream.fileno()).st_mtime <= self._clock():
                    raise errors.NotFound(f"temporary file {blob_id} has expired")
                return stream.read()
        except FileNotFoundError:
            raise errors.NotFound(f"no temporary file {blob_id}") from None

    def expires_at(self, blob_id: str) -> float:
        """When ``blob_id`` expires (seconds since the epoch); NotFound if it has."""
        try:
            expires = self._path(blob_id).stat().st_mtime
        except FileNotFoundError:
            raise errors.NotFound(f"no temporary file {blob_id}") from None
        if expires <= self._clock():
            raise errors.NotFound(f"temporary file {blob_id} has expired")
        return expires

    def delete(self, blob_id: str) -> None:
        self._path(blob_id).unlink(missing_ok=True)

    def sweep(self, limit: int | None = None) -> int:
        """Look at up to ``limit`` (default ``sweep_batch``) files, continuing from the
        last sweep, and remove the expired ones; return how many were removed."""
        budget = self.sweep_batch if limit is None else limit
        now = self._clock()
        removed = 0
        with self._lock:
            if not self._pending:
                # One listing per pass over the directory, shared by the sweeps of that pass.
                try:
                    self._pending.extend(os.listdir(self.directory))
                except FileNotFoundError:
                    return 0
            for _ in range(min(budget, len(self._pending))):
                name = self._pending.popleft()
                path = self.directory / name
                try:
                    info = path.stat()
                    if name.endswith(_PARTIAL_SUFFIX):
                        # Its mtime is the expiry once set, the write time before that.
                        expired = max(info.st_mtime, info.st_ctime) + _PARTIAL_GRACE <= now
                    else:
                        expired = info.st_mtime <= now
                    if expired:
                        path.unlink()
                        removed += 1
                except FileNotFoundError:
                    continue  # removed by another replica or by delete()
        if removed:
            log.debug("removed %d expired temporary files from %s", removed, self.directory)
        return removed

    def _path(self, blob_id: str) -> Path:
        if not isinstance(blob_id, str) or not _ID.fullmatch(blob_id):
            raise errors.invalid("id", "is not a temporary file id")
        return self.directory / blob_id
