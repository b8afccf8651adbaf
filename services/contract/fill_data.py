"""Checking a contract's fill data against its template's fill schema.

``check_values`` finds every present value of the wrong type (``data.plan[2].date: must
be a date YYYY-MM-DD``) and returns the data with each bad value replaced by a
placeholder of the right type. Whether an absent field is really needed is left to the
strict render: the schema marks a field required even when every use of it sits under
an ``{% if %}`` that the data may switch off, so only filegen's render knows. Rendering
the patched data therefore reports exactly the missing fields, and both lists together
name every problem in one answer.
"""
from __future__ import annotations

import base64
import binascii
import copy
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from core.errors import FieldViolation

TEXT = "TEXT"
NUMBER = "NUMBER"
DATE = "DATE"
BOOLEAN = "BOOLEAN"
IMAGE = "IMAGE"
RICH_TEXT = "RICH_TEXT"
LOOP = "LOOP"

# The same shapes filegen's filters accept.
_DATE = re.compile(r"^\s*(\d{4})[-/.年](\d{1,2})[-/.月](\d{1,2})日?(?:$|[T\s])")
_IMAGE_KEYS = {"$image", "$image_ref"}
_IMAGE_SIZE_KEYS = {"width_mm", "height_mm"}
# A 1×1 transparent PNG, standing in for a bad image while the render looks for missing fields.
_PLACEHOLDER_PNG = base64.b64encode(bytes.fromhex(
    "89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c489"
    "0000000d49444154789c6360606060000000050001a5f645400000000049454e44ae426082"
)).decode("ascii")
_PLACEHOLDERS = {TEXT: "-", NUMBER: 0, DATE: "2000-01-01", IMAGE: {"$image": _PLACEHOLDER_PNG}, RICH_TEXT: "-"}


@dataclass(frozen=True)
class FillField:
    """One field of a fill schema (see ``FillField`` in common.proto); names may be dotted."""

    name: str
    type: str
    required: bool = False
    item_fields: tuple[FillField, ...] = ()


def _is_marker(value: Any) -> bool:
    return isinstance(value, Mapping) and any(str(k).startswith("$") for k in value)


def _problem(kind: str, value: Any) -> str | None:
    """Why ``value`` cannot be a ``kind`` field, or None when it can."""
    if kind == TEXT:
        # A paragraph field ({{p x }}) is classified as text and may take rich text or an image.
        if isinstance(value, (str, int, float, bool)) or _is_marker(value):
            return None
        return "must be text (a string or a number)"
    if kind == NUMBER:
        if isinstance(value, bool):
            return "must be a number"
        if isinstance(value, (int, float)):
            return None if value == value and value not in (float("inf"), float("-inf")) else "must be a finite number"
        if isinstance(value, str):
            try:
                number = Decimal(value.strip().replace(",", "").lstrip("¥￥"))
            except InvalidOperation:
                return "must be a number (or a string holding a decimal)"
            return None if number.is_finite() else "must be a finite number"
        return "must be a number"
    if kind == DATE:
        match = _DATE.match(value) if isinstance(value, str) else None
        if match is None:
            return "must be a date YYYY-MM-DD"
        try:
            date(*(int(g) for g in match.groups()))
        except ValueError:
            return f"{value!r} is not a calendar date"
        return None
    if kind == IMAGE:
        return _image_problem(value)
    if kind == RICH_TEXT:
        if isinstance(value, str):
            return None
        if isinstance(value, Mapping) and set(value) == {"$html"} and isinstance(value["$html"], str):
            return None
        return 'must be rich text: an HTML string or {"$html": "<p>…</p>"}'
    return None  # BOOLEAN (any value has a truth value) and unclassified fields


def _image_problem(value: Any) -> str | None:
    if isinstance(value, Mapping):
        keys = set(value)
        marker = keys & _IMAGE_KEYS
        if len(marker) != 1 or not keys <= _IMAGE_KEYS | _IMAGE_SIZE_KEYS:
            return 'must be an image: {"$image": "<base64 PNG or JPEG>"} with optional width_mm and height_mm'
        value = value[marker.pop()]
        if "$image_ref" in keys:
            return None if isinstance(value, str) and value else "must name a stored image"
    if not isinstance(value, str) or not value:
        return "must be an image: base64 of a PNG or JPEG"
    text = value.split(",", 1)[1] if value.startswith("data:") else value
    try:
        base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return "must be an image: the base64 is not valid"
    return None


class _Checker:
    def __init__(self) -> None:
        self.violations: list[FieldViolation] = []

    def fields(self, fields: Sequence[FillField], data: dict[str, Any], prefix: str) -> None:
        for field in fields:
            self.field(field, data, prefix)

    def field(self, field: FillField, data: dict[str, Any], prefix: str) -> None:
        parts = field.name.split(".")
        holder: Any = data
        path = prefix
        for part in parts[:-1]:
            path = f"{path}.{part}"
            inner = holder.get(part)
            if inner is None:
                return  # absent: for the render to judge
            if not isinstance(inner, dict):
                self.bad(path, "must be an object", holder, part, {})
                return
            holder = inner
        key = parts[-1]
        path = f"{path}.{key}"
        value = holder.get(key)
        if value is None:
            return
        if field.type == LOOP:
            self.loop(field, holder, key, path)
            return
        problem = _problem(field.type, value)
        if problem:
            self.bad(path, problem, holder, key, _PLACEHOLDERS.get(field.type, "-"))

    def loop(self, field: FillField, holder: dict[str, Any], key: str, path: str) -> None:
        items = holder[key]
        if not isinstance(items, list):
            self.bad(path, "must be a list", holder, key, [])
            return
        for index, item in enumerate(items):
            where = f"{path}[{index}]"
            if not field.item_fields:
                continue
            if not isinstance(item, dict):
                self.bad(where, "must be an object", items, index, {})
                continue
            self.fields(field.item_fields, item, where)

    def bad(self, path: str, description: str, holder: Any, key: Any, placeholder: Any) -> None:
        self.violations.append(FieldViolation(path, description))
        holder[key] = copy.deepcopy(placeholder)


def check_values(fields: Sequence[FillField], data: Mapping[str, Any], prefix: str = "data") -> tuple[list[FieldViolation], dict[str, Any]]:
    """Violations for every present value of the wrong type, and the data with those
    values replaced by placeholders (``data`` itself is not changed)."""
    patched = copy.deepcopy(dict(data))
    checker = _Checker()
    checker.fields(fields, patched, prefix)
    return checker.violations, patched
