import pytest

from core.errors import InvalidArgument, NotFound
from services.signing import anchors
from tests.unit.signing.fixtures import ORG_KEYWORD, PERSON_KEYWORD, contract_pdf


@pytest.fixture(scope="module")
def pdf():
    return contract_pdf()


def test_finds_a_cjk_keyword_with_its_box(pdf):
    (hit,) = anchors.find_keyword(pdf, ORG_KEYWORD)
    assert hit.page_index == 2
    x1, y1, x2, y2 = hit.rect
    # drawn at (90, 260) in 11 pt type: six full-width characters
    assert 88 <= x1 <= 92 and 255 <= y1 <= 262 and 145 <= x2 <= 160 and y2 <= 272
    (other,) = anchors.find_keyword(pdf, PERSON_KEYWORD)
    assert other.rect[0] > 320


def test_finds_every_occurrence_in_reading_order(pdf):
    hits = anchors.find_keyword(pdf, "订立本合同")
    assert len(hits) == 60
    assert [h.page_index for h in hits] == sorted(h.page_index for h in hits)


def test_keyword_placement_centres_the_box_on_the_keyword(pdf):
    placement = anchors.keyword_placement(pdf, ORG_KEYWORD, width=100, height=80)
    (hit,) = anchors.find_keyword(pdf, ORG_KEYWORD)
    assert placement.page_index == 2
    assert (placement.width, placement.height) == pytest.approx((100, 80))
    cx = (placement.rect[0] + placement.rect[2]) / 2
    cy = (placement.rect[1] + placement.rect[3]) / 2
    assert (cx, cy) == pytest.approx(hit.center)


def test_keyword_placement_applies_the_offset(pdf):
    base = anchors.keyword_placement(pdf, ORG_KEYWORD, width=50, height=50)
    moved = anchors.keyword_placement(pdf, ORG_KEYWORD, width=50, height=50, offset=(30, -20))
    assert moved.rect[0] == pytest.approx(base.rect[0] + 30)
    assert moved.rect[1] == pytest.approx(base.rect[1] - 20)


def test_keyword_placement_chooses_the_occurrence(pdf):
    first = anchors.keyword_placement(pdf, "订立本合同", width=20, height=20, occurrence=0)
    last = anchors.keyword_placement(pdf, "订立本合同", width=20, height=20)
    assert (first.page_index, last.page_index) == (0, 2)
    with pytest.raises(InvalidArgument):
        anchors.keyword_placement(pdf, ORG_KEYWORD, width=20, height=20, occurrence=3)


def test_missing_keyword_is_not_found(pdf):
    with pytest.raises(NotFound):
        anchors.keyword_placement(pdf, "丙方（盖章）", width=50, height=50)
    with pytest.raises(InvalidArgument):
        anchors.find_keyword(pdf, "  ")


def test_point_placement_uses_one_based_pages_and_centres_the_box(pdf):
    placement = anchors.point_placement(pdf, 3, 400, 120, width=60, height=40)
    assert placement.page_index == 2
    assert placement.rect == pytest.approx((370, 100, 430, 140))


def test_boxes_near_the_edge_are_pushed_inside_the_page(pdf):
    left, bottom, right, top = anchors.page_box(pdf, 0)
    placement = anchors.point_placement(pdf, 1, right - 5, bottom + 5, width=100, height=100)
    assert placement.rect == pytest.approx((right - 100, bottom, right, bottom + 100))


@pytest.mark.parametrize("page, x, y", [(0, 100, 100), (4, 100, 100), (1, -5, 100), (1, 100, 5000)])
def test_points_outside_the_document_are_invalid(pdf, page, x, y):
    with pytest.raises(InvalidArgument):
        anchors.point_placement(pdf, page, x, y, width=50, height=50)


def test_not_a_pdf_is_invalid():
    with pytest.raises(InvalidArgument):
        anchors.find_keyword(b"hello", ORG_KEYWORD)


def test_page_count(pdf):
    assert anchors.page_count(pdf) == 3


def test_an_occurrence_counted_from_either_end_matches_the_full_search(pdf):
    hits = anchors.find_keyword(pdf, "订立本合同")
    assert len(hits) >= 2
    for occurrence in (0, 1, -1, -2, len(hits) - 1, -len(hits)):
        placed = anchors.keyword_placement(pdf, "订立本合同", width=20, height=20, occurrence=occurrence)
        cx, cy = hits[occurrence].center
        assert placed.page_index == hits[occurrence].page_index
        assert (placed.rect[0] + placed.rect[2]) / 2 == pytest.approx(cx)
        assert (placed.rect[1] + placed.rect[3]) / 2 == pytest.approx(cy)
    with pytest.raises(InvalidArgument, match=f"only {len(hits)} times"):
        anchors.keyword_placement(pdf, "订立本合同", width=20, height=20, occurrence=-len(hits) - 1)
