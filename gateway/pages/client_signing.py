"""Signing with the signer's own certificate in the browser (WebCrypto): a step of the
read-and-sign page for E_SIGN signers who hold their own certificate chain and key.

The page (``client_sign.html`` + ``client_sign.js``) reads the chain (PEM) and the private
key (PKCS#8, PEM or DER) from files the signer picks, imports the key into WebCrypto as
non-extractable and forgets the file's bytes: the key never leaves the browser. Then:
``POST …/client-sign/prepare`` (JSON: csrf, chain) prepares one signature per document
of every contract to sign with the session's intent token (PrepareSignContract) and
answers the bytes to sign; the browser signs each with the key (ECDSA P-256 or RSA PKCS#1 v1.5, SHA-256);
``POST …/client-sign/complete`` (JSON: csrf, signatures) has the contract service embed
them (CompleteSignContract) and ends the session as signed.

The same page session rules as the forms apply: its cookie, CSRF token, one action at a
time, the current step must be READ, forced reading holds the signature back. Answers are
JSON: ``{"preparations": [...]}``, ``{"next": url}`` or ``{"error": text}``.
"""
from __future__ import annotations

import base64
import binascii
import json
import time
from collections.abc import Awaitable, Callable

import grpc
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from gateway.pages.catalogue import texts
from gateway.pages.forms import Posted
from gateway.pages.handlers import Handlers
from gateway.pages.parts import Parts
from gateway.pages.problems import PageRefusal, Problem, problem_of
from gateway.pages.reading import seconds_left
from gateway.pages.rpc import Client
from gateway.pages.render import Renderer
from gateway.pages.sessions import COOKIE
from gateway.pages.steps import Step, steps_of

MAX_BODY = 256 * 1024  # a certificate chain, or one signature per contract
MAX_CHAIN = 64 * 1024
MAX_SIGNATURE = 1024  # RSA-4096 is 512 bytes
# Refusals after which the intent must be verified again (token spent, expired or stale).
_REVERIFY = {grpc.StatusCode.ABORTED, grpc.StatusCode.FAILED_PRECONDITION, grpc.StatusCode.PERMISSION_DENIED,
             grpc.StatusCode.UNAUTHENTICATED}

def _browser(request: Request) -> Client:
    return Client(request.client.host if request.client else "", request.headers.get("user-agent", ""))


def _b64(value: object, limit: int, field: str) -> bytes:
    if not isinstance(value, str) or len(value) > limit * 4 // 3 + 4:
        raise PageRefusal("error.INVALID_ARGUMENT", grpc.StatusCode.INVALID_ARGUMENT, detail=f"{field} is missing")
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise PageRefusal("error.INVALID_ARGUMENT", grpc.StatusCode.INVALID_ARGUMENT,
                          detail=f"{field} is not base64") from None


async def _json_body(request: Request) -> dict:
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_BODY:
        raise PageRefusal("error.INVALID_ARGUMENT", grpc.StatusCode.INVALID_ARGUMENT, http=413)
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY:
            raise PageRefusal("error.INVALID_ARGUMENT", grpc.StatusCode.INVALID_ARGUMENT, http=413)
        chunks.append(chunk)
    try:
        body = json.loads(b"".join(chunks) or b"{}")
    except ValueError:
        raise PageRefusal("error.INVALID_ARGUMENT", grpc.StatusCode.INVALID_ARGUMENT) from None
    if not isinstance(body, dict):
        raise PageRefusal("error.INVALID_ARGUMENT", grpc.StatusCode.INVALID_ARGUMENT)
    return body


async def _prepare(p: Posted, body: dict) -> dict:
    from econtract.contract.v1 import contract_pb2 as pb

    state = await _ready(p)
    chain = body.get("chain")
    if not isinstance(chain, str) or not chain.strip() or len(chain) > MAX_CHAIN:
        raise PageRefusal("error.INVALID_ARGUMENT", grpc.StatusCode.INVALID_ARGUMENT,
                          detail="certificateChain: choose the certificate chain file (PEM)")
    session, preparations = p.session, []
    for contract in state.to_sign:
        request = pb.PrepareSignContractRequest(contract_id=contract.contract_id, signer_id=session.signer_id,
                                                intent_token=session.intent_token, certificate_chain=[chain])
        reply = await _call(p, "PrepareSignContract", request, pb.PrepareSignContractResponse)
        preparations += [{"contractId": contract.contract_id, "preparationId": d.preparation_id,
                          "toBeSigned": base64.b64encode(d.to_be_signed).decode("ascii")} for d in reply.documents]
    return {"preparations": preparations}


async def _complete(p: Posted, body: dict) -> dict:
    from econtract.contract.v1 import contract_pb2 as pb

    state = await _ready(p)
    session = p.session
    given = body.get("signatures")
    by_contract: dict[str, list] = {}
    for entry in given if isinstance(given, list) else ():
        if isinstance(entry, dict) and isinstance(entry.get("preparationId"), str):
            by_contract.setdefault(entry.get("contractId"), []).append(pb.DocumentSignature(
                preparation_id=entry["preparationId"], signature=_b64(entry.get("signature"), MAX_SIGNATURE,
                                                                       "signature")))
    pending = [c.contract_id for c in state.to_sign]
    if set(by_contract) != set(pending):
        raise PageRefusal("error.INVALID_ARGUMENT", grpc.StatusCode.INVALID_ARGUMENT,
                          detail="signatures: the signatures of every document to sign are needed")
    for contract_id in pending:
        request = pb.CompleteSignContractRequest(contract_id=contract_id, signatures=by_contract[contract_id])
        await _call(p, "CompleteSignContract", request, pb.CompleteSignContractResponse)
    session.outcome = "SIGNED"
    session.forget_intent()
    return {}


async def _ready(p: Posted):
    """The READ step of an E_SIGN signer who has read long enough."""
    state = await p.expect(Step.READ)
    if p.session.sign_mode != "E_SIGN":
        raise PageRefusal("session.stale", http=409)
    left = seconds_left(p.config, p.session.read_started, p.now)
    if left > 0:
        raise PageRefusal("read.too_soon", seconds=left)
    return state


async def _call(p: Posted, method: str, request, response_type):
    try:
        return await p.parts.rpc.call("contract", method, request, response_type, client=p.client,
                                      app_id=p.session.app_id, slow=True, idempotent=False)
    except grpc.RpcError as exc:
        if exc.code() in _REVERIFY and method == "PrepareSignContract":
            p.session.forget_intent()
        raise


class ClientSigningPages:
    """The GET of the step's page and its two JSON POSTs."""

    def __init__(self, parts: Callable[[], Parts], renderer: Renderer, handlers: Handlers):
        self._parts = parts
        self._renderer = renderer
        self._handlers = handlers  # for the problem page

    async def page(self, request: Request) -> Response:
        parts, token = self._parts(), request.path_params["token"]
        base = f"/sign/{token}"
        session = await parts.sessions.find(request.cookies.get(COOKIE), token)
        if session is None:
            return self._handlers.problem_page(Problem("session.gone", 410, "session.gone.body"), "zh", base=base)
        try:
            state = await Posted(parts, session, {}, _browser(request), time.time()).expect(Step.READ)
            if session.sign_mode != "E_SIGN":
                raise PageRefusal("session.stale", http=409)
        except Exception as exc:  # noqa: BLE001 - the one error path: a friendly page
            return self._handlers.problem_page(problem_of(exc), session.lang, session, base)
        values = {**Handlers._frame(session.lang, session), "base": base, "csrf": session.csrf,
                  "step": Step.READ.value,
                  "steps": [s.value for s in steps_of(session.sign_mode)], "signer_name": state.signer.name,
                  "error": None}
        return self._renderer.render("client_sign.html", values, headers=Handlers._headers(session))

    async def prepare(self, request: Request) -> Response:
        return await self._post(request, _prepare)

    async def complete(self, request: Request) -> Response:
        return await self._post(request, _complete)

    async def _post(self, request: Request, action: Callable[[Posted, dict], Awaitable[dict]]) -> Response:
        parts, token, client = self._parts(), request.path_params["token"], _browser(request)
        sid, base = request.cookies.get(COOKIE), f"/sign/{token}"
        session = await parts.sessions.find(sid, token)
        if session is None:
            return _refused(Problem("session.gone", 410), "zh")
        try:
            body = await _json_body(request)
            if not session.csrf_matches(str(body.get("csrf", ""))):
                raise PageRefusal("session.stale", http=403)
            async with parts.sessions.lock(session):
                session = await parts.sessions.find(sid, token) or session
                try:
                    answer = await action(Posted(parts, session, body, client, time.time()), body)
                finally:
                    await parts.sessions.save(session)
        except Exception as exc:  # noqa: BLE001 - the one error path: told to the page's script
            return _refused(problem_of(exc), session.lang)
        return JSONResponse({**answer, "next": base} if action is _complete else answer)


def _refused(problem: Problem, lang: str) -> Response:
    t = texts(lang)
    text = t(problem.title, **problem.values)
    if problem.detail:
        text += f": {problem.detail}"
    if problem.trace:
        text += f" (trace {problem.trace})"
    return JSONResponse({"error": text}, status_code=problem.status)

