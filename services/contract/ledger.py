"""Where signed tree heads are pushed, so that the log's history is also held outside
the platform: an external ledger or blockchain, behind the ``TreeHeadLedger`` protocol.

``FileLedger`` is the stand-in this repository ships: an append-only JSON-lines file,
one line per tree head (its signed JSON and timestamp token, base64). It reaches no
network; a real ledger client implements the same protocol.
"""
from __future__ import annotations

import base64
import hashlib
import json
import os
import threading
from pathlib import Path
from typing import Protocol


class TreeHeadLedger(Protocol):
    name: str

    def publish(self, tree_size: int, head_json: bytes, timestamp_token: bytes) -> str:
        """Record the tree head; a receipt naming where (kept with the tree head)."""
        ...


class FileLedger:
    """A fake external ledger: appends each tree head as a line of ``path``."""

    name = "file"

    def __init__(self, path: Path):
        self._path = path
        self._lock = threading.Lock()

    def publish(self, tree_size: int, head_json: bytes, timestamp_token: bytes) -> str:
        line = json.dumps({"treeSize": tree_size, "treeHead": base64.b64encode(head_json).decode("ascii"),
                           "timestampToken": base64.b64encode(timestamp_token).decode("ascii")},
                          separators=(",", ":")).encode("utf-8") + b"\n"
        self._path.parent.mkdir(parents=True, exist_ok=True)
        with self._lock, open(self._path, "ab") as out:
            out.write(line)
            out.flush()
            os.fsync(out.fileno())
        return f"file:{self._path.name}#sha256={hashlib.sha256(line).hexdigest()}"

    def entries(self) -> list[dict]:
        if not self._path.exists():
            return []
        return [json.loads(line) for line in self._path.read_text("utf-8").splitlines() if line]
