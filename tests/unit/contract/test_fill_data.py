"""Fill-data values against a template's schema: every bad value named by its path."""
from __future__ import annotations

from services.contract.fill_data import FillField, check_values

SCHEMA = (
    FillField("contract_no", "TEXT", True),
    FillField("sign_date", "DATE", True),
    FillField("amount", "NUMBER", True),
    FillField("lender.name", "TEXT", True),
    FillField("seal", "IMAGE", True),
    FillField("terms", "RICH_TEXT", False),
    FillField("guarantor", "BOOLEAN", False),
    FillField("plan", "LOOP", True, (FillField("no", "TEXT", True), FillField("date", "DATE", True),
                                     FillField("total", "NUMBER", True))),
)
PNG = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR4nGNgYGBgAAAABQABpfZFQAAAAABJRU5ErkJggg=="


def good() -> dict:
    return {
        "contract_no": "JK-1", "sign_date": "2026-01-01", "amount": "120,000.50", "lender": {"name": "某公司"},
        "seal": {"$image": PNG, "width_mm": 40}, "terms": {"$html": "<p>x</p>"}, "guarantor": {"name": "李四"},
        "plan": [{"no": 1, "date": "2026-02-01", "total": 10010.0}, {"no": 2, "date": "2026年3月1日", "total": "10005"}],
    }


def test_good_data_passes_unchanged():
    data = good()
    problems, patched = check_values(SCHEMA, data)
    assert problems == [] and patched == data


def test_every_bad_value_is_named_by_its_path_and_replaced():
    data = good()
    data["sign_date"] = "2026-02-30"
    data["amount"] = True
    data["lender"]["name"] = ["x"]
    data["seal"] = {"$image": "%%%"}
    data["terms"] = 5
    data["plan"][1]["date"] = "soon"
    data["plan"][0]["total"] = "ten"
    problems, patched = check_values(SCHEMA, data)
    found = {p.field: p.description for p in problems}
    assert set(found) == {"data.sign_date", "data.amount", "data.lender.name", "data.seal", "data.terms",
                          "data.plan[1].date", "data.plan[0].total"}
    assert "calendar date" in found["data.sign_date"] and "YYYY-MM-DD" in found["data.plan[1].date"]
    # Placeholders of the right type let the render report the missing fields too.
    assert patched["plan"][1]["date"] == "2000-01-01" and patched["amount"] == 0
    assert data["amount"] is True  # the caller's data is left alone
    assert check_values(SCHEMA, patched)[0] == []


def test_missing_fields_are_left_to_the_render():
    # Required fields under an {% if %} may be absent; only the strict render knows.
    problems, _ = check_values(SCHEMA, {"plan": [{}]})
    assert problems == []


def test_wrong_containers():
    problems, patched = check_values(SCHEMA, {**good(), "lender": "某公司", "plan": {"no": 1}})
    assert {p.field for p in problems} == {"data.lender", "data.plan"}
    assert patched["plan"] == [] and patched["lender"] == {}
    problems, _ = check_values(SCHEMA, {**good(), "plan": [1, {"no": 1, "date": "2026-01-01", "total": 1}]})
    assert [p.field for p in problems] == ["data.plan[0]"]


def test_the_prefix_names_where_the_data_sat():
    problems, _ = check_values(SCHEMA, {"amount": "x"}, "extraDocuments[1].fillData")
    assert [p.field for p in problems] == ["extraDocuments[1].fillData.amount"]
