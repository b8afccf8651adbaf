"""The redline a legal reviewer reads: what a version changes against another one.

Paragraph texts come from the .docx in reading order — body paragraphs, every cell of
every table (nested tables included, merged cells once), then headers and footers — with
template expressions as written. Blank paragraphs are left out: spacing is not a legal
change. A changed paragraph shows as the old one DELETED and the new one INSERTED.
"""
from __future__ import annotations

import difflib
import io
from dataclasses import dataclass
from typing import Iterator

from docx import Document
from docx.table import Table
from docx.text.paragraph import Paragraph

from core.errors import NotFound, invalid
from services.template.catalog import Catalog
from services.template.fields import FillField, flatten
from services.template.signers import SignerRole

INSERTED, DELETED = "INSERTED", "DELETED"
ADDED, REMOVED, MODIFIED = "ADDED", "REMOVED", "MODIFIED"


@dataclass(frozen=True)
class ParagraphChange:
    kind: str  # INSERTED or DELETED
    index: int  # in the new version when inserted, in the base version when deleted
    text: str


@dataclass(frozen=True)
class FieldChange:
    kind: str  # ADDED, REMOVED or MODIFIED
    name: str
    before: FillField | None
    after: FillField | None


@dataclass(frozen=True)
class SignerChange:
    kind: str  # ADDED, REMOVED or MODIFIED
    role: str
    before: SignerRole | None
    after: SignerRole | None


@dataclass(frozen=True)
class Redline:
    template_id: str
    version: int
    base_version: int  # 0 when there is nothing to compare with
    paragraphs: tuple[ParagraphChange, ...]
    fields: tuple[FieldChange, ...]
    signers: tuple[SignerChange, ...]


def paragraph_texts(docx: bytes) -> list[str]:
    """The non-blank paragraph texts of a .docx, in reading order."""
    document = Document(io.BytesIO(docx))
    texts = [p.text for p in _blocks(document)]
    seen_parts: list = []
    for section in document.sections:
        for part in (section.header, section.footer):
            # A header linked to the previous section is the same part again.
            if part.is_linked_to_previous or any(part.part is seen for seen in seen_parts):
                continue
            seen_parts.append(part.part)
            texts.extend(p.text for p in _blocks(part))
    return [t.strip() for t in texts if t.strip()]


def _blocks(container) -> Iterator[Paragraph]:
    for item in container.iter_inner_content():
        if isinstance(item, Paragraph):
            yield item
        elif isinstance(item, Table):
            yield from _table_paragraphs(item)


def _table_paragraphs(table: Table) -> Iterator[Paragraph]:
    # A merged cell repeats in every grid slot it spans. The elements are kept alive in
    # ``seen``: an unreferenced lxml proxy can be freed and its id reused.
    seen: dict[int, object] = {}
    for row in table.rows:
        for cell in row.cells:
            if id(cell._tc) in seen:
                continue
            seen[id(cell._tc)] = cell._tc
            yield from _blocks(cell)


def diff_paragraphs(before: list[str], after: list[str]) -> list[ParagraphChange]:
    """Inserted and deleted paragraphs, in document order."""
    changes: list[ParagraphChange] = []
    matcher = difflib.SequenceMatcher(None, before, after, autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag in ("delete", "replace"):
            changes.extend(ParagraphChange(DELETED, i, before[i]) for i in range(i1, i2))
        if tag in ("insert", "replace"):
            changes.extend(ParagraphChange(INSERTED, j, after[j]) for j in range(j1, j2))
    return changes


def diff_fields(before: tuple[FillField, ...], after: tuple[FillField, ...]) -> list[FieldChange]:
    """Fields added, removed, or changed in type, required flag or label (loop items as ``loop.item``)."""
    old, new = flatten(before), flatten(after)
    changes = []
    for name in sorted(old.keys() | new.keys()):
        was, now = old.get(name), new.get(name)
        if was is None:
            changes.append(FieldChange(ADDED, name, None, now))
        elif now is None:
            changes.append(FieldChange(REMOVED, name, was, None))
        elif _own(was) != _own(now):
            changes.append(FieldChange(MODIFIED, name, was, now))
    return changes


def _own(field: FillField) -> tuple:
    # Item fields are compared one by one under their own names.
    return field.type, field.required, field.label


def diff_signers(before: tuple[SignerRole, ...], after: tuple[SignerRole, ...]) -> list[SignerChange]:
    """Roles added, removed, or changed in kind, positions, date position or riding seal."""
    old = {s.role: s for s in before}
    new = {s.role: s for s in after}
    changes = []
    for role in [*old, *(r for r in new if r not in old)]:
        was, now = old.get(role), new.get(role)
        if was is None:
            changes.append(SignerChange(ADDED, role, None, now))
        elif now is None:
            changes.append(SignerChange(REMOVED, role, was, None))
        elif was != now:
            changes.append(SignerChange(MODIFIED, role, was, now))
    return changes


def default_base(number: int, approved: int) -> int:
    """The current approved version when it is older, else the version before."""
    return approved if 0 < approved < number else number - 1


class Redlines:
    def __init__(self, catalog: Catalog):
        self._catalog = catalog

    def redline(self, template_id: str, number: int, base_number: int = 0) -> Redline:
        if number < 1:
            raise invalid("version", "must be a version number ≥ 1")
        if base_number < 0 or (base_number and base_number >= number):
            raise invalid("baseVersion", f"must be an earlier version than {number} (or 0 for the default)")
        detail = self._catalog.get(template_id)
        versions = {v.version: v for v in detail.versions}
        target = versions.get(number)
        if target is None:
            raise NotFound(f"template {template_id} has no version {number}")
        base_number = base_number or default_base(number, detail.template.approved_version)
        base = versions.get(base_number)
        if base_number and base is None:
            raise invalid("baseVersion", f"template {template_id} has no version {base_number}")
        before = paragraph_texts(self._catalog.read_docx(base)) if base else []
        after = paragraph_texts(self._catalog.read_docx(target))
        return Redline(
            template_id=template_id,
            version=number,
            base_version=base_number,
            paragraphs=tuple(diff_paragraphs(before, after)),
            fields=tuple(diff_fields(base.fields if base else (), target.fields)),
            signers=tuple(diff_signers(base.signers if base else (), target.signers)),
        )
