"""Which intent methods the page offers a signer, from the business line's intent policy.

The identity service decides in the end (it refuses a method the policy does not accept);
this only spares the signer choices that would be refused: methods the policy does not
allow, others when FACE is required (for organisations, or above an amount, where an
unknown amount counts as above, as identity counts it), and codes with no address to go to.
When several methods are required, they are offered one at a time, in turn, until all are
confirmed into one token.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal, InvalidOperation
from typing import Any

METHODS = ("SMS", "EMAIL", "FACE")


def _face_required(policy: Mapping[str, Any], kind: str, amounts: Sequence[str]) -> bool:
    if kind == "ORG" and policy.get("faceForOrgs"):
        return True
    threshold = policy.get("faceAboveAmount") or ""
    if not threshold:
        return False
    try:
        limit = Decimal(threshold)
        return any(not a or Decimal(a) > limit for a in amounts)
    except InvalidOperation:
        return True


def offered_methods(policy: Mapping[str, Any], *, kind: str, amounts: Sequence[str], mobile: str,
                    email: str, done: Sequence[str] = ()) -> tuple[str, ...]:
    """The methods to offer now; ``done`` are those already confirmed for this signing."""
    allowed = [m for m in METHODS if m in (policy.get("allowedMethods") or METHODS)]
    required = set(policy.get("requiredMethods") or [])
    if _face_required(policy, kind, amounts):
        required.add("FACE")
    reachable = {"SMS": bool(mobile), "EMAIL": bool(email), "FACE": True}
    if required:
        remaining = [m for m in allowed if m in required and m not in done]
        # One at a time: a required method the signer cannot receive leaves nothing to offer.
        return (remaining[0],) if remaining and reachable[remaining[0]] else ()
    return tuple(m for m in allowed if reachable[m])


def mask_mobile(mobile: str) -> str:
    return mobile[:3] + "****" + mobile[-4:] if len(mobile) >= 7 else "****"


def mask_email(email: str) -> str:
    name, at, domain = email.partition("@")
    return (name[:1] + "***" + at + domain) if at else "***"
