"""Where signed tree heads are pushed, so that the log's history is also held outside
the platform: an external ledger or blockchain, behind the ``TreeHeadLedger`` protocol.
``CONTRACT_EVIDENCE_LEDGER`` chooses one (``ledger_for``):

- ``file``: ``FileLedger``, an append-only JSON-lines file, one line per tree head (its
  signed JSON and timestamp token, base64). It reaches no network.
- ``http``: ``HttpLedger``, for a ledger (or a gateway to a blockchain) that speaks the
  protocol below.
- ``none``: tree heads stay in the platform.

The HTTP ledger protocol (version 1). Each tree head is one request::

    POST <CONTRACT_EVIDENCE_LEDGER_URL>
    Content-Type: application/json
    Idempotency-Key: <logId>:<treeSize>
    Authorization: Bearer <CONTRACT_EVIDENCE_LEDGER_TOKEN>      (only when one is set)
    traceparent: <W3C trace context of the push's span>           (when traced)

    {"version": 1, "logId": "…", "treeSize": 42, "rootHash": "<hex>",
     "treeHead": "<base64 of the signed tree head's exact JSON bytes>",
     "treeHeadSha256": "<hex SHA-256 of those bytes>",
     "timestampToken": "<base64 of the RFC 3161 token over those bytes>"}

The ledger answers 200 or 201 with ``{"receipt": "…"}``: its own name for the entry (a
transaction id, a sequence number), at most 500 characters, kept with the tree head.
The same ``Idempotency-Key`` may come again (the platform stopped between the push and
recording the receipt): the ledger answers with the receipt it gave the first time.
Any other answer is a failure; the tree head is pushed again at the next run, and tree
heads are pushed in order of size, so a ledger never sees size n+1 before n.
"""
from __future__ import annotations

import base64
import hashlib
import json
import os
import threading
import urllib.error
import urllib.request
from pathlib import Path
from typing import TYPE_CHECKING, Protocol
from urllib.parse import urlsplit

from services.contract.evidence_formats import canonical_json, parse_tree_head

if TYPE_CHECKING:
    from services.contract.schedule_config import ScheduleConfig

MAX_ANSWER = 64 * 1024
MAX_RECEIPT = 500


class TreeHeadLedger(Protocol):
    name: str

    def publish(self, tree_size: int, head_json: bytes, timestamp_token: bytes) -> str:
        """Record the tree head; a receipt naming where (kept with the tree head)."""
        ...


class FileLedger:
    """A fake external ledger: appends each tree head as a line of ``path``."""

    name = "file"

    def __init__(self, path: Path):
        self._path = path
        self._lock = threading.Lock()

    def publish(self, tree_size: int, head_json: bytes, timestamp_token: bytes) -> str:
        line = json.dumps({"treeSize": tree_size, "treeHead": base64.b64encode(head_json).decode("ascii"),
                           "timestampToken": base64.b64encode(timestamp_token).decode("ascii")},
                          separators=(",", ":")).encode("utf-8") + b"\n"
        self._path.parent.mkdir(parents=True, exist_ok=True)
        with self._lock, open(self._path, "ab") as out:
            out.write(line)
            out.flush()
            os.fsync(out.fileno())
        return f"file:{self._path.name}#sha256={hashlib.sha256(line).hexdigest()}"

    def entries(self) -> list[dict]:
        if not self._path.exists():
            return []
        return [json.loads(line) for line in self._path.read_text("utf-8").splitlines() if line]


class LedgerError(Exception):
    """The ledger did not take the tree head; the message says why (never the token)."""


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None  # a redirect is a failed push: the tree head is not re-sent to another address


class HttpLedger:
    """Pushes each tree head to an external ledger over HTTP (the protocol above), in a
    client span of its own when given a tracer, with the W3C trace context in the request."""

    name = "http"

    def __init__(self, url: str, *, token: str = "", timeout: float = 10.0, tracer=None):
        self._url = url
        self._token = token
        self._timeout = timeout
        self._tracer = tracer
        self._opener = urllib.request.build_opener(_NoRedirect)
        parts = urlsplit(url)
        self._host, self._path = parts.hostname or "", parts.path or "/"
        # Named in receipts, errors and spans without credentials or query, which may hold secrets.
        self.where = f"{parts.scheme}://{self._host}{f':{parts.port}' if parts.port else ''}{self._path}"

    def publish(self, tree_size: int, head_json: bytes, timestamp_token: bytes) -> str:
        if self._tracer is None:
            return self._publish(tree_size, head_json, timestamp_token, None)
        from opentelemetry.trace import SpanKind

        attributes = {"http.request.method": "POST", "server.address": self._host, "url.path": self._path,
                      "evidence.tree_size": tree_size}
        with self._tracer.start_as_current_span("ledger.publish", kind=SpanKind.CLIENT, attributes=attributes) as span:
            return self._publish(tree_size, head_json, timestamp_token, span)

    def _publish(self, tree_size: int, head_json: bytes, timestamp_token: bytes, span) -> str:
        from opentelemetry import propagate

        head = parse_tree_head(head_json)
        body = canonical_json({
            "version": 1, "logId": head.log_id, "treeSize": tree_size, "rootHash": head.root_hash,
            "treeHead": base64.b64encode(head_json).decode("ascii"),
            "treeHeadSha256": hashlib.sha256(head_json).hexdigest(),
            "timestampToken": base64.b64encode(timestamp_token).decode("ascii"),
        })
        headers = {"Content-Type": "application/json", "Accept": "application/json",
                   "Idempotency-Key": f"{head.log_id}:{tree_size}"}
        propagate.inject(headers)  # traceparent, when there is a current span
        if self._token:
            headers["Authorization"] = f"Bearer {self._token}"
        request = urllib.request.Request(self._url, data=body, headers=headers, method="POST")
        try:
            with self._opener.open(request, timeout=self._timeout) as response:
                status, answer = response.status, response.read(MAX_ANSWER)
        except urllib.error.HTTPError as exc:
            if span is not None:
                span.set_attribute("http.response.status_code", exc.code)
            raise LedgerError(f"the ledger at {self.where} answered HTTP {exc.code} to tree head {tree_size}") from None
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise LedgerError(f"the ledger at {self.where} cannot be reached: {reason}") from None
        if span is not None:
            span.set_attribute("http.response.status_code", status)
        if status not in (200, 201):
            raise LedgerError(f"the ledger at {self.where} answered HTTP {status} to tree head {tree_size}")
        try:
            receipt = json.loads(answer)["receipt"]
        except (ValueError, KeyError, TypeError):
            receipt = None
        if not isinstance(receipt, str) or not receipt.strip() or len(receipt) > MAX_RECEIPT:
            raise LedgerError(f"the ledger at {self.where} answered without a receipt "
                              f'({{"receipt": "…"}}, at most {MAX_RECEIPT} characters)')
        return f"http:{self.where}#{receipt.strip()}"


def ledger_for(schedule: ScheduleConfig, *, tracer=None) -> TreeHeadLedger | None:
    """The ledger the configuration chooses (None: tree heads are not pushed)."""
    if schedule.ledger == "http":
        return HttpLedger(schedule.ledger_url, token=schedule.ledger_token, timeout=schedule.ledger_timeout_seconds,
                          tracer=tracer)
    if schedule.ledger == "file" and schedule.ledger_file is not None:
        return FileLedger(schedule.ledger_file)
    return None
