import pytest

from core.errors import InvalidArgument, NotFound
from services.signing import pades
from services.signing.placement import AppearanceKind, Position, natural_size, placements
from tests.unit.signing.fixtures import ORG_KEYWORD, contract_pdf


@pytest.fixture(scope="module")
def pdf() -> bytes:
    return contract_pdf()


def test_natural_sizes():
    assert natural_size(AppearanceKind.COMPANY_SEAL, (480, 480)) == (pades.COMPANY_SEAL_SIZE,) * 2
    assert natural_size(AppearanceKind.PERSONAL_SEAL, (240, 240)) == (pades.PERSON_SEAL_SIZE,) * 2
    assert natural_size(AppearanceKind.HANDWRITING, (400, 100)) == (120.0, 30.0)
    assert natural_size(AppearanceKind.HANDWRITING, (100, 400)) == (15.0, 60.0)


def test_keyword_position_is_centred_on_the_match(pdf):
    (placement,) = placements(pdf, [Position(keyword=ORG_KEYWORD)], AppearanceKind.COMPANY_SEAL, (480, 480))
    assert placement.page_index == 2
    assert placement.width == pytest.approx(pades.COMPANY_SEAL_SIZE)


def test_keyword_with_offset_and_page(pdf):
    (base,) = placements(pdf, [Position(keyword=ORG_KEYWORD, page=3)], AppearanceKind.PERSONAL_SEAL, (10, 10))
    (moved,) = placements(pdf, [Position(keyword=ORG_KEYWORD, page=3, x=20, y=-10)],
                          AppearanceKind.PERSONAL_SEAL, (10, 10))
    assert moved.rect[0] == pytest.approx(base.rect[0] + 20) and moved.rect[1] == pytest.approx(base.rect[1] - 10)
    with pytest.raises(NotFound, match="on page 1"):
        placements(pdf, [Position(keyword=ORG_KEYWORD, page=1)], AppearanceKind.PERSONAL_SEAL, (10, 10))


def test_every_match_of_a_keyword_gets_the_appearance(pdf):
    found = placements(pdf, [Position(keyword="Loan contract page")], AppearanceKind.PERSONAL_SEAL, (10, 10))
    assert [p.page_index for p in found] == [0, 1, 2]


def test_absolute_position_and_explicit_sizes(pdf):
    (p,) = placements(pdf, [Position(page=2, x=300, y=400, width=80)], AppearanceKind.HANDWRITING, (400, 200))
    assert p.page_index == 1 and (p.width, p.height) == pytest.approx((80, 40))
    (p,) = placements(pdf, [Position(page=2, x=300, y=400, height=50)], AppearanceKind.HANDWRITING, (400, 200))
    assert (p.width, p.height) == pytest.approx((100, 50))
    assert ((p.rect[0] + p.rect[2]) / 2, (p.rect[1] + p.rect[3]) / 2) == pytest.approx((300, 400))


@pytest.mark.parametrize("positions, words", [
    ([], "at least one position"),
    ([Position(x=1, y=1)], "is required"),
    ([Position(page=9, x=1, y=1)], "between 1 and 3"),
    ([Position(page=1, x=1, y=1, width=-1)], "must not be negative"),
])
def test_bad_positions(pdf, positions, words):
    with pytest.raises(InvalidArgument, match=words):
        placements(pdf, positions, AppearanceKind.COMPANY_SEAL, (480, 480))
