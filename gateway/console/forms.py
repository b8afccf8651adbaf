"""Reading the console's richer form inputs into request messages."""
from __future__ import annotations

import re
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from google.protobuf.timestamp_pb2 import Timestamp

from core.errors import invalid
from econtract.common.v1 import common_pb2
from econtract.template.v1 import template_pb2
from gateway.console.pipeline import Ctx

_SIGNER_ROW = re.compile(r"^signer-(\d{1,2})-role$")
KINDS = ("PERSON", "ORG")


def signer_rows(ctx: Ctx) -> list[int]:
    """Indexes of the signer rows the form has (the page can add rows)."""
    return sorted({int(m.group(1)) for key in ctx.form.keys() if (m := _SIGNER_ROW.match(key))})


def _coordinate(ctx: Ctx, name: str, label: str) -> float:
    raw = ctx.text(name)
    if raw == "":
        return 0.0
    try:
        return float(raw)
    except ValueError:
        raise invalid(label, "must be a number") from None


def signer_roles(ctx: Ctx) -> list[template_pb2.SignerRole]:
    """Signer roles from the rows ``signer-N-role``, ``-kind``, ``-keyword``, ``-page``, ``-x``, ``-y``,
    ``-riding``; rows without a role name are ignored."""
    roles = []
    for i in signer_rows(ctx):
        role = ctx.text(f"signer-{i}-role")
        if not role:
            continue
        label = f"signers[{len(roles)}]"
        kind = ctx.text(f"signer-{i}-kind")
        if kind not in KINDS:
            raise invalid(f"{label}.kind", "choose PERSON or ORG")
        keyword = ctx.text(f"signer-{i}-keyword")
        page = int(_coordinate(ctx, f"signer-{i}-page", f"{label}.page"))
        x = _coordinate(ctx, f"signer-{i}-x", f"{label}.x")
        y = _coordinate(ctx, f"signer-{i}-y", f"{label}.y")
        position = common_pb2.SignaturePosition(keyword=keyword, page=page, x=x, y=y)
        roles.append(
            template_pb2.SignerRole(
                role=role,
                kind=common_pb2.SignerKind.Value(kind),
                positions=[position] if keyword or page else [],
                riding_seal=ctx.checked(f"signer-{i}-riding"),
            )
        )
    return roles


def day_start(raw: str, zone: ZoneInfo, field: str, *, next_day: bool = False) -> Timestamp | None:
    """``YYYY-MM-DD`` as the start of that day (or of the next one) in the console's zone."""
    if not raw:
        return None
    try:
        day = date.fromisoformat(raw)
    except ValueError:
        raise invalid(field, "must be a date like 2026-01-31") from None
    start = datetime(day.year, day.month, day.day, tzinfo=zone) + timedelta(days=1 if next_day else 0)
    stamp = Timestamp()
    stamp.FromDatetime(start)
    return stamp
