"""A signer's browser without a browser: an httpx client that keeps the page cookie and
reads the CSRF token and texts out of the pages."""
from __future__ import annotations

import re
import time
from urllib.parse import urlencode, urlsplit

import httpx

from tests.integration.contract.helpers import ok
from tests.support.signed import SignedClient

_CSRF = re.compile(r'name="csrf" value="([^"]+)"')


class Signer:
    def __init__(self, url: str):
        parts = urlsplit(url)
        self.base = parts.path
        self.http = httpx.Client(base_url=f"{parts.scheme}://{parts.netloc}", timeout=120.0, follow_redirects=True)
        self.page = self.http.get(self.base)

    @property
    def csrf(self) -> str:
        found = _CSRF.search(self.page.text)
        assert found, self.page.text
        return found.group(1)

    def post(self, action: str, **fields: str) -> httpx.Response:
        self.page = self.http.post(f"{self.base}/{action}", data={"csrf": self.csrf, **fields})
        return self.page

    def close(self) -> None:
        self.http.close()


def code_for(client: SignedClient, recipient: str) -> str:
    """The newest one-time code sent to ``recipient`` (the dev outbox)."""
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        messages = ok(client.get("/v1/dev/outbox?" + urlencode({"recipient": recipient}))).get("messages", [])
        if messages and messages[0].get("code"):
            return messages[0]["code"]
        time.sleep(0.2)
    raise AssertionError(f"no code for {recipient} in the dev outbox")
