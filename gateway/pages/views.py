"""What each step's page shows: the template and its values (handlers add the frame)."""
from __future__ import annotations

import math
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from gateway.pages import actions
from gateway.pages.catalogue import texts
from gateway.pages.intent_methods import mask_email, mask_mobile, offered_methods
from gateway.pages.page_config import PageConfig
from gateway.pages.parts import Parts
from gateway.pages.problems import PageRefusal
from gateway.pages.reading import seconds_left
from gateway.pages.redirects import plan
from gateway.pages.rpc import Client
from gateway.pages.sessions import PageSession
from gateway.pages.signing_state import SigningState
from gateway.pages.steps import Step


@dataclass(frozen=True)
class View:
    template: str
    values: dict = field(default_factory=dict)
    redirect: str = ""  # go here instead of showing a page


def offered(session: PageSession, state: SigningState) -> tuple[str, ...]:
    signer = state.signer
    return offered_methods(session.policy, kind=signer.kind, amounts=[c.amount for c in state.to_sign],
                           mobile=signer.mobile, email=signer.email,
                           done=session.intent_methods if session.intent_token else ())


async def consent_view(parts: Parts, session: PageSession, state: SigningState, client: Client, now: float) -> View:
    return View("consent.html", {"contracts": state.to_sign})


async def intent_view(parts: Parts, session: PageSession, state: SigningState, client: Client, now: float) -> View:
    methods = offered(session, state)
    if not methods:
        raise PageRefusal("intent.none", body="intent.none_body", http=409)
    t, signer = texts(session.lang), state.signer
    recipients = {"SMS": mask_mobile(signer.mobile), "EMAIL": mask_email(signer.email), "FACE": ""}
    challenge = session.challenge if session.challenge and session.challenge.expires_at > now else None
    return View("intent.html", {
        "contracts": state.to_sign,
        "methods": [(m, t(f"intent.method.{m}", recipient=recipients[m])) for m in methods],
        "done": [t(f"intent.method.{m}", recipient=recipients[m]) for m in session.intent_methods if session.intent_token],
        "face_person": signer.kind == "ORG" and "FACE" in methods,
        "challenge": challenge,
        "resend_in": max(0, math.ceil(challenge.resend_at - now)) if challenge else 0,
    })


async def read_view(parts: Parts, session: PageSession, state: SigningState, client: Client, now: float) -> View:
    if session.read_started is None:
        session.read_started = now  # the reading clock starts when the documents are first shown
    config = PageConfig.from_mapping(session.config)
    contracts = [(c, await parts.images.documents(session.app_id, c.contract_id, client)) for c in state.to_sign]
    agreement = session.sign_mode == "AGREEMENT"
    seals = [] if agreement else await actions.seals(parts.rpc, session.app_id, state.signer, client)
    chosen = next((s for s in seals if s.is_default), seals[0] if seals else None)
    return View("read.html", {
        "contracts": contracts,
        "agreement": agreement,
        "seals": seals,
        "chosen_seal": chosen.seal_id if chosen else "",
        "forced": config.forced_reading,
        "reading_left": seconds_left(config, session.read_started, now),
        "show_reject": config.show_reject,
    })


def done_view(session: PageSession) -> View:
    config = PageConfig.from_mapping(session.config)
    back = plan(config, session.contract_id, session.signer_id, session.outcome)
    if back.url and back.delay == 0:
        return View("done.html", redirect=back.url)
    # Without a success page (and nowhere to go) the signer sees the outcome and nothing more.
    return View("done.html", {"outcome": session.outcome, "success_text": config.success_text, "back": back,
                              "success_page": config.show_success_page})


StepView = Callable[[Parts, PageSession, SigningState, Client, float], Awaitable[View]]
VIEWS: dict[Step, StepView] = {Step.CONSENT: consent_view, Step.INTENT: intent_view, Step.READ: read_view}
