"""Shared steps of the template integration tests."""
from __future__ import annotations

import base64
import secrets
from urllib.parse import urlencode

import httpx

from tests.support.signed import SignedClient

LOAN_SIGNERS = [
    {"role": "lender", "kind": "ORG", "positions": [{"keyword": "甲方（盖章）"}], "ridingSeal": True},
    {
        "role": "borrower",
        "kind": "PERSON",
        "positions": [{"keyword": "乙方（签字）", "x": 60, "y": -10}, {"page": 1, "x": 400, "y": 120}],
        "datePosition": {"keyword": "乙方（签字）", "x": 60, "y": -40},
    },
]


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def query(path: str, **params) -> str:
    """``path`` with its query percent-encoded, as sent on the wire (and signed)."""
    return f"{path}?{urlencode(params)}" if params else path


def unique(name: str) -> str:
    """A name no other test (or earlier run on the same database) uses."""
    return f"{name}-{secrets.token_hex(4)}"


def create(client: SignedClient, docx: bytes, *, name: str = "", group: str = "", signers=None) -> httpx.Response:
    body = {"name": name or unique("模板"), "docx": b64(docx), "signers": LOAN_SIGNERS if signers is None else signers}
    if group:
        body["group"] = group
    return client.post("/v1/templates", body)


def created(client: SignedClient, docx: bytes, **kw) -> dict:
    reply = create(client, docx, **kw)
    assert reply.status_code == 200, reply.text
    return reply.json()


def error(reply: httpx.Response, http: int, code: int) -> dict:
    assert reply.status_code == http, reply.text
    body = reply.json()
    assert body["code"] == code, body
    return body


def violations(body: dict) -> dict[str, str]:
    return {
        v["field"]: v["description"]
        for d in body["details"]
        if d["@type"].endswith("google.rpc.BadRequest")
        for v in d["fieldViolations"]
    }
