"""How the signing pages look and behave for one contract: the platform's defaults, under
the business line's settings (the app's ``signing_page``), under the contract template's
own override (the template's ``signing_page``), under the link's own redirect URL.

Both settings arrive in proto3-JSON form with the same field names; the template's carries
only the fields it sets, so laying it over the app's is a plain merge. Nothing here trusts
them blindly: a colour that is not ``#rrggbb`` falls back to the platform's, a redirect
that is not http(s) is dropped, numbers are clamped, so a careless setting can neither
break the page nor inject into its CSS.
"""
from __future__ import annotations

import enum
import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any
from urllib.parse import urlsplit

from core.origins import MAX_ORIGINS, is_origin

DEFAULT_THEME = "1677ff"
DEFAULT_DELAY = 3
MAX_DELAY = 60
MAX_READING = 600
_COLOUR = re.compile(r"^#?([0-9a-fA-F]{6})$")


class RedirectMode(enum.StrEnum):
    IMMEDIATE = "IMMEDIATE"
    DELAYED = "DELAYED"
    NONE = "NONE"


@dataclass(frozen=True)
class PageConfig:
    theme: str = DEFAULT_THEME  # six hex digits, no '#'
    show_reject: bool = False
    forced_reading: bool = False
    min_reading_seconds: int = 0
    success_text: str = ""  # empty: the platform's own text
    redirect_url: str = ""
    redirect_mode: RedirectMode = RedirectMode.NONE
    redirect_delay: int = DEFAULT_DELAY
    show_success_page: bool = True
    frame_ancestors: tuple[str, ...] = ()  # who may frame HEADLESS pages; empty = anyone

    def to_mapping(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> PageConfig:
        return cls(**{**data, "redirect_mode": RedirectMode(data["redirect_mode"]),
                      "frame_ancestors": tuple(data.get("frame_ancestors", ()))})


def is_web_url(url: str) -> bool:
    parts = urlsplit(url)
    return len(url) <= 2000 and parts.scheme in ("http", "https") and bool(parts.netloc)


def frame_origins(values: Any) -> tuple[str, ...]:
    """The well-formed origins of a ``frameAncestors`` list (lower case, no duplicates)."""
    if not isinstance(values, list):
        return ()
    found = dict.fromkeys(str(v).lower().rstrip("/") for v in values if is_origin(str(v)))
    return tuple(found)[:MAX_ORIGINS]


def _clamp(value: Any, high: int) -> int:
    try:
        return max(0, min(int(value), high))
    except (TypeError, ValueError):
        return 0


def page_config(
    signing_page: Mapping[str, Any], link_redirect_url: str = "", template_page: Mapping[str, Any] | None = None
) -> PageConfig:
    """The app's settings with the template's override over them (each field it sets wins),
    and the link's own redirect URL (from ``:signUrl``) over both."""
    signing_page = {**signing_page, **(template_page or {})}
    colour = _COLOUR.match(str(signing_page.get("themeColor", "")))
    url = link_redirect_url or str(signing_page.get("redirectUrl", ""))
    mode_name = str(signing_page.get("redirectMode", ""))
    if mode_name in RedirectMode.__members__:
        mode = RedirectMode(mode_name)
    else:
        # Unset: a business line that gave the link a redirect URL wants the signer back.
        mode = RedirectMode.DELAYED if link_redirect_url else RedirectMode.NONE
    delay = signing_page.get("redirectDelaySeconds")
    return PageConfig(
        theme=colour.group(1).lower() if colour else DEFAULT_THEME,
        show_reject=bool(signing_page.get("showReject", False)),
        forced_reading=bool(signing_page.get("forcedReading", False)),
        min_reading_seconds=_clamp(signing_page.get("minReadingSeconds", 0), MAX_READING),
        success_text=str(signing_page.get("successPage", ""))[:2000],
        redirect_url=url if is_web_url(url) else "",
        redirect_mode=mode,
        redirect_delay=DEFAULT_DELAY if delay is None else _clamp(delay, MAX_DELAY),
        show_success_page=bool(signing_page.get("showSuccessPage", True)),
        frame_ancestors=frame_origins(signing_page.get("frameAncestors", [])),
    )
