"""A business line's REST client: signs every request exactly as API.md describes."""
from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import time

import httpx


def sign_headers(app_id: str, secret: str, method: str, path_with_query: str, body: bytes,
                 timestamp: int | None = None, nonce: str | None = None) -> dict[str, str]:
    timestamp = int(time.time()) if timestamp is None else timestamp
    nonce = nonce or secrets.token_hex(12)
    canonical = "\n".join([method.upper(), path_with_query, str(timestamp), nonce, hashlib.sha256(body).hexdigest()])
    return {
        "X-App-Id": app_id,
        "X-Timestamp": str(timestamp),
        "X-Nonce": nonce,
        "X-Signature": hmac.new(secret.encode(), canonical.encode(), hashlib.sha256).hexdigest(),
    }


class SignedClient:
    def __init__(self, base_url: str, app_id: str, secret: str, timeout: float = 30.0):
        self.http = httpx.Client(base_url=base_url, timeout=timeout)
        self.app_id = app_id
        self.secret = secret

    def request(self, method: str, path: str, body=None, *, raw: bytes | None = None, headers=None, **sign) -> httpx.Response:
        data = raw if raw is not None else (json.dumps(body).encode() if body is not None else b"")
        signed = sign_headers(self.app_id, self.secret, method, path, data, **sign)
        return self.http.request(method, path, content=data,
                                 headers={**signed, "Content-Type": "application/json", **(headers or {})})

    def get(self, path: str, **kw) -> httpx.Response:
        return self.request("GET", path, **kw)

    def post(self, path: str, body=None, **kw) -> httpx.Response:
        return self.request("POST", path, body, **kw)

    def close(self) -> None:
        self.http.close()


class AppClients:
    """Signed clients of apps created for a test, one app each, all closed by ``close``."""

    def __init__(self, base_url: str, apps, timeout: float = 60.0):
        self._base_url = base_url
        self._apps = apps  # services.identity.apps.Apps
        self._timeout = timeout
        self._made: list[SignedClient] = []

    def new(self, name: str, scopes: list[str]) -> SignedClient:
        created = self._apps.create(name, scopes)
        client = SignedClient(self._base_url, created.app.app_id, created.secret, timeout=self._timeout)
        self._made.append(client)
        return client

    def close(self) -> None:
        for client in self._made:
            client.close()
