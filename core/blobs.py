"""Content-addressed blob store on the local disk (S3-compatible stores plug in behind the same API)."""
from __future__ import annotations

import hashlib
import os
import re
import tempfile
from pathlib import Path

from core.errors import InvalidArgument, NotFound

_REF = re.compile(r"^sha256:[0-9a-f]{64}$")


class BlobStore:
    """Stores bytes under ``sha256:<hex>``; writing the same bytes twice stores them once."""

    def __init__(self, root: Path):
        self.root = root

    def _path(self, ref: str) -> Path:
        if not _REF.match(ref):
            raise InvalidArgument(f"not a blob reference: {ref[:80]!r}")
        digest = ref[7:]
        return self.root / digest[:2] / digest[2:4] / digest

    def put(self, data: bytes) -> str:
        ref = "sha256:" + hashlib.sha256(data).hexdigest()
        path = self._path(ref)
        if path.exists():
            return ref
        path.parent.mkdir(parents=True, exist_ok=True)
        # Write then rename: a reader never sees a half-written blob, even after a crash.
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".incoming-")
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(data)
                out.flush()
                os.fsync(out.fileno())
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return ref

    def get(self, ref: str) -> bytes:
        try:
            return self._path(ref).read_bytes()
        except FileNotFoundError:
            raise NotFound(f"blob {ref} not found") from None

    def exists(self, ref: str) -> bool:
        return self._path(ref).exists()
