"""The way back to the business line after the signer finished, carrying the outcome."""
from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from gateway.pages.page_config import PageConfig, RedirectMode


@dataclass(frozen=True)
class Redirect:
    url: str  # empty: the signer stays on the success page
    delay: int  # seconds the success page shows first; 0 = at once, no success page


def outcome_url(base: str, contract_id: str, signer_id: str, status: str) -> str:
    """``base`` with ``contractId``, ``signerId`` and ``status`` added to its query (others kept)."""
    parts = urlsplit(base)
    outcome = {"contractId": contract_id, "signerId": signer_id, "status": status}
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k not in outcome]
    return urlunsplit(parts._replace(query=urlencode(query + list(outcome.items()))))


def plan(config: PageConfig, contract_id: str, signer_id: str, status: str) -> Redirect:
    if not config.redirect_url or config.redirect_mode is RedirectMode.NONE:
        return Redirect("", 0)
    url = outcome_url(config.redirect_url, contract_id, signer_id, status)
    if config.redirect_mode is RedirectMode.IMMEDIATE or not config.show_success_page:
        return Redirect(url, 0)
    return Redirect(url, config.redirect_delay)


def origin(url: str) -> str:
    """``scheme://host[:port]`` of a URL, for the page's CSP ``form-action``."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}" if parts.scheme and parts.netloc else ""
