"""Where a signer stands: the step the page shows next, from the page session and the
contracts' state. E_SIGN signers open cloud signing (once per subject), verify their
intent, then read and sign; AGREEMENT signers read and tick the box."""
from __future__ import annotations

import enum

import grpc

from gateway.pages.problems import PageRefusal
from gateway.pages.sessions import PageSession
from gateway.pages.signing_state import SigningState


class Step(enum.StrEnum):
    CONSENT = "consent"
    INTENT = "intent"
    READ = "read"
    DONE = "done"


def steps_of(sign_mode: str) -> tuple[Step, ...]:
    if sign_mode == "AGREEMENT":
        return (Step.READ, Step.DONE)
    return (Step.CONSENT, Step.INTENT, Step.READ, Step.DONE)


def check_signable(state: SigningState) -> None:
    """Refuse a page with nothing the signer can do now."""
    pending = state.to_sign
    if not pending:
        raise PageRefusal("contract.signed", grpc.StatusCode.FAILED_PRECONDITION, http=409)
    if not all(c.turn for c in pending):
        raise PageRefusal("contract.waiting", grpc.StatusCode.FAILED_PRECONDITION, body="contract.waiting.body", http=409)


def current_step(session: PageSession, state: SigningState | None, now: float) -> Step:
    """``state`` may be None only once the session has an outcome."""
    if session.outcome:
        return Step.DONE
    assert state is not None
    if session.sign_mode == "AGREEMENT":
        return Step.READ
    if not (state.consented or session.consented):
        return Step.CONSENT
    if not session.has_intent(now):
        return Step.INTENT
    return Step.READ
