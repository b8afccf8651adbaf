"""Time as the contract service records it: timezone-aware UTC, microsecond precision."""
from __future__ import annotations

from datetime import datetime, timezone


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def as_utc(moment: datetime) -> datetime:
    """SQLite hands back naive datetimes; everything stored is UTC."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc)


def rfc3339(moment: datetime) -> str:
    """RFC 3339 in UTC with exactly six fractional digits (the audit chain's canonical form)."""
    return as_utc(moment).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
