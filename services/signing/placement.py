"""From signature positions (keyword anchor or page + x + y) to widget rectangles.

A keyword position puts the appearance on every match of the keyword (only on
``page`` when that is set), moved by ``x``/``y``; an absolute position centres it
on (``x``, ``y``) of ``page``. The box is ``width`` × ``height`` points; a zero
side follows from the image's aspect ratio, both zero is the natural size of what
is shown: a company seal 42 mm across, a personal seal 20 mm, handwriting at most
120 × 60 points. A date stamp's box is its text at 10.5 points unless a size is given,
and the text shrinks to fit a given box.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from core.errors import NotFound, invalid
from services.signing import anchors, pades

HANDWRITING_BOX = (120.0, 60.0)


class AppearanceKind(StrEnum):
    COMPANY_SEAL = "company_seal"
    PERSONAL_SEAL = "personal_seal"
    HANDWRITING = "handwriting"


@dataclass(frozen=True)
class Position:
    keyword: str = ""
    page: int = 0  # 1-based; 0 with a keyword = every page
    x: float = 0.0
    y: float = 0.0
    width: float = 0.0
    height: float = 0.0


def natural_size(kind: AppearanceKind, pixels: tuple[int, int]) -> tuple[float, float]:
    """The box an image of ``pixels`` (width, height) gets when no size is given."""
    pw, ph = pixels
    if pw <= 0 or ph <= 0:
        raise invalid("image", "has no pixels")
    if kind is AppearanceKind.HANDWRITING:
        max_w, max_h = HANDWRITING_BOX
    else:
        side = pades.COMPANY_SEAL_SIZE if kind is AppearanceKind.COMPANY_SEAL else pades.PERSON_SEAL_SIZE
        max_w = max_h = side
    scale = min(max_w / pw, max_h / ph)
    return pw * scale, ph * scale


def _box(position: Position, kind: AppearanceKind, pixels: tuple[int, int], index: int) -> tuple[float, float]:
    if position.width < 0 or position.height < 0:
        raise invalid(f"positions[{index}]", "width and height must not be negative")
    aspect = pixels[1] / pixels[0]
    if position.width and position.height:
        return position.width, position.height
    if position.width:
        return position.width, position.width * aspect
    if position.height:
        return position.height / aspect, position.height
    return natural_size(kind, pixels)


def placements(pdf: bytes, positions: Sequence[Position], kind: AppearanceKind,
               pixels: tuple[int, int]) -> list[anchors.Placement]:
    """Every widget rectangle for ``positions``, in order; at least one position is required."""
    if not positions:
        raise invalid("positions", "at least one position is required")
    out: list[anchors.Placement] = []
    for index, position in enumerate(positions):
        width, height = _box(position, kind, pixels, index)
        out.extend(_at(pdf, position, width, height, f"positions[{index}]"))
    return out


def date_stamps(pdf: bytes, position: Position, text: str) -> list[pades.DateStamp]:
    """The date stamp ``text`` at ``position`` (every match of a keyword, as for seals)."""
    if position.width < 0 or position.height < 0:
        raise invalid("datePosition", "width and height must not be negative")
    size = position.height / DATE_LINE if position.height else pades.DATE_FONT_SIZE
    natural = pades.date_text_width(text, size)
    if position.width and natural > position.width:
        size *= position.width / natural  # shrink the text to the given box
    width = position.width or natural + 2 * DATE_PADDING
    height = position.height or size * DATE_LINE
    return [pades.DateStamp(text, placement, size) for placement in _at(pdf, position, width, height, "datePosition")]


DATE_LINE = 1.5  # box height per point of font size
DATE_PADDING = 1.0  # points left and right of a date stamp's text


def _at(pdf: bytes, position: Position, width: float, height: float, path: str) -> list[anchors.Placement]:
    if position.page < 0:
        raise invalid(f"{path}.page", "must not be negative")
    keyword = position.keyword.strip()
    if not keyword:
        if position.page < 1:
            raise invalid(f"{path}.page", "is required (1-based) for a position without keyword")
        return [anchors.point_placement(pdf, position.page, position.x, position.y, width=width, height=height)]
    hits = anchors.find_keyword(pdf, keyword, position.page - 1 if position.page else None)
    if not hits:
        where = f" on page {position.page}" if position.page else ""
        raise NotFound(f"keyword {keyword!r} does not occur in the document{where}")
    return [anchors.point_placement(pdf, hit.page_index + 1, hit.center[0] + position.x, hit.center[1] + position.y,
                                    width=width, height=height) for hit in hits]
