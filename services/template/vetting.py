"""Vetting an uploaded .docx before anything is stored.

filegen inspects it (size and zip limits, external links, macros, Jinja syntax, sandbox
escapes, the fill schema, where the signers' keywords land), then fills it with sample
data made from that schema and converts it, strictly, as a contract would be. Any
failure refuses the upload with INVALID_ARGUMENT saying what is wrong and where.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass

from core.errors import FieldViolation, InvalidArgument
from services.template.fields import FillField, sample_data
from services.template.filegen_client import Docx, Filegen, Inspection, Issue
from services.template.signers import Position, SignerRole, keyword_anchors

# A .docx is a zip package; this catches .doc, PDF and the like without a round trip.
_ZIP_MAGIC = b"PK\x03\x04"
KEYWORD_NOT_FOUND = "KEYWORD_NOT_FOUND"


@dataclass(frozen=True)
class VettedDocx:
    data: bytes
    sha256: str
    fields: tuple[FillField, ...]
    page_count: int


def refuse(violations: list[FieldViolation], lead: str = "invalid request") -> InvalidArgument:
    """One INVALID_ARGUMENT naming every problem."""
    return InvalidArgument(f"{lead}: " + "; ".join(f"{v.field}: {v.description}" for v in violations), violations)


def docx_violations(data: bytes) -> list[FieldViolation]:
    if not data:
        return [FieldViolation("docx", "is required")]
    if not data.startswith(_ZIP_MAGIC):
        return [FieldViolation("docx", "is not a .docx file (Word 2007 or later); .doc, PDF and other formats are not accepted")]
    return []


class Vetting:
    def __init__(self, filegen: Filegen):
        self._filegen = filegen

    def vet(self, docx: bytes, signers: tuple[SignerRole, ...]) -> VettedDocx:
        """Check ``docx`` with ``signers``' keyword anchors; raise InvalidArgument if refused."""
        anchors = keyword_anchors(signers)
        try:
            inspection = self._filegen.inspect(Docx(data=docx), sorted({p.keyword for _, p in anchors}))
        except InvalidArgument as exc:
            raise _restated(exc, "the template is refused") from None
        problems = _issue_violations(inspection) + _keyword_violations(inspection, anchors)
        if problems:
            raise refuse(problems, "the template is refused")
        try:
            self._filegen.render_pdf(Docx(data=docx), sample_data(inspection.fields), strict=True)
        except InvalidArgument as exc:
            raise _restated(exc, "the template failed a trial render with sample data") from None
        return VettedDocx(docx, hashlib.sha256(docx).hexdigest(), inspection.fields, inspection.page_count)


def _describe(issue: Issue) -> str:
    where = f" (at {issue.location})" if issue.location else ""
    return f"{issue.message}{where} [{issue.code}]" if issue.code else f"{issue.message}{where}"


def _issue_violations(inspection: Inspection) -> list[FieldViolation]:
    # Missing keywords are judged against the signer positions that asked for them.
    blocking = [i for i in inspection.issues if i.severity == "ERROR" and i.code != KEYWORD_NOT_FOUND]
    if not blocking and not inspection.safe and not any(i.code == KEYWORD_NOT_FOUND for i in inspection.issues):
        return [FieldViolation("docx", "file generation judged the template unsafe without saying why")]
    return [FieldViolation("docx", _describe(i)) for i in blocking]


def _keyword_violations(inspection: Inspection, anchors: list[tuple[str, Position]]) -> list[FieldViolation]:
    problems = []
    for path, position in anchors:
        found = any(
            hit.keyword == position.keyword and (position.page == 0 or hit.page == position.page)
            for hit in inspection.keyword_hits
        )
        if not found:
            where = f" on page {position.page}" if position.page else ""
            problems.append(
                FieldViolation(f"{path}.keyword", f"{position.keyword!r} does not appear in the document{where}")
            )
    return problems


def _restated(exc: InvalidArgument, lead: str) -> InvalidArgument:
    # filegen's data paths mean our sample data here; the uploader can only change the .docx.
    violations = [
        FieldViolation("docx", f"{v.field}: {v.description}" if v.field not in ("", "docx") else v.description)
        for v in exc.violations
    ] or [FieldViolation("docx", exc.message)]
    return refuse(violations, lead)
