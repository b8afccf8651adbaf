"""Filling and converting, with a render cache: the same template and data give the same PDF.

LibreOffice output is not byte-for-byte repeatable (creation dates, ids), so the cache is
what makes a re-render of one template version with one data set return identical bytes —
and it spares the ~100 ms conversion.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass, field
from typing import Any, Callable

from core.errors import InvalidArgument, NotFound
from services.filegen import preview
from services.filegen.convert import ConverterPool
from services.filegen.fill import fill_docx
from services.filegen.safety import check_docx
from services.filegen.schema import Schema, extract_schema, sample_data
from services.filegen.stores import Stores, is_kept

CACHE_TTL = 7 * 24 * 3600


@dataclass(frozen=True)
class Rendered:
    pdf: bytes
    sha256: str
    pages: int
    cached: bool = False
    # Where the PDF is kept: "sha256:..." in the blob store, "tmp:<id>" in the expiring area.
    stored: str = ""


@dataclass(frozen=True)
class Problem:
    """Why a template cannot be used: a stable code, what is wrong, and where."""

    code: str
    message: str
    location: str = ""


@dataclass(frozen=True)
class Inspection:
    sha256: str
    schema: Schema
    pages: int
    keyword_hits: list[tuple[str, int, float, float]] = field(default_factory=list)
    missing_keywords: list[str] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)

    @property
    def safe(self) -> bool:
        return not self.problems


def _cache_key(docx_sha256: str, data: dict[str, Any]) -> str:
    canonical = json.dumps(data, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str)
    return hashlib.sha256(f"{docx_sha256}\n{canonical}".encode()).hexdigest()


class Renderer:
    """Renders are kept where the caller needs them: in the blob store only when asked to
    (a contract's document), otherwise in the temporary area, which expires on its own
    (previews, trial renders). The cache points at either, and never outlives what it points at."""

    def __init__(self, pool: ConverterPool, stores: Stores, redis, key_prefix: str,
                 cache_ttl: int = CACHE_TTL, timeout: float | None = None):
        self.pool = pool
        self.stores = stores
        self.redis = redis
        self.key_prefix = key_prefix
        self.cache_ttl = cache_ttl
        self.timeout = timeout

    def render(self, docx: bytes, data: dict[str, Any], strict: bool = True, keep: bool = False) -> Rendered:
        """Fill and convert; ``keep`` stores the PDF in the blob store for good."""
        docx_sha256 = hashlib.sha256(docx).hexdigest()
        mode = "strict" if strict else "lenient"
        key = f"{self.key_prefix}filegen:render:{mode}:{_cache_key(docx_sha256, data)}"
        cached = self._cached(key)
        if cached is not None:
            return self._store(key, cached, keep) if keep and not is_kept(cached.stored) else cached
        filled = fill_docx(docx, data, image_loader=self.stores.blobs.get, strict=strict, compress=False, slim=True)
        # fill_docx checked the template and wrote the result itself: no second safety pass.
        return self._store(key, self._to_pdf(filled), keep)

    def convert(self, document: bytes) -> Rendered:
        """An uploaded .docx to PDF, after the safety checks every untrusted document gets."""
        check_docx(document, field="document")
        return self._to_pdf(document)

    def _to_pdf(self, document: bytes) -> Rendered:
        pdf = self.pool.convert(document, timeout=self.timeout)
        return Rendered(pdf, hashlib.sha256(pdf).hexdigest(), preview.page_count(pdf))

    def _cached(self, key: str) -> Rendered | None:
        ref = self.redis.get(key)
        if ref is None:
            return None
        ref = ref.decode()
        try:
            pdf = self.stores.get(ref)
        except NotFound:  # expired or removed: render again
            return None
        return Rendered(pdf, hashlib.sha256(pdf).hexdigest(), preview.page_count(pdf), cached=True, stored=ref)

    def _store(self, key: str, rendered: Rendered, keep: bool) -> Rendered:
        ref = self.stores.put(rendered.pdf, keep=keep)
        ttl = self.cache_ttl if keep else min(self.cache_ttl, int(self.stores.temp.ttl))
        if ttl > 0:
            self.redis.set(key, ref, ex=ttl)
        return dataclasses.replace(rendered, stored=ref)

    def inspect(self, docx: bytes, keywords: list[str]) -> Inspection:
        """Safety, schema and a trial render with sample data (which also finds the keywords).

        A template that fails any of them is reported, not raised: the caller gets every
        problem with its code, and whatever was learnt before the failure (e.g. the schema).
        """
        sha256 = hashlib.sha256(docx).hexdigest()
        schema = Schema((), ())
        try:
            schema = extract_schema(docx)
            trial = self.render(docx, sample_data(schema))
        except InvalidArgument as exc:
            return Inspection(sha256, schema, 0, missing_keywords=list(keywords), problems=_problems(exc))
        hits = preview.find_text(trial.pdf, keywords) if keywords else []
        found = {hit[0] for hit in hits}
        return Inspection(
            sha256=sha256,
            schema=schema,
            pages=trial.pages,
            keyword_hits=hits,
            missing_keywords=[k for k in keywords if k not in found],
        )


def _problems(exc: InvalidArgument) -> list[Problem]:
    code = exc.reason or "FILL_ERROR"  # e.g. sample data the template cannot take
    if not exc.violations:
        return [Problem(code, exc.message)]
    # The template itself is the subject; any other path (sample data) says where.
    return [Problem(code, v.description, "" if v.field in ("template", "docx") else v.field) for v in exc.violations]


ImageLoader = Callable[[str], bytes]
