"""Per-business-line intent policy: which intent methods count, and what real name signing needs.

Mirrors ``econtract.identity.v1.IntentPolicy``: a business line allows some intent methods
(none listed = every method), may require some to be passed all together (none = any one
allowed method will do), requires FACE above a contract amount or for organisations, and
sets the real-name level a signer's subject must have reached (none = no requirement).
Everything here is pure: the caller supplies the facts.

Errors: a method the business line does not accept, or a required one missing →
PERMISSION_DENIED (the signer may not sign this way); a real-name level that is too low →
FAILED_PRECONDITION (the signer can fix it by verifying first).
"""
from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from core.errors import FailedPrecondition, FieldViolation, InvalidArgument, PermissionDenied
from services.identity.realname import RealNameLevel


class IntentMethod(enum.StrEnum):
    SMS = "SMS"
    EMAIL = "EMAIL"
    FACE = "FACE"


class SignerKind(enum.StrEnum):
    PERSON = "PERSON"
    ORG = "ORG"


_FIELDS = ("allowedMethods", "requiredMethods", "faceAboveAmount", "faceForOrgs", "requiredRealNameLevel")


@dataclass(frozen=True)
class IntentPolicy:
    """One business line's rules. ``face_above_amount`` is in yuan and compared strictly
    (a contract of exactly the threshold does not need FACE)."""

    allowed_methods: frozenset[IntentMethod] = frozenset()  # empty = every method
    required_methods: frozenset[IntentMethod] = frozenset()  # all must be passed; empty = any allowed one
    face_above_amount: Decimal | None = None
    face_for_orgs: bool = False
    required_real_name_level: RealNameLevel = RealNameLevel.NONE

    def __post_init__(self) -> None:
        problems = _problems(self)
        if problems:
            raise InvalidArgument("intent policy is inconsistent: " + "; ".join(p.description for p in problems), problems)

    @property
    def effective_allowed(self) -> frozenset[IntentMethod]:
        return self.allowed_methods or frozenset(IntentMethod)

    def allows(self, method: IntentMethod) -> bool:
        return method in self.effective_allowed

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> IntentPolicy:
        """Build from the proto3-JSON form of ``IntentPolicy`` (as ``MessageToDict`` gives it:
        absent keys take their defaults)."""
        violations = [FieldViolation(f"intentPolicy.{k}", "unknown field") for k in sorted(set(data) - set(_FIELDS))]
        kwargs: dict[str, Any] = {}
        for key, attr in (("allowedMethods", "allowed_methods"), ("requiredMethods", "required_methods")):
            raw = data.get(key, [])
            if not isinstance(raw, (list, tuple)) or any(n not in IntentMethod.__members__ for n in raw):
                violations.append(FieldViolation(f"intentPolicy.{key}", f"must be a list of SMS, EMAIL, FACE; got {raw!r}"))
            else:
                kwargs[attr] = frozenset(IntentMethod(n) for n in raw)
        if data.get("faceAboveAmount") not in (None, ""):
            try:
                kwargs["face_above_amount"] = Decimal(str(data["faceAboveAmount"]))
            except InvalidOperation:
                violations.append(FieldViolation("intentPolicy.faceAboveAmount", "must be a decimal number of yuan"))
        if not isinstance(data.get("faceForOrgs", False), bool):
            violations.append(FieldViolation("intentPolicy.faceForOrgs", "must be true or false"))
        else:
            kwargs["face_for_orgs"] = data.get("faceForOrgs", False)
        level = data.get("requiredRealNameLevel") or "NONE"
        if level not in RealNameLevel.__members__:
            names = ", ".join(RealNameLevel.__members__)
            violations.append(FieldViolation("intentPolicy.requiredRealNameLevel", f"must be empty or one of {names}"))
        else:
            kwargs["required_real_name_level"] = RealNameLevel[level]
        if violations:
            raise InvalidArgument("intent policy is invalid", violations)
        return cls(**kwargs)

    def to_mapping(self) -> dict[str, Any]:
        """The proto3-JSON form, defaults included."""
        return {
            "allowedMethods": sorted(self.allowed_methods),
            "requiredMethods": sorted(self.required_methods),
            "faceAboveAmount": "" if self.face_above_amount is None else str(self.face_above_amount),
            "faceForOrgs": self.face_for_orgs,
            "requiredRealNameLevel": (
                "" if self.required_real_name_level is RealNameLevel.NONE else self.required_real_name_level.name
            ),
        }


def _problems(policy: IntentPolicy) -> list[FieldViolation]:
    problems: list[FieldViolation] = []
    allowed = policy.effective_allowed
    if not policy.required_methods <= allowed:
        extra = ", ".join(sorted(policy.required_methods - allowed))
        problems.append(FieldViolation("intentPolicy.requiredMethods", f"{extra} required but not allowed"))
    if (policy.face_for_orgs or policy.face_above_amount is not None) and IntentMethod.FACE not in allowed:
        problems.append(FieldViolation("intentPolicy.allowedMethods", "FACE is required by the policy but not allowed"))
    amount = policy.face_above_amount
    if amount is not None and (not amount.is_finite() or amount < 0):
        problems.append(FieldViolation("intentPolicy.faceAboveAmount", "must be a non-negative amount"))
    return problems


@dataclass(frozen=True)
class MethodRequirement:
    """What a signer must pass: every method in ``all_of``, or else any one of ``any_of``."""

    all_of: frozenset[IntentMethod]
    any_of: frozenset[IntentMethod]

    def satisfied_by(self, passed: Iterable[IntentMethod]) -> bool:
        done = set(passed)
        return self.all_of <= done if self.all_of else bool(self.any_of & done)


def _face_reason(policy: IntentPolicy, signer_kind: SignerKind, amount: Decimal | int | None) -> str | None:
    if signer_kind is SignerKind.ORG and policy.face_for_orgs:
        return "for organisations"
    if policy.face_above_amount is None:
        return None
    # An unknown amount counts as above the threshold: it may be large.
    if amount is None:
        return "when the contract amount is unknown"
    if Decimal(amount) > policy.face_above_amount:
        return f"above an amount of {policy.face_above_amount}"
    return None


def required_methods(policy: IntentPolicy, signer_kind: SignerKind, amount: Decimal | int | None) -> MethodRequirement:
    """The intent methods this signing needs under ``policy``."""
    all_of = set(policy.required_methods)
    if _face_reason(policy, signer_kind, amount):
        all_of.add(IntentMethod.FACE)
    return MethodRequirement(frozenset(all_of), policy.effective_allowed)


def _names(methods: Iterable[IntentMethod]) -> str:
    return ", ".join(sorted(methods))


def _refuse_missing(policy: IntentPolicy, signer_kind: SignerKind, amount: Decimal | int | None,
                    passed: set[IntentMethod], missing: set[IntentMethod]) -> PermissionDenied:
    face_reason = _face_reason(policy, signer_kind, amount)
    if missing == {IntentMethod.FACE} and face_reason:
        return PermissionDenied(f"intent method {_names(passed)} is not enough: this business line requires FACE {face_reason}")
    needed = required_methods(policy, signer_kind, amount).all_of
    return PermissionDenied(f"this business line requires every one of {_names(needed)}; missing {_names(missing)}")


def check_start(
    policy: IntentPolicy,
    signer_kind: SignerKind,
    amount: Decimal | int | None,
    method: IntentMethod,
    real_name_level: RealNameLevel,
) -> None:
    """Raise unless ``method`` may start a challenge: it is allowed and, when the signing needs
    several methods, one of them (each is confirmed in turn, into one token)."""
    if method not in policy.effective_allowed:
        raise PermissionDenied(
            f"intent method {method} is not allowed for this business line (allowed: {_names(policy.effective_allowed)})"
        )
    needed = required_methods(policy, signer_kind, amount).all_of
    if needed and method not in needed:
        raise _refuse_missing(policy, signer_kind, amount, {method}, set(needed))
    if not real_name_level.satisfies(policy.required_real_name_level):
        raise FailedPrecondition(
            f"signing needs real-name level {policy.required_real_name_level.name}; the signer has {real_name_level.name}"
        )


def missing_methods(policy: IntentPolicy, signer_kind: SignerKind, amount: Decimal | int | None,
                    passed: Iterable[IntentMethod]) -> tuple[IntentMethod, ...]:
    """The methods still to confirm before signing, in the order the pages ask for them."""
    done = set(passed) & policy.effective_allowed
    requirement = required_methods(policy, signer_kind, amount)
    if requirement.satisfied_by(done):
        return ()
    still = requirement.all_of - done if requirement.all_of else requirement.any_of
    return tuple(m for m in IntentMethod if m in still)


def check_methods(policy: IntentPolicy, signer_kind: SignerKind, amount: Decimal | int | None,
                  passed: Iterable[IntentMethod]) -> None:
    """Raise unless the confirmed ``passed`` methods together meet the policy (checked at signing)."""
    done = set(passed)
    missing = missing_methods(policy, signer_kind, amount, done)
    if not missing:
        return
    if required_methods(policy, signer_kind, amount).all_of:
        raise _refuse_missing(policy, signer_kind, amount, done, set(missing))
    raise PermissionDenied(f"intent method {_names(done)} is not allowed for this business line "
                           f"(allowed: {_names(policy.effective_allowed)})")


def check_method(
    policy: IntentPolicy,
    signer_kind: SignerKind,
    amount: Decimal | int | None,
    methods: IntentMethod | Iterable[IntentMethod],
    real_name_level: RealNameLevel,
) -> None:
    """Raise unless the passed intent ``methods`` and ``real_name_level`` suffice to sign."""
    passed = {methods} if isinstance(methods, IntentMethod) else set(methods)
    if not passed:
        raise PermissionDenied("no intent verification was passed")
    def names(methods: Iterable[IntentMethod]) -> str:
        return ", ".join(sorted(methods))

    refused = passed - policy.effective_allowed
    if refused:
        raise PermissionDenied(
            f"intent method {names(refused)} is not allowed for this business line (allowed: {names(policy.effective_allowed)})"
        )
    missing = required_methods(policy, signer_kind, amount).all_of - passed
    if missing:
        face_reason = _face_reason(policy, signer_kind, amount)
        if IntentMethod.FACE in missing and face_reason:
            raise PermissionDenied(f"intent method {names(passed)} is not enough: this business line requires FACE {face_reason}")
        raise PermissionDenied(
            f"this business line requires every one of {names(policy.required_methods)}; missing {names(missing)}"
        )
    if not real_name_level.satisfies(policy.required_real_name_level):
        raise FailedPrecondition(
            f"signing needs real-name level {policy.required_real_name_level.name}; the signer has {real_name_level.name}"
        )
