"""Signed JSON-over-HTTPS calls to outside providers (real-name checks, SMS).

Every provider adapter in this service speaks the same request signing, modelled on the
platform's own business-line authentication (API.md):

    POST {base_url}{path}
    Content-Type: application/json; charset=utf-8
    X-App-Key:    the app key the provider issued
    X-Timestamp:  unix seconds
    X-Nonce:      32 random hex characters, fresh for every attempt
    X-Signature:  lowercase hex HMAC-SHA256(app_secret, canonical)

    canonical = "POST" + "\\n" + path + "\\n" + X-Timestamp + "\\n" + X-Nonce + "\\n"
                + lowercase hex SHA-256 of the raw body

Answers are JSON objects. Timeouts are bounded on every phase. Only failures where the
request cannot have had an effect, or the provider said it failed (connection refused or
timed out while connecting, HTTP 5xx), are retried, a bounded number of times with jittered
backoff; a read timeout is not retried because the provider may already have acted (and
charged). Errors come out as domain errors with masked messages, never as httpx exceptions.
"""
from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx
from tenacity import Retrying, retry_if_exception, stop_after_attempt, wait_exponential_jitter

from core.errors import FailedPrecondition, ResourceExhausted, Unavailable
from services.identity.masking import mask_text


@dataclass(frozen=True)
class ProviderEndpoint:
    """Where a provider lives and how hard to try. Secrets come from settings, not code."""

    base_url: str
    app_key: str
    app_secret: str
    connect_timeout: float = 3.0
    read_timeout: float = 5.0
    attempts: int = 3
    backoff_initial: float = 0.2
    backoff_max: float = 2.0
    allow_insecure_http: bool = False  # plain http, for loopback test servers only

    def __post_init__(self) -> None:
        parts = urlsplit(self.base_url)
        if parts.scheme not in ("https", "http") or not parts.netloc:
            raise ValueError(f"provider base_url must be an absolute https URL, got {self.base_url!r}")
        if parts.scheme == "http" and not self.allow_insecure_http:
            raise ValueError("provider base_url must use https (allow_insecure_http is for local tests only)")
        if not self.app_key or not self.app_secret:
            raise ValueError("provider app_key and app_secret must be set")
        if self.attempts < 1 or self.connect_timeout <= 0 or self.read_timeout <= 0:
            raise ValueError("provider attempts and timeouts must be positive")


def canonical_request(method: str, path: str, timestamp: str, nonce: str, body: bytes) -> bytes:
    """The string a provider request signature covers."""
    return "\n".join([method, path, timestamp, nonce, hashlib.sha256(body).hexdigest()]).encode()


def sign_request(secret: str, canonical: bytes) -> str:
    return hmac.new(secret.encode(), canonical, hashlib.sha256).hexdigest()


class _ServerError(Exception):
    """A 5xx answer: the provider failed, so another attempt is worth it."""

    def __init__(self, status: int, body: str):
        super().__init__(f"HTTP {status}")
        self.status = status
        self.body = body


def _retryable(exc: BaseException) -> bool:
    return isinstance(exc, (httpx.ConnectError, httpx.ConnectTimeout, _ServerError))


@dataclass(frozen=True)
class ProviderResponse:
    status: int
    body: dict[str, Any]
    raw: bytes


class SignedJsonClient:
    """Posts signed JSON to one provider. Pass an ``httpx.Client`` to share a pool."""

    def __init__(
        self,
        endpoint: ProviderEndpoint,
        provider_name: str,
        client: httpx.Client | None = None,
        clock: Callable[[], float] = time.time,
    ):
        self._endpoint = endpoint
        self._name = provider_name
        self._clock = clock
        self._owns_client = client is None
        self._client = client or httpx.Client(follow_redirects=False)
        self._timeout = httpx.Timeout(
            connect=endpoint.connect_timeout,
            read=endpoint.read_timeout,
            write=endpoint.read_timeout,
            pool=endpoint.connect_timeout,
        )

    def close(self) -> None:
        if self._owns_client:
            self._client.close()

    def post(self, path: str, payload: Mapping[str, Any]) -> ProviderResponse:
        """POST ``payload``; returns the 2xx answer or raises a domain error."""
        body = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()
        retrying = Retrying(
            stop=stop_after_attempt(self._endpoint.attempts),
            wait=wait_exponential_jitter(
                multiplier=self._endpoint.backoff_initial,
                jitter=self._endpoint.backoff_initial,
                max=self._endpoint.backoff_max,
            ),
            retry=retry_if_exception(_retryable),
            reraise=True,
        )
        try:
            for attempt in retrying:
                with attempt:
                    response = self._send_once(path, body)
        except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
            raise Unavailable(f"{self._name} provider is unreachable: {type(exc).__name__}") from exc
        except _ServerError as exc:
            raise Unavailable(f"{self._name} provider failed with HTTP {exc.status}: {mask_text(exc.body[:200])}") from exc
        except httpx.TimeoutException as exc:
            raise Unavailable(f"{self._name} provider timed out: {type(exc).__name__}") from exc
        except httpx.HTTPError as exc:
            raise Unavailable(f"{self._name} provider call failed: {type(exc).__name__}") from exc
        return self._interpret(response)

    def _send_once(self, path: str, body: bytes) -> httpx.Response:
        # A fresh timestamp and nonce per attempt: a retried request must not look like a replay.
        timestamp = str(int(self._clock()))
        nonce = secrets.token_hex(16)
        signature = sign_request(self._endpoint.app_secret, canonical_request("POST", path, timestamp, nonce, body))
        response = self._client.post(
            self._endpoint.base_url.rstrip("/") + path,
            content=body,
            headers={
                "Content-Type": "application/json; charset=utf-8",
                "X-App-Key": self._endpoint.app_key,
                "X-Timestamp": timestamp,
                "X-Nonce": nonce,
                "X-Signature": signature,
            },
            timeout=self._timeout,
        )
        if response.status_code >= 500:
            raise _ServerError(response.status_code, response.text)
        return response

    def _interpret(self, response: httpx.Response) -> ProviderResponse:
        status = response.status_code
        text = mask_text(response.text[:200])
        if status == 429:
            raise ResourceExhausted(f"{self._name} provider rate limit reached: {text}")
        if status in (401, 403):
            raise FailedPrecondition(
                f"{self._name} provider refused our credentials (HTTP {status}); check the app key and secret"
            )
        if not 200 <= status < 300:
            raise FailedPrecondition(f"{self._name} provider refused the request (HTTP {status}): {text}")
        try:
            parsed = json.loads(response.content)
        except ValueError as exc:
            raise Unavailable(f"{self._name} provider answered with malformed JSON") from exc
        if not isinstance(parsed, dict):
            raise Unavailable(f"{self._name} provider answered with a JSON {type(parsed).__name__}, not an object")
        return ProviderResponse(status, parsed, response.content)
