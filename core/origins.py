"""Web origins as CSP ``frame-ancestors`` takes them: scheme, host, optional port, nothing else.

One rule for both ends: the identity service refuses a business line's ``frameAncestors``
entry that is not an origin, and the signing pages keep only the entries that are (settings
stored before the check are still filtered there).
"""
from __future__ import annotations

import re

_ORIGIN = re.compile(r"https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?")
MAX_ORIGINS = 20


def is_origin(value: str) -> bool:
    """``scheme://host[:port]`` with http or https, a trailing slash tolerated."""
    return bool(_ORIGIN.fullmatch(value.rstrip("/")))
