"""How filegen's verdicts become the uploader's errors (filegen replaced by a stand-in)."""
from __future__ import annotations

import hashlib

import pytest

from core.errors import FieldViolation, InvalidArgument
from services.template.fields import FillField
from services.template.filegen_client import Inspection, Issue, KeywordHit, Pdf, rename_template_field
from services.template.signers import Position, SignerRole
from services.template.vetting import Vetting, docx_violations

DOCX = b"PK\x03\x04 a docx"
FIELDS = (FillField("amount", "NUMBER", True), FillField("plan", "LOOP", True, (FillField("date", "DATE"),)))
LENDER = SignerRole("lender", "ORG", (Position(keyword="甲方（盖章）"),), date_position=Position(keyword="日期", page=2))


class StandIn:
    def __init__(self, inspection: Inspection | None = None, render_error: InvalidArgument | None = None,
                 inspect_error: InvalidArgument | None = None):
        self.inspection = inspection or Inspection(True, (), FIELDS, (KeywordHit("甲方（盖章）", 3, 1, 1), KeywordHit("日期", 2, 1, 1)), 3)
        self.render_error = render_error
        self.inspect_error = inspect_error
        self.rendered: list[dict] = []
        self.keywords: list[str] = []

    def inspect(self, docx, keywords):
        self.keywords = keywords
        if self.inspect_error:
            raise self.inspect_error
        return self.inspection

    def render_pdf(self, docx, data, *, strict, rename=rename_template_field):
        assert strict
        self.rendered.append(data)
        if self.render_error:
            raise self.render_error
        return Pdf(b"%PDF", 3)


def refused(stand_in: StandIn, signers=(LENDER,)) -> InvalidArgument:
    with pytest.raises(InvalidArgument) as caught:
        Vetting(stand_in).vet(DOCX, signers)
    return caught.value


def test_a_good_template_is_inspected_then_rendered_with_sample_data():
    stand_in = StandIn()
    vetted = Vetting(stand_in).vet(DOCX, (LENDER,))
    assert vetted.sha256 == hashlib.sha256(DOCX).hexdigest() and vetted.fields == FIELDS and vetted.page_count == 3
    assert stand_in.keywords == ["日期", "甲方（盖章）"]
    assert stand_in.rendered[0]["amount"] == 50000 and len(stand_in.rendered[0]["plan"]) == 3


def test_error_issues_refuse_the_template_with_what_and_where_warnings_do_not():
    issues = (
        Issue("ERROR", "UNSAFE_EXPRESSION", "access to '__class__' is not allowed", "word/document.xml, paragraph 3"),
        Issue("WARNING", "LARGE_IMAGE", "an image is large", ""),
    )
    error = refused(StandIn(Inspection(False, issues, FIELDS, (KeywordHit("甲方（盖章）", 1, 0, 0), KeywordHit("日期", 2, 0, 0)), 1)))
    assert error.violations == (
        FieldViolation("docx", "access to '__class__' is not allowed (at word/document.xml, paragraph 3) [UNSAFE_EXPRESSION]"),
    )
    assert error.message.startswith("the template is refused: docx: access to '__class__'")


def test_missing_keywords_are_charged_to_the_positions_that_asked_for_them():
    inspection = Inspection(
        False,
        (Issue("ERROR", "KEYWORD_NOT_FOUND", "甲方（盖章） not found", ""),),
        FIELDS,
        (KeywordHit("日期", 1, 0, 0),),  # on page 1, but the date stamp asks for page 2
        1,
    )
    error = refused(StandIn(inspection))
    assert [v.field for v in error.violations] == ["signers[0].positions[0].keyword", "signers[0].datePosition.keyword"]
    assert "on page 2" in error.violations[1].description


def test_unsafe_without_a_reason_is_still_refused():
    error = refused(StandIn(Inspection(False, (), FIELDS, (KeywordHit("甲方（盖章）", 1, 0, 0), KeywordHit("日期", 2, 0, 0)), 1)))
    assert error.violations[0].field == "docx"


def test_filegen_refusals_are_restated_for_the_uploader():
    syntax = InvalidArgument("docx: template syntax error", [FieldViolation("docx", "template syntax error: unexpected ')', near \"第二条\"")])
    error = refused(StandIn(inspect_error=syntax))
    assert error.violations == (FieldViolation("docx", "template syntax error: unexpected ')', near \"第二条\""),)

    missing = InvalidArgument("missing", [FieldViolation("data.plan[0].rate", "is required by the template but missing")])
    error = refused(StandIn(render_error=missing))
    assert error.message.startswith("the template failed a trial render with sample data")
    assert error.violations == (FieldViolation("docx", "data.plan[0].rate: is required by the template but missing"),)


def test_only_zip_packages_are_sent_to_filegen():
    assert docx_violations(b"") == [FieldViolation("docx", "is required")]
    assert docx_violations(b"%PDF-1.7")[0].field == "docx"
    assert docx_violations(DOCX) == []
    assert rename_template_field("template") == "docx" and rename_template_field("data.x") == "data.x"
