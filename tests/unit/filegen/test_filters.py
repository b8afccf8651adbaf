"""The contract filters: money, Chinese upper-case amounts, Chinese dates."""
from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

import pytest

from core.errors import InvalidArgument
from services.filegen.fill import chinese_amount, chinese_date, fill_docx, format_money
from tests.fixtures.docx_fixtures import read_docx_text, simple_docx


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (50000, "50,000.00"),
        (0, "0.00"),
        (1234.5, "1,234.50"),
        (1234567.891, "1,234,567.89"),
        (0.005, "0.01"),  # half up, not banker's rounding
        (2.675, "2.68"),  # exact from the decimal text, not the binary float
        ("1,000", "1,000.00"),
        ("¥88.8", "88.80"),
        (Decimal("-1234.5"), "-1,234.50"),
    ],
)
def test_money(value, expected):
    assert format_money(value) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (50000, "伍万元整"),
        (1234.56, "壹仟贰佰叁拾肆元伍角陆分"),
        (0.5, "伍角"),
        (100000000, "壹亿元整"),
        (10010, "壹万零壹拾元整"),
        (0, "零元整"),
        (10, "壹拾元整"),
        (1.05, "壹元零伍分"),
        (0.05, "伍分"),
        (1680.32, "壹仟陆佰捌拾元叁角贰分"),
        (1001, "壹仟零壹元整"),
        (105000, "壹拾万伍仟元整"),
        (100010000, "壹亿零壹万元整"),
        (1000000001, "壹拾亿零壹元整"),
        (10000100, "壹仟万零壹佰元整"),
        (120000, "壹拾贰万元整"),
        (99999999.99, "玖仟玖佰玖拾玖万玖仟玖佰玖拾玖元玖角玖分"),
        ("3.10", "叁元壹角"),
        (-20, "负贰拾元整"),
    ],
)
def test_chinese_amount(value, expected):
    assert chinese_amount(value) == expected


@pytest.mark.parametrize("value", ["abc", None, True, float("nan"), 10**12, [1]])
def test_chinese_amount_refuses_non_amounts(value):
    with pytest.raises(ValueError):
        chinese_amount(value)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2026-01-01", "2026年1月1日"),
        (date(2026, 12, 31), "2026年12月31日"),
        (datetime(2026, 3, 5, 14, 30), "2026年3月5日"),
        ("2026-03-05T14:30:00+08:00", "2026年3月5日"),
        ("2026/3/5", "2026年3月5日"),
    ],
)
def test_chinese_date(value, expected):
    assert chinese_date(value) == expected


@pytest.mark.parametrize("value", ["2026-02-30", "tomorrow", "20260101x", 20260101])
def test_chinese_date_refuses_non_dates(value):
    with pytest.raises(ValueError):
        chinese_date(value)


def test_filters_in_a_template():
    template = simple_docx("金额：{{ a|money }}；大写：{{ a|cn_upper }}；日期：{{ d|cn_date }}")
    text = read_docx_text(fill_docx(template, {"a": 50000, "d": "2026-01-01"})).body
    assert text == "金额：50,000.00；大写：伍万元整；日期：2026年1月1日"


def test_a_bad_value_for_a_filter_is_invalid_argument():
    with pytest.raises(InvalidArgument) as error:
        fill_docx(simple_docx("{{ a|cn_upper }}"), {"a": "五万"})
    assert "'五万' is not an amount" in error.value.message
    assert "cn_upper" in error.value.message
