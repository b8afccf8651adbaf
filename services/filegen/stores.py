"""Where filegen keeps files: the blob store for good, or the temporary area for a while.

One reference names either: ``sha256:<hex>`` for the blob store, ``tmp:<id>`` for the
temporary area (see tempfiles.py).
"""
from __future__ import annotations

from dataclasses import dataclass

from core.blobs import BlobStore
from services.filegen.tempfiles import TempFiles

TEMPORARY = "tmp:"


def is_kept(ref: str) -> bool:
    return ref.startswith("sha256:")


@dataclass(frozen=True)
class Stores:
    blobs: BlobStore
    temp: TempFiles

    def get(self, ref: str) -> bytes:
        """The bytes a reference names; NotFound when unknown or expired."""
        if ref.startswith(TEMPORARY):
            return self.temp.get(ref[len(TEMPORARY):])
        return self.blobs.get(ref)

    def put(self, data: bytes, *, keep: bool) -> str:
        """Store ``data`` for good (``keep``) or until the temporary area's lifetime ends."""
        return self.blobs.put(data) if keep else TEMPORARY + self.temp.put(data)
