"""Real-name verification of persons and organisations.

A ``RealNameProvider`` answers whether the presented elements (name + ID number [+ mobile],
or organisation name + credit code + legal representative) are genuine, and how strongly
(``RealNameLevel``). Two implementations:

* ``FormatOnlyProvider`` applies only the national format rules (``idnumbers``), so it
  reports ``FORMAT_ONLY`` — it proves a number is well formed, not that it is this person's.
* ``HttpRealNameProvider`` asks an outside verification service (see its docstring for the
  protocol), per business line.

Every result carries an evidence hash: SHA-256 of a canonical JSON document recording what
was checked, how, the answer and when, so the stored verdict can later be tied to its inputs.
"""
from __future__ import annotations

import datetime as dt
import enum
import hashlib
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

import httpx

from core.errors import Unavailable
from services.identity.idnumbers import check_credit_code, check_id_number
from services.identity.provider_http import ProviderEndpoint, SignedJsonClient

_MOBILE_RE = re.compile(r"(?:\+?86)?(1[3-9]\d{9})")
_NAME_MAX = 64
_ORG_NAME_MAX = 128


class RealNameLevel(enum.Enum):
    """How strongly an identity was verified; higher values satisfy lower requirements."""

    NONE = 0  # not verified
    FORMAT_ONLY = 1  # numbers are well formed (check digits, dates, codes)
    IDENTITY_MATCH = 2  # the elements match the authoritative registry (citizen or enterprise)
    IDENTITY_MOBILE_MATCH = 3  # persons: also the mobile is registered to that identity

    def satisfies(self, required: RealNameLevel) -> bool:
        return self.value >= required.value


@dataclass(frozen=True)
class RealNameResult:
    verified: bool
    level: RealNameLevel  # NONE unless verified
    method: str  # FORMAT_RULES, or HTTP:<provider name>
    evidence_sha256: str
    verified_at: dt.datetime
    reasons: tuple[str, ...] = ()  # why not verified, in words a caller can show
    provider_reference: str | None = None  # the provider's request id, for disputes
    # The hashed document; contains the raw identifiers, so it is kept out of repr (logs).
    evidence: Mapping[str, Any] = field(default_factory=dict, repr=False)


class RealNameProvider(Protocol):
    def verify_person(self, name: str, id_number: str, mobile: str | None = None) -> RealNameResult: ...

    def verify_org(self, name: str, credit_code: str, legal_representative: str) -> RealNameResult: ...


def evidence_hash(document: Mapping[str, Any]) -> str:
    """SHA-256 of canonical JSON (sorted keys, no spaces, UTF-8)."""
    canonical = json.dumps(document, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def normalise_mobile(mobile: str) -> str | None:
    """The 11-digit mainland mobile number, or None when it is not one."""
    m = _MOBILE_RE.fullmatch(re.sub(r"[\s-]", "", mobile))
    return m.group(1) if m else None


def _name_problem(name: str, what: str, limit: int = _NAME_MAX) -> str | None:
    if not name:
        return f"{what} is empty"
    if len(name) > limit:
        return f"{what} is longer than {limit} characters"
    if any(c.isdigit() or not c.isprintable() for c in name):
        return f"{what} contains digits or control characters"
    return None


def _result(
    kind: str,
    method: str,
    level: RealNameLevel,
    reasons: list[str],
    inputs: Mapping[str, Any],
    at: dt.datetime,
    provider_reference: str | None = None,
    provider_response_sha256: str | None = None,
) -> RealNameResult:
    verified = not reasons and level is not RealNameLevel.NONE
    document: dict[str, Any] = {
        "kind": kind,
        "method": method,
        "level": level.name if verified else RealNameLevel.NONE.name,
        "verified": verified,
        "reasons": list(reasons),
        "inputs": dict(inputs),
        "time": at.isoformat(),
    }
    if provider_reference is not None:
        document["providerReference"] = provider_reference
    if provider_response_sha256 is not None:
        document["providerResponseSha256"] = provider_response_sha256
    return RealNameResult(
        verified=verified,
        level=level if verified else RealNameLevel.NONE,
        method=method,
        evidence_sha256=evidence_hash(document),
        verified_at=at,
        reasons=tuple(reasons),
        provider_reference=provider_reference,
        evidence=document,
    )


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _person_format(name: str, id_number: str, mobile: str | None, today: dt.date) -> tuple[list[str], dict[str, Any]]:
    reasons: list[str] = []
    if problem := _name_problem(name.strip(), "name"):
        reasons.append(problem)
    id_check = check_id_number(id_number, today=today)
    reasons.extend(f"idNumber: {r}" for r in id_check.reasons)
    inputs: dict[str, Any] = {"name": name.strip(), "idNumber": id_check.number}
    if mobile is not None:
        normalised = normalise_mobile(mobile)
        if normalised is None:
            reasons.append("mobile: not a mainland China mobile number")
        inputs["mobile"] = normalised or mobile.strip()
    return reasons, inputs


def _org_format(name: str, credit_code: str, legal_representative: str) -> tuple[list[str], dict[str, Any]]:
    reasons: list[str] = []
    if not name.strip():
        reasons.append("name is empty")
    elif len(name.strip()) > _ORG_NAME_MAX:
        reasons.append(f"name is longer than {_ORG_NAME_MAX} characters")
    code_check = check_credit_code(credit_code)
    reasons.extend(f"creditCode: {r}" for r in code_check.reasons)
    if problem := _name_problem(legal_representative.strip(), "legalRepresentative"):
        reasons.append(problem)
    inputs = {"name": name.strip(), "creditCode": code_check.code, "legalRepresentative": legal_representative.strip()}
    return reasons, inputs


class FormatOnlyProvider:
    """The built-in check: national format rules only, reported as ``FORMAT_ONLY``."""

    method = "FORMAT_RULES"

    def __init__(self, now: Callable[[], dt.datetime] = _utcnow):
        self._now = now

    def verify_person(self, name: str, id_number: str, mobile: str | None = None) -> RealNameResult:
        at = self._now()
        reasons, inputs = _person_format(name, id_number, mobile, at.date())
        return _result("person", self.method, RealNameLevel.FORMAT_ONLY, reasons, inputs, at)

    def verify_org(self, name: str, credit_code: str, legal_representative: str) -> RealNameResult:
        at = self._now()
        reasons, inputs = _org_format(name, credit_code, legal_representative)
        return _result("org", self.method, RealNameLevel.FORMAT_ONLY, reasons, inputs, at)


class HttpRealNameProvider:
    """Adapter for a real-name verification service speaking signed JSON over HTTPS.

    Requests are signed as described in ``provider_http`` (X-App-Key, X-Timestamp, X-Nonce,
    X-Signature = HMAC-SHA256 over method, path, timestamp, nonce and body hash).

    ``POST /v1/person/verify``  ``{"name": "张三", "idNumber": "1101...", "mobile": "138..."}``
    (``mobile`` only when given)

    ``POST /v1/org/verify``  ``{"name": "...", "creditCode": "9111...", "legalRepresentative": "..."}``

    A 200 answer is ``{"requestId": str, "result": "MATCH" | "MISMATCH" | "NOT_FOUND",
    "level": "IDENTITY_MATCH" | "IDENTITY_MOBILE_MATCH", "message": str}``; ``level`` is
    required with MATCH. 429 → RESOURCE_EXHAUSTED, other 4xx → FAILED_PRECONDITION (our
    configuration or request is wrong), connection failures and 5xx are retried and then
    UNAVAILABLE, as is an answer that does not follow this shape.

    Input that fails the format rules is refused locally without calling (and paying) the
    provider.
    """

    def __init__(
        self,
        endpoint: ProviderEndpoint,
        name: str = "realname",
        client: httpx.Client | None = None,
        now: Callable[[], dt.datetime] = _utcnow,
    ):
        self.method = f"HTTP:{name}"
        self._http = SignedJsonClient(endpoint, f"real-name ({name})", client=client, clock=lambda: now().timestamp())
        self._now = now

    def close(self) -> None:
        self._http.close()

    def verify_person(self, name: str, id_number: str, mobile: str | None = None) -> RealNameResult:
        at = self._now()
        reasons, inputs = _person_format(name, id_number, mobile, at.date())
        if reasons:
            return _result("person", self.method, RealNameLevel.NONE, reasons, inputs, at)
        return self._ask("person", "/v1/person/verify", inputs)

    def verify_org(self, name: str, credit_code: str, legal_representative: str) -> RealNameResult:
        at = self._now()
        reasons, inputs = _org_format(name, credit_code, legal_representative)
        if reasons:
            return _result("org", self.method, RealNameLevel.NONE, reasons, inputs, at)
        return self._ask("org", "/v1/org/verify", inputs)

    def _ask(self, kind: str, path: str, inputs: dict[str, Any]) -> RealNameResult:
        answer = self._http.post(path, inputs)
        at = self._now()
        body = answer.body
        request_id = body.get("requestId")
        outcome = body.get("result")
        if not isinstance(request_id, str) or outcome not in ("MATCH", "MISMATCH", "NOT_FOUND"):
            raise Unavailable("real-name provider answered without a requestId or a known result")
        level = RealNameLevel.NONE
        reasons: list[str] = []
        if outcome == "MATCH":
            try:
                level = RealNameLevel[str(body.get("level"))]
            except KeyError:
                raise Unavailable(f"real-name provider answered with an unknown level {body.get('level')!r}") from None
            if level.value < RealNameLevel.IDENTITY_MATCH.value or (
                kind == "org" and level is RealNameLevel.IDENTITY_MOBILE_MATCH
            ):
                raise Unavailable(f"real-name provider answered with a level it cannot reach: {level.name}")
        elif outcome == "MISMATCH":
            reasons.append("the provider found the elements do not match")
        else:
            reasons.append("the provider has no record of this identity")
        return _result(
            kind,
            self.method,
            level,
            reasons,
            inputs,
            at,
            provider_reference=request_id,
            provider_response_sha256=hashlib.sha256(answer.raw).hexdigest(),
        )
