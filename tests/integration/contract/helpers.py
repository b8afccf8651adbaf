"""Shared steps of the contract integration tests: REST calls as a business line makes
them, well-formed identifiers, the intent flow through the dev outbox, and restarting
the in-process contract service with another configuration."""
from __future__ import annotations

import base64
import datetime as dt
import secrets
import time
from typing import Any
from urllib.parse import urlencode

import httpx

from core.service import ServiceContext, start
from core.settings import load
from services.contract.config import ContractConfig
from services.contract.server import register, register_with
from services.identity.idnumbers import credit_check_char, id_check_char, organisation_check_char
from tests.fixtures.docx_fixtures import loan_contract_data
from tests.support.signed import SignedClient

LOAN_ROLES = [
    {"role": "lender", "kind": "ORG", "positions": [{"keyword": "甲方（盖章）"}]},
    {"role": "borrower", "kind": "PERSON", "positions": [{"page": 3, "x": 400, "y": 120}]},
]


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def rest_data(value: Any) -> Any:
    """Fill data as JSON carries it: bytes (images) as base64."""
    if isinstance(value, bytes):
        return b64(value)
    if isinstance(value, dict):
        return {k: rest_data(v) for k, v in value.items()}
    if isinstance(value, list):
        return [rest_data(v) for v in value]
    return value


def loan_data() -> dict:
    return rest_data(loan_contract_data())


def random_id_number() -> str:
    birth = dt.date(1960, 1, 1) + dt.timedelta(days=secrets.randbelow(15000))
    first17 = "110101" + birth.strftime("%Y%m%d") + f"{secrets.randbelow(1000):03d}"
    return first17 + id_check_char(first17)


def random_credit_code() -> str:
    body = "".join(secrets.choice("0123456789") for _ in range(8))
    first17 = "91350100" + body + organisation_check_char(body)
    return first17 + credit_check_char(first17)


def random_mobile() -> str:
    return "139" + "".join(secrets.choice("0123456789") for _ in range(8))


def ok(reply: httpx.Response) -> dict:
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
        for d in body.get("details", [])
        if d["@type"].endswith("google.rpc.BadRequest")
        for v in d["fieldViolations"]
    }


def lender(order: int = 1, **extra) -> dict:
    return {"role": "lender", "kind": "ORG", "name": "某某科技有限公司",
            "subject": {"idType": "USCC", "id": random_credit_code()}, "mobile": random_mobile(),
            "email": f"legal{secrets.token_hex(3)}@example.com", "signMode": "E_SIGN", "order": order, **extra}


def borrower(order: int = 2, **extra) -> dict:
    return {"role": "borrower", "kind": "PERSON", "name": "张三",
            "subject": {"idType": "ID_CARD", "id": random_id_number()}, "mobile": random_mobile(),
            "email": f"borrower{secrets.token_hex(3)}@example.com", "signMode": "E_SIGN", "order": order, **extra}


def contract_body(template_id: str, *, signers: list[dict] | None = None, **extra) -> dict:
    body = {"templateId": template_id, "title": "借款合同-张三", "bizNo": "LOAN-" + secrets.token_hex(6),
            "data": loan_data(), "signers": signers if signers is not None else [lender(), borrower()]}
    body.update(extra)
    return body


def create_contract(client: SignedClient, template_id: str, **kw) -> dict:
    return ok(client.post("/v1/contracts", contract_body(template_id, **kw)))


def approved_template(uploader: SignedClient, reviewer: SignedClient, docx: bytes, roles=None) -> dict:
    created = ok(uploader.post("/v1/templates", {"name": "个人借款合同-" + secrets.token_hex(3), "group": "loans",
                                                 "docx": b64(docx), "signers": roles or LOAN_ROLES}))
    ok(reviewer.post(f"/v1/templates/{created['templateId']}/versions/{created['version']}:approve", {"comment": "ok"}))
    return created


def signer_of(contract: dict, role: str) -> dict:
    return next(s for s in contract["signers"] if s["role"] == role)


def intent_token(client: SignedClient, signer_id: str, contract_ids: list[str], recipient: str, method: str = "SMS") -> str:
    """Start an intent (SMS to a mobile, or EMAIL), read the code from the dev outbox,
    confirm it: the intent token. A recipient gets one code a minute."""
    started = ok(client.post("/v1/intents", {"signerId": signer_id, "contractIds": contract_ids, "method": method}))
    challenge = started["challengeId"]
    deadline = time.monotonic() + 10
    while True:
        outbox = ok(client.get("/v1/dev/outbox?" + urlencode({"recipient": recipient})))
        codes = [m["code"] for m in outbox.get("messages", []) if m.get("challengeId") == challenge]
        if codes:
            break
        assert time.monotonic() < deadline, outbox
        time.sleep(0.1)
    return ok(client.post(f"/v1/intents/{challenge}:confirm", {"code": codes[0]}))["intentToken"]


def sign(client: SignedClient, contract_id: str, signer_id: str, token: str) -> httpx.Response:
    return client.post(f"/v1/contracts/{contract_id}:sign", {"signerId": signer_id, "intentToken": token})


def sign_as(client: SignedClient, contract: dict, role: str) -> dict:
    signer = signer_of(contract, role)
    token = intent_token(client, signer["signerId"], [contract["contractId"]], signer["mobile"])
    return ok(sign(client, contract["contractId"], signer["signerId"], token))


class ContractServer:
    """Replaces the mesh's in-process contract service (same address) with another
    configuration, or simulates a crash and a restart."""

    def __init__(self, mesh):
        self.mesh = mesh

    def stop(self) -> None:
        self.mesh.servers["contract"].stop()
        self.mesh.contexts["contract"].close()

    def start(self, *, signing_addr: str | None = None, config: ContractConfig | None = None) -> ServiceContext:
        env = dict(self.mesh.env)
        if signing_addr:
            env["SIGNING_ADDR"] = signing_addr
        ctx = ServiceContext(load("contract", env), self.mesh.provider)
        wiring = register if config is None else (lambda server, c: register_with(server, c, config))
        self.mesh.contexts["contract"] = ctx
        self.mesh.servers["contract"] = start(ctx, wiring)
        self._wait_until_reachable()
        return ctx

    def restart(self, **kw) -> ServiceContext:
        self.stop()
        return self.start(**kw)

    @property
    def ctx(self) -> ServiceContext:
        return self.mesh.contexts["contract"]

    def _wait_until_reachable(self) -> None:
        # The gateway's and identity's channels reconnect with a short backoff; wait for it.
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                report = httpx.get(self.mesh.base_url + "/healthz", timeout=5).json()
                if report["services"].get("contract") == "SERVING":
                    time.sleep(0.3)
                    return
            except (httpx.HTTPError, ValueError, KeyError):
                pass
            time.sleep(0.1)
        raise RuntimeError("the restarted contract service did not become reachable")
