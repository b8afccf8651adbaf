"""Turning service answers into what a page shows: times, enum names, data, images."""
from __future__ import annotations

import base64
import json
from datetime import datetime
from zoneinfo import ZoneInfo

from google.protobuf import json_format
from google.protobuf.timestamp_pb2 import Timestamp


def local_time(value: Timestamp | datetime | None, zone: ZoneInfo) -> str:
    if value is None:
        return ""
    if isinstance(value, Timestamp):
        if value.seconds == 0 and value.nanos == 0:
            return ""
        value = value.ToDatetime(tzinfo=ZoneInfo("UTC"))
    return value.astimezone(zone).strftime("%Y-%m-%d %H:%M:%S")


def enum_name(message, field: str) -> str:
    """Name of an enum field's value, e.g. ``PENDING_REVIEW``."""
    descriptor = message.DESCRIPTOR.fields_by_name[field].enum_type
    value = getattr(message, field)
    found = descriptor.values_by_number.get(value)
    return found.name if found is not None else str(value)


def as_json(message) -> str:
    """A message (or Struct) as indented JSON, for data and event details."""
    return json.dumps(json_format.MessageToDict(message), ensure_ascii=False, indent=2, sort_keys=True)


def png_data_uri(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def console_user_id(caller_id: str) -> str | None:
    """``console:usr_…`` → ``usr_…``; other callers (apps) → None."""
    return caller_id.split(":", 1)[1] if caller_id.startswith("console:") else None
