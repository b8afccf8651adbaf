"""The fill schema of a template version, as filegen found it in the .docx, and sample data.

Field names may be dotted (``borrower.name`` is the ``name`` key of the ``borrower``
object); a LOOP field lists the fields of each of its items. Sample data gives every
field a plausible value of its type, so a trial render or a preview shows every clause,
including the conditional ones.
"""
from __future__ import annotations

import base64
import io
import json
from dataclasses import dataclass
from functools import cache
from typing import Any

SAMPLE_ROWS = 3


@dataclass(frozen=True)
class FillField:
    """One value the template asks for (see ``FillField`` in common.proto)."""

    name: str
    type: str
    required: bool = False
    item_fields: tuple[FillField, ...] = ()
    label: str = ""


def fields_to_json(fields: tuple[FillField, ...] | list[FillField]) -> str:
    return json.dumps([_to_dict(f) for f in fields], ensure_ascii=False, sort_keys=True)


def fields_from_json(text: str) -> tuple[FillField, ...]:
    return tuple(_from_dict(item) for item in json.loads(text))


def _to_dict(field: FillField) -> dict[str, Any]:
    return {
        "name": field.name,
        "type": field.type,
        "required": field.required,
        "item_fields": [_to_dict(f) for f in field.item_fields],
        "label": field.label,
    }


def _from_dict(item: dict[str, Any]) -> FillField:
    return FillField(
        name=item["name"],
        type=item["type"],
        required=bool(item.get("required", False)),
        item_fields=tuple(_from_dict(f) for f in item.get("item_fields", ())),
        label=item.get("label", ""),
    )


def flatten(fields: tuple[FillField, ...] | list[FillField], prefix: str = "") -> dict[str, FillField]:
    """Every field by its full name, loop item fields as ``loop.item`` (for comparisons)."""
    out: dict[str, FillField] = {}
    for field in fields:
        name = prefix + field.name
        out[name] = field
        out.update(flatten(field.item_fields, name + "."))
    return out


# --- sample data ---------------------------------------------------------------------

# Leaf names that call for a recognisable value rather than a generic placeholder.
_TEXT_SAMPLES = (
    (("phone", "mobile", "tel"), "13800138000"),
    (("email", "mail"), "zhangsan@example.com"),
    (("address", "addr"), "北京市朝阳区建国路1号"),
    (("id_no", "idno", "id_card", "idcard", "id_number"), "110101199001011234"),
    (("credit_code", "uscc"), "91110000MA01234567"),
    (("account",), "6222020200001234567"),
    (("bank",), "中国工商银行北京分行"),
    (("contract_no",), "HT-2026-0001"),
)
_ORG_HINTS = ("lender", "company", "org", "enterprise", "corp", "party_a", "creditor", "bank")


def sample_data(fields: tuple[FillField, ...] | list[FillField]) -> dict[str, Any]:
    """Data with a value of the right type for every field (``SAMPLE_ROWS`` items per loop)."""
    data: dict[str, Any] = {}
    for field in fields:
        _put(data, field.name, _sample(field, field.name, 0, depth=0))
    return data


def with_samples(data: dict[str, Any], fields: tuple[FillField, ...] | list[FillField]) -> dict[str, Any]:
    """``data`` with sample values for whatever it leaves out (given values always win)."""
    return _merge(data, sample_data(fields))


def _merge(given: Any, sample: Any) -> Any:
    if isinstance(given, dict) and isinstance(sample, dict) and not _is_special(given):
        merged = dict(given)
        for key, value in sample.items():
            merged[key] = _merge(given[key], value) if key in given else value
        return merged
    return given


def _is_special(value: dict[str, Any]) -> bool:
    return any(isinstance(k, str) and k.startswith("$") for k in value)


def _put(data: dict[str, Any], name: str, value: Any) -> None:
    *parents, leaf = name.split(".")
    for parent in parents:
        child = data.setdefault(parent, {})
        if not isinstance(child, dict):
            return
        data = child
    data.setdefault(leaf, value)


def _sample(field: FillField, path: str, index: int, *, depth: int) -> Any:
    leaf = path.rsplit(".", 1)[-1].lower()
    kind = field.type
    if kind == "LOOP":
        # Nested loops get fewer rows so samples stay small.
        rows = SAMPLE_ROWS if depth == 0 else 2
        if not field.item_fields:
            return [f"【{path}{row + 1}】" for row in range(rows)]
        items = []
        for row in range(rows):
            item: dict[str, Any] = {}
            for inner in field.item_fields:
                _put(item, inner.name, _sample(inner, inner.name, row, depth=depth + 1))
            items.append(item)
        return items
    if kind == "NUMBER":
        if "rate" in leaf:
            return 4.35
        if leaf in ("no", "index", "seq", "period") or leaf.endswith("_no"):
            return index + 1
        if "term" in leaf or "month" in leaf:
            return 12
        return 50000 + 1000 * index
    if kind == "DATE":
        return f"2026-{index % 12 + 1:02d}-01"
    if kind == "BOOLEAN":
        return True
    if kind == "IMAGE":
        return {"$image": placeholder_png_base64()}
    if kind == "RICH_TEXT":
        return {"$html": f"<p>示例条款：<b>{field.label or leaf}</b></p>"}
    if leaf == "name" or leaf.endswith("_name"):
        return "示例科技有限公司" if any(h in path.lower() for h in _ORG_HINTS) else "张三"
    for keys, value in _TEXT_SAMPLES:
        if any(leaf == k or leaf.endswith("_" + k) for k in keys):
            return value
    return f"【{field.label or path}】"


@cache
def placeholder_png_base64(size: int = 120) -> str:
    """A light grey square with a dark border: visibly a stand-in for a real picture."""
    from PIL import Image, ImageDraw

    image = Image.new("L", (size, size), 225)
    ImageDraw.Draw(image).rectangle((0, 0, size - 1, size - 1), outline=80, width=3)
    out = io.BytesIO()
    image.save(out, format="PNG")
    return base64.b64encode(out.getvalue()).decode("ascii")
