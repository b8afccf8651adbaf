"""Keeps link tokens out of traces. The gateway's server span is named after the path and
records the URL, and a link token that has not been opened yet must not sit in a trace
store; it is replaced by a short digest, still enough to follow one link across spans."""
from __future__ import annotations

import hashlib
import re

from opentelemetry import trace

_TOKEN_IN_PATH = re.compile(r"(/sign/)([A-Za-z0-9_-]{20,128})")


def redacted(text: str) -> str:
    return _TOKEN_IN_PATH.sub(lambda m: m.group(1) + "sha256:" + hashlib.sha256(m.group(2).encode()).hexdigest()[:12],
                              text)


class TokenRedaction:
    """ASGI wrapper: rewrites the current server span's name and URL attributes."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        span = trace.get_current_span()
        if scope["type"] == "http" and span.is_recording():
            name = getattr(span, "name", "")
            if _TOKEN_IN_PATH.search(name):
                span.update_name(redacted(name))
            for key, value in dict(getattr(span, "attributes", None) or {}).items():
                if isinstance(value, str) and _TOKEN_IN_PATH.search(value):
                    span.set_attribute(key, redacted(value))
        await self.app(scope, receive, send)
