"""Filling and converting, with a render cache: the same template and data give the same PDF.

LibreOffice output is not byte-for-byte repeatable (creation dates, ids), so the cache is
what makes a re-render of one template version with one data set return identical bytes —
and it spares the ~100 ms conversion.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any, Callable

from core.blobs import BlobStore
from services.filegen import preview
from services.filegen.convert import ConverterPool
from services.filegen.fill import fill_docx
from services.filegen.safety import check_docx
from services.filegen.schema import Schema, extract_schema, sample_data

CACHE_TTL = 7 * 24 * 3600


@dataclass(frozen=True)
class Rendered:
    pdf: bytes
    sha256: str
    pages: int
    cached: bool = False


@dataclass(frozen=True)
class Inspection:
    sha256: str
    schema: Schema
    pages: int
    keyword_hits: list[tuple[str, int, float, float]] = field(default_factory=list)
    missing_keywords: list[str] = field(default_factory=list)


def _cache_key(docx_sha256: str, data: dict[str, Any]) -> str:
    canonical = json.dumps(data, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str)
    return hashlib.sha256(f"{docx_sha256}\n{canonical}".encode()).hexdigest()


class Renderer:
    def __init__(self, pool: ConverterPool, blobs: BlobStore, redis, key_prefix: str,
                 cache_ttl: int = CACHE_TTL, timeout: float | None = None):
        self.pool = pool
        self.blobs = blobs
        self.redis = redis
        self.key_prefix = key_prefix
        self.cache_ttl = cache_ttl
        self.timeout = timeout

    def render(self, docx: bytes, data: dict[str, Any], strict: bool = True) -> Rendered:
        docx_sha256 = hashlib.sha256(docx).hexdigest()
        mode = "strict" if strict else "lenient"
        key = f"{self.key_prefix}filegen:render:{mode}:{_cache_key(docx_sha256, data)}"
        ref = self.redis.get(key)
        if ref is not None and self.blobs.exists(ref.decode()):
            pdf = self.blobs.get(ref.decode())
            return Rendered(pdf, ref.decode()[7:], preview.page_count(pdf), cached=True)
        filled = fill_docx(docx, data, image_loader=self.blobs.get, strict=strict, compress=False)
        # fill_docx checked the template and wrote the result itself: no second safety pass.
        rendered = self._to_pdf(filled)
        self.redis.set(key, "sha256:" + rendered.sha256, ex=self.cache_ttl)
        return rendered

    def convert(self, document: bytes) -> Rendered:
        """An uploaded .docx to PDF, after the safety checks every untrusted document gets."""
        check_docx(document, field="document")
        return self._to_pdf(document)

    def _to_pdf(self, document: bytes) -> Rendered:
        pdf = self.pool.convert(document, timeout=self.timeout)
        ref = self.blobs.put(pdf)
        return Rendered(pdf, ref[7:], preview.page_count(pdf))

    def inspect(self, docx: bytes, keywords: list[str]) -> Inspection:
        """Safety, schema and a trial render with sample data (which also finds the keywords)."""
        schema = extract_schema(docx)
        trial = self.render(docx, sample_data(schema))
        hits = preview.find_text(trial.pdf, keywords) if keywords else []
        found = {hit[0] for hit in hits}
        return Inspection(
            sha256=hashlib.sha256(docx).hexdigest(),
            schema=schema,
            pages=trial.pages,
            keyword_hits=hits,
            missing_keywords=[k for k in keywords if k not in found],
        )


ImageLoader = Callable[[str], bytes]
