"""Forced reading, as the server enforces it: the reading clock starts when the documents
are first shown in the page session, and signing waits until it has run long enough.

Scrolling to the end is watched by the page itself; the server can only vouch for time,
so that is what a signature POST is refused on.
"""
from __future__ import annotations

import math

from gateway.pages.page_config import PageConfig


def seconds_left(config: PageConfig, started: float | None, now: float) -> int:
    """Whole seconds of reading still required (0 = may sign)."""
    if not config.forced_reading or config.min_reading_seconds <= 0:
        return 0
    if started is None:
        return config.min_reading_seconds
    return max(0, math.ceil(config.min_reading_seconds - (now - started)))


def seconds_read(started: float | None, now: float) -> int:
    """Reading time to report as evidence (AgreeContract's ``reading_seconds``)."""
    return 0 if started is None else max(0, int(now - started))
