"""Signer roles of a template: who signs (a person or an organisation) and where.

A position is either a keyword anchor (text found in the rendered PDF, optionally moved
by an x/y offset and restricted to one page) or an absolute spot (page + x + y in PDF
points). Validation reports every problem at once, each with its request path
(``signers[1].positions[0].page``), so an uploader fixes the whole list in one go.
"""
from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass
from typing import Any

from core.errors import FieldViolation

KINDS = ("PERSON", "ORG")
MAX_ROLES = 50
MAX_POSITIONS = 50
MAX_ROLE_LENGTH = 64
MAX_KEYWORD_LENGTH = 100
# A4 is 595 x 842 points; A0 is about 2384 x 3370: nothing a contract uses is larger.
MAX_COORDINATE = 14_400.0


@dataclass(frozen=True)
class Position:
    """Where a seal, signature or date stamp goes (see ``SignaturePosition`` in common.proto)."""

    keyword: str = ""
    page: int = 0
    x: float = 0.0
    y: float = 0.0
    width: float = 0.0
    height: float = 0.0


@dataclass(frozen=True)
class SignerRole:
    """A role of the template (``lender``), its kind and where it signs."""

    role: str
    kind: str
    positions: tuple[Position, ...]
    riding_seal: bool = False
    date_position: Position | None = None


def validate_signers(signers: list[SignerRole] | tuple[SignerRole, ...], *, field: str = "signers") -> list[FieldViolation]:
    """Every problem of a signer list, by request path; empty when the list is fine."""
    problems: list[FieldViolation] = []
    if not signers:
        return [FieldViolation(field, "at least one signer role is required")]
    if len(signers) > MAX_ROLES:
        return [FieldViolation(field, f"at most {MAX_ROLES} signer roles are allowed, got {len(signers)}")]
    seen: dict[str, int] = {}
    for index, signer in enumerate(signers):
        path = f"{field}[{index}]"
        name = signer.role
        if not name.strip():
            problems.append(FieldViolation(f"{path}.role", "is required"))
        elif name != name.strip():
            problems.append(FieldViolation(f"{path}.role", "must not start or end with spaces"))
        elif len(name) > MAX_ROLE_LENGTH:
            problems.append(FieldViolation(f"{path}.role", f"must be at most {MAX_ROLE_LENGTH} characters"))
        elif name in seen:
            problems.append(FieldViolation(f"{path}.role", f"role {name!r} is already used by {field}[{seen[name]}]"))
        else:
            seen[name] = index
        if signer.kind not in KINDS:
            problems.append(FieldViolation(f"{path}.kind", "must be PERSON or ORG"))
        if not signer.positions:
            problems.append(FieldViolation(f"{path}.positions", "at least one position is required"))
        elif len(signer.positions) > MAX_POSITIONS:
            problems.append(FieldViolation(f"{path}.positions", f"at most {MAX_POSITIONS} positions are allowed"))
        for number, position in enumerate(signer.positions):
            problems.extend(validate_position(position, f"{path}.positions[{number}]"))
        if signer.date_position is not None:
            problems.extend(validate_position(signer.date_position, f"{path}.datePosition"))
    return problems


def validate_position(position: Position, path: str) -> list[FieldViolation]:
    """Problems of one position: a keyword anchor, or page ≥ 1 with x, y on the page."""
    problems: list[FieldViolation] = []
    numbers = {"x": position.x, "y": position.y, "width": position.width, "height": position.height}
    for name, value in numbers.items():
        if not math.isfinite(value) or abs(value) > MAX_COORDINATE:
            problems.append(FieldViolation(f"{path}.{name}", f"must be a number of points up to {MAX_COORDINATE:g}"))
    for name in ("width", "height"):
        if numbers[name] < 0:
            problems.append(FieldViolation(f"{path}.{name}", "must not be negative"))
    keyword = position.keyword
    if keyword:
        if not keyword.strip():
            problems.append(FieldViolation(f"{path}.keyword", "must not be blank"))
        elif len(keyword) > MAX_KEYWORD_LENGTH:
            problems.append(FieldViolation(f"{path}.keyword", f"must be at most {MAX_KEYWORD_LENGTH} characters"))
        if position.page < 0:
            problems.append(FieldViolation(f"{path}.page", "must be 0 (every page) or a page number ≥ 1"))
        return problems
    # An absolute position: a page and a spot on it.
    if position.page < 1:
        problems.append(FieldViolation(f"{path}.page", "must be ≥ 1 (or give a keyword anchor instead)"))
    for name in ("x", "y"):
        if numbers[name] < 0:
            problems.append(FieldViolation(f"{path}.{name}", "must not be negative for an absolute position"))
    return problems


def keyword_anchors(signers: list[SignerRole] | tuple[SignerRole, ...]) -> list[tuple[str, Position]]:
    """(request path, position) of every keyword anchor, date stamps included."""
    anchors = []
    for index, signer in enumerate(signers):
        for number, position in enumerate(signer.positions):
            if position.keyword:
                anchors.append((f"signers[{index}].positions[{number}]", position))
        if signer.date_position is not None and signer.date_position.keyword:
            anchors.append((f"signers[{index}].datePosition", signer.date_position))
    return anchors


def signers_to_json(signers: list[SignerRole] | tuple[SignerRole, ...]) -> str:
    return json.dumps([asdict(s) for s in signers], ensure_ascii=False, sort_keys=True)


def signers_from_json(text: str) -> tuple[SignerRole, ...]:
    return tuple(_signer(item) for item in json.loads(text))


def _signer(item: dict[str, Any]) -> SignerRole:
    date = item.get("date_position")
    return SignerRole(
        role=item["role"],
        kind=item["kind"],
        positions=tuple(Position(**p) for p in item["positions"]),
        riding_seal=bool(item.get("riding_seal", False)),
        date_position=Position(**date) if date else None,
    )
