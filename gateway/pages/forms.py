"""What each form POST does: check the step and the fields, call the services, move the
page session on. Every refusal raises; the handler shows it next to the form."""
from __future__ import annotations

import base64
import binascii
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import grpc

from gateway.pages import actions, intents
from gateway.pages.catalogue import texts
from gateway.pages.page_config import PageConfig
from gateway.pages.parts import Parts
from gateway.pages.problems import PageRefusal
from gateway.pages.reading import seconds_left, seconds_read
from gateway.pages.rpc import Client
from gateway.pages.sessions import PageSession
from gateway.pages.signing_state import SigningState, signing_state
from gateway.pages.steps import Step, check_signable, current_step
from gateway.pages.views import offered

MAX_REASON = 500
MAX_HANDWRITING = 2 * 1024 * 1024
MAX_PHOTO = 8 * 1024 * 1024
PNG = b"\x89PNG\r\n\x1a\n"
# A signature refused for these reasons needs a fresh intent verification (token spent,
# expired, or bound to documents that changed meanwhile).
_REVERIFY = {grpc.StatusCode.ABORTED, grpc.StatusCode.FAILED_PRECONDITION, grpc.StatusCode.PERMISSION_DENIED,
             grpc.StatusCode.UNAUTHENTICATED}


@dataclass
class Posted:
    parts: Parts
    session: PageSession
    form: dict[str, str]
    client: Client
    now: float
    _state: SigningState | None = field(default=None, repr=False)

    @property
    def config(self) -> PageConfig:
        return PageConfig.from_mapping(self.session.config)

    async def expect(self, *steps: Step) -> SigningState:
        """The contracts' state, refusing a POST that does not belong to the current step."""
        session = self.session
        if session.outcome:
            raise PageRefusal("session.stale", http=409)
        self._state = await signing_state(self.parts.rpc, session.app_id, session.signer_id, session.contract_ids,
                                          self.client)
        check_signable(self._state)
        if current_step(session, self._state, self.now) not in steps:
            raise PageRefusal("session.stale", http=409)
        return self._state


def _invalid(key: str, **values: object) -> PageRefusal:
    return PageRefusal(key, grpc.StatusCode.INVALID_ARGUMENT, **values)


def _data_url(value: str, limit: int) -> bytes:
    """The bytes of a ``data:…;base64,`` URL that the page's script filled in."""
    _head, comma, encoded = value.partition(",")
    if not comma or len(encoded) > limit * 4 // 3 + 4:
        return b""
    try:
        return base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        return b""


async def consent(p: Posted) -> None:
    state = await p.expect(Step.CONSENT)
    if p.form.get("agree") != "on":
        raise _invalid("consent.unchecked")
    t = texts(p.session.lang)
    text = t("consent.body", name=state.signer.name) + "\n" + t("consent.check")
    await actions.consent(p.parts.rpc, p.session.app_id, p.session.signer_id,
                          [c.contract_id for c in state.to_sign], text, p.client)
    p.session.consented = True


async def start_intent(p: Posted) -> None:
    state = await p.expect(Step.INTENT)
    method = p.form.get("method", "")
    if p.session.intent_token and p.now >= p.session.intent_expires:
        p.session.forget_intent()  # earlier confirmations expired: the signer starts over
    if method not in offered(p.session, state):
        raise _invalid("intent.bad_method")
    # An organisation's face check is taken by the person the signer names (legal representative or agent).
    person = (p.form.get("face_id_number", "").strip()[:32], p.form.get("face_name", "").strip()[:64])
    p.session.challenge = await intents.start(p.parts.rpc, p.session.app_id, p.session.signer_id,
                                              [c.contract_id for c in state.to_sign], method, p.client,
                                              face_person=person if method == "FACE" and state.signer.kind == "ORG" else None)


async def resend_code(p: Posted) -> None:
    await p.expect(Step.INTENT)
    challenge = p.session.challenge
    if challenge is None or challenge.method == "FACE":
        raise PageRefusal("session.stale", http=409)
    p.session.challenge = await intents.resend(p.parts.rpc, p.session.app_id, challenge, p.client)


async def confirm_code(p: Posted) -> None:
    await p.expect(Step.INTENT)
    code = p.form.get("code", "").strip()
    if p.session.challenge is None:
        raise PageRefusal("session.stale", http=409)
    if not code or len(code) > 16:
        raise _invalid("intent.no_code")
    _confirmed(p, await intents.confirm(p.parts.rpc, p.session.app_id, p.session.challenge, p.client, code=code,
                                        prior=p.session.intent_token))


async def confirm_face(p: Posted) -> None:
    await p.expect(Step.INTENT)
    photo = _data_url(p.form.get("photo", ""), MAX_PHOTO)
    if p.session.challenge is None or p.session.challenge.method != "FACE":
        raise PageRefusal("session.stale", http=409)
    if not photo:
        raise _invalid("intent.no_photo")
    _confirmed(p, await intents.confirm(p.parts.rpc, p.session.app_id, p.session.challenge, p.client, face=photo,
                                        prior=p.session.intent_token))


def _confirmed(p: Posted, token: intents.IntentToken) -> None:
    p.session.challenge = None
    p.session.intent_token, p.session.intent_expires = token.token, token.expires_at
    p.session.intent_methods, p.session.intent_missing = list(token.methods), list(token.missing)


def _check_reading(p: Posted) -> None:
    left = seconds_left(p.config, p.session.read_started, p.now)
    if left > 0:
        raise PageRefusal("read.too_soon", seconds=left)


def _appearance(p: Posted, seal_ids: set[str]) -> tuple[str, bytes]:
    choice = p.form.get("appearance", "default")
    if choice == "handwriting":
        image = _data_url(p.form.get("handwriting", ""), MAX_HANDWRITING)
        if not image.startswith(PNG):
            raise _invalid("sign.no_handwriting")
        return "", image
    if choice.startswith("seal:") and choice[5:] in seal_ids:
        return choice[5:], b""
    if choice == "default" and not seal_ids:
        return "", b""
    raise _invalid("sign.bad_seal")


async def sign(p: Posted) -> None:
    state = await p.expect(Step.READ)
    if p.session.sign_mode != "E_SIGN":
        raise PageRefusal("session.stale", http=409)
    _check_reading(p)
    session, rpc = p.session, p.parts.rpc
    seals = await actions.seals(rpc, session.app_id, state.signer, p.client)
    seal_id, handwriting = _appearance(p, {s.seal_id for s in seals})
    for contract in state.to_sign:
        try:
            await actions.sign(rpc, session.app_id, contract.contract_id, session.signer_id, session.intent_token,
                               p.client, seal_id=seal_id, handwriting=handwriting)
        except grpc.RpcError as exc:
            if exc.code() in _REVERIFY:
                session.forget_intent()
            raise
    session.outcome = "SIGNED"
    session.forget_intent()


async def agree(p: Posted) -> None:
    state = await p.expect(Step.READ)
    if p.session.sign_mode != "AGREEMENT":
        raise PageRefusal("session.stale", http=409)
    if p.form.get("agree") != "on":
        raise _invalid("agree.unchecked")
    _check_reading(p)
    session = p.session
    checkbox = texts(session.lang)("agree.check")
    for contract in state.to_sign:
        await actions.agree(p.parts.rpc, session.app_id, contract.contract_id, session.signer_id, p.client,
                            reading_seconds=seconds_read(session.read_started, p.now), checkbox_text=checkbox,
                            page_url=p.parts.public_url + "/sign/")  # the link's token stays out of the evidence
    session.outcome = "SIGNED"


async def reject(p: Posted) -> None:
    state = await p.expect(Step.CONSENT, Step.INTENT, Step.READ)
    if not p.config.show_reject:
        raise PageRefusal("error.PERMISSION_DENIED", grpc.StatusCode.PERMISSION_DENIED)
    reason = p.form.get("reason", "").strip()
    if not reason or len(reason) > MAX_REASON:
        raise _invalid("reject.no_reason")
    for contract in state.to_sign:
        await actions.reject(p.parts.rpc, p.session.app_id, contract.contract_id, p.session.signer_id, reason, p.client)
    p.session.outcome = "REJECTED"
    p.session.forget_intent()


FORMS: dict[str, Callable[[Posted], Awaitable[None]]] = {
    "consent": consent,
    "intent": start_intent,
    "intent/resend": resend_code,
    "intent/confirm": confirm_code,
    "intent/face": confirm_face,
    "sign": sign,
    "agree": agree,
    "reject": reject,
}
