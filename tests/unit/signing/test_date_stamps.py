import datetime as dt

import pytest

from core.errors import InvalidArgument
from services.signing import pades
from services.signing.placement import DATE_LINE, Position, date_stamps
from services.signing.signatures import signing_date
from tests.unit.signing.fixtures import PERSON_KEYWORD, contract_pdf

UTC = dt.timezone.utc


@pytest.mark.parametrize("moment, text", [
    (dt.datetime(2026, 11, 24, 16, 30, tzinfo=UTC), "2026年11月25日"),  # already the 25th in China
    (dt.datetime(2026, 11, 25, 15, 59, tzinfo=UTC), "2026年11月25日"),
    (dt.datetime(2027, 1, 4, 23, 0, tzinfo=UTC), "2027年1月5日"),  # no leading zeros
])
def test_signing_date_is_the_date_in_china(moment, text):
    assert signing_date(moment) == text


@pytest.fixture(scope="module")
def pdf() -> bytes:
    return contract_pdf()


def test_a_date_stamp_at_page_x_y_is_its_text_at_the_usual_size(pdf):
    (stamp,) = date_stamps(pdf, Position(page=3, x=300, y=200), "2026年11月25日")
    x1, y1, x2, y2 = stamp.placement.rect
    assert stamp.placement.page_index == 2 and stamp.font_size == pades.DATE_FONT_SIZE
    assert ((x1 + x2) / 2, (y1 + y2) / 2) == pytest.approx((300, 200))
    assert x2 - x1 == pytest.approx(pades.date_text_width("2026年11月25日") + 2)
    assert y2 - y1 == pytest.approx(pades.DATE_FONT_SIZE * DATE_LINE)


def test_a_date_stamp_shrinks_into_a_narrow_box_and_grows_with_its_height(pdf):
    (narrow,) = date_stamps(pdf, Position(page=1, x=300, y=200, width=40), "2026年11月25日")
    assert narrow.placement.width == 40
    assert pades.date_text_width("2026年11月25日", narrow.font_size) == pytest.approx(40)
    (tall,) = date_stamps(pdf, Position(page=1, x=300, y=200, height=30), "2026年11月25日")
    assert tall.font_size == pytest.approx(20) and tall.placement.height == 30


def test_a_keyword_date_stamp_sits_at_the_keyword_moved_by_x_y(pdf):
    (stamp,) = date_stamps(pdf, Position(keyword=PERSON_KEYWORD, y=-40), "2026年11月25日")
    at_keyword = date_stamps(pdf, Position(keyword=PERSON_KEYWORD), "2026年11月25日")[0]
    assert stamp.placement.page_index == at_keyword.placement.page_index == 2
    assert stamp.placement.rect[1] == pytest.approx(at_keyword.placement.rect[1] - 40)


def test_a_date_position_without_keyword_or_page_is_refused(pdf):
    with pytest.raises(InvalidArgument, match="datePosition.page"):
        date_stamps(pdf, Position(x=10, y=10), "2026年11月25日")
