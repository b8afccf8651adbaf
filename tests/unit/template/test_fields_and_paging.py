import base64

import pytest

from core.errors import InvalidArgument
from core import paging
from services.template.fields import FillField, fields_from_json, fields_to_json, flatten, sample_data, with_samples

SCHEMA = (
    FillField("contract_no", "TEXT", True),
    FillField("borrower.name", "TEXT", True),
    FillField("lender.name", "TEXT", True),
    FillField("borrower.phone", "TEXT"),
    FillField("amount", "NUMBER", True),
    FillField("annual_rate", "NUMBER"),
    FillField("sign_date", "DATE", True),
    FillField("has_guarantor", "BOOLEAN"),
    FillField("seal", "IMAGE"),
    FillField("special_terms", "RICH_TEXT", label="其他约定"),
    FillField("plan", "LOOP", True, (FillField("no", "NUMBER"), FillField("date", "DATE"))),
)


def test_sample_data_has_a_value_of_each_type():
    data = sample_data(SCHEMA)
    assert data["contract_no"] == "HT-2026-0001"
    assert data["borrower"] == {"name": "张三", "phone": "13800138000"}
    assert data["lender"] == {"name": "示例科技有限公司"}
    assert data["amount"] == 50000 and data["annual_rate"] == 4.35
    assert data["sign_date"] == "2026-01-01" and data["has_guarantor"] is True
    assert base64.b64decode(data["seal"]["$image"]).startswith(b"\x89PNG")
    assert data["special_terms"] == {"$html": "<p>示例条款：<b>其他约定</b></p>"}
    assert data["plan"] == [{"no": 1, "date": "2026-01-01"}, {"no": 2, "date": "2026-02-01"}, {"no": 3, "date": "2026-03-01"}]


def test_given_values_win_over_samples():
    merged = with_samples({"borrower": {"name": "李四"}, "plan": [], "seal": {"$image": "x"}}, SCHEMA)
    assert merged["borrower"] == {"name": "李四", "phone": "13800138000"}
    assert merged["plan"] == [] and merged["seal"] == {"$image": "x"}
    assert merged["amount"] == 50000


def test_schema_json_round_trip_and_flatten():
    assert fields_from_json(fields_to_json(SCHEMA)) == SCHEMA
    assert {"plan", "plan.no", "plan.date", "borrower.name"} <= set(flatten(SCHEMA))


def test_page_tokens_continue_only_their_own_list():
    scope = paging.scope("loans", "", "", "")
    token = paging.encode({"id": "tpl_1"}, scope)
    assert paging.decode(token, scope) == {"id": "tpl_1"}
    assert paging.decode("", scope) is None
    with pytest.raises(InvalidArgument) as other:
        paging.decode(token, paging.scope("cards", "", "", ""))
    assert other.value.violations[0].field == "pageToken"
    for garbage in ("not-a-token", "eyJ4IjoxfQ", "%%%"):
        with pytest.raises(InvalidArgument):
            paging.decode(garbage, scope)


def test_page_size_defaults_and_caps():
    assert paging.page_size(0) == paging.DEFAULT_PAGE_SIZE
    assert paging.page_size(10_000) == paging.MAX_PAGE_SIZE
    with pytest.raises(InvalidArgument):
        paging.page_size(-1)
