"""Real-name verification of persons and organisations for a business line: ask the
provider the business line uses, then record the subject and the result on it.

Providers are chosen by name: ``format_only`` (the built-in format rules) or an HTTP
provider configured for the service. The answer carries the reasons a check failed,
masked, so an ID number never comes back in an error text.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from core.errors import FailedPrecondition, FieldViolation, InvalidArgument
from services.identity.idnumbers import check_credit_code, check_id_number
from services.identity.masking import mask_text
from services.identity.policy import SignerKind
from services.identity.realname import RealNameLevel, RealNameProvider, RealNameResult
from services.identity.subjects import ID_CARD, USCC, Identifier, Subjects


@dataclass(frozen=True)
class VerifyOutcome:
    verified: bool
    level: str  # a RealNameLevel name; NONE when not verified
    subject_id: str  # empty when the number was malformed (no subject can be known by it)
    reason: str = ""  # why not verified, masked


_MAX_NAME_CHARS = 200


def _required(**fields: str) -> None:
    missing = [FieldViolation(name, "is required") for name, value in fields.items() if not value.strip()]
    missing += [
        FieldViolation(name, f"is longer than {_MAX_NAME_CHARS} characters")
        for name, value in fields.items()
        if len(value.strip()) > _MAX_NAME_CHARS
    ]
    if missing:
        raise InvalidArgument("; ".join(f"{v.field}: {v.description}" for v in missing), missing)


class RealNameVerification:
    def __init__(self, subjects: Subjects, providers: Mapping[str, RealNameProvider], default: str):
        if default not in providers:
            raise ValueError(f"default real-name provider {default!r} is not among the providers")
        self._subjects = subjects
        self._providers = dict(providers)
        self._default = default

    def provider(self, name: str | None) -> RealNameProvider:
        """The provider called ``name`` (None or empty: the default)."""
        chosen = name or self._default
        provider = self._providers.get(chosen)
        if provider is None:
            raise FailedPrecondition(f"real-name provider {chosen!r} of this business line is not configured")
        return provider

    def verify_person(self, provider_name: str | None, name: str, id_number: str, mobile: str = "") -> VerifyOutcome:
        _required(name=name, idNumber=id_number)
        result = self.provider(provider_name).verify_person(name, id_number, mobile or None)
        check = check_id_number(id_number)
        identifier = Identifier(ID_CARD, check.number) if check.valid else None
        return self._record(SignerKind.PERSON, name, identifier, result)

    def verify_org(self, provider_name: str | None, name: str, credit_code: str, legal_representative: str) -> VerifyOutcome:
        _required(name=name, creditCode=credit_code, legalRepresentative=legal_representative)
        result = self.provider(provider_name).verify_org(name, credit_code, legal_representative)
        check = check_credit_code(credit_code)
        identifier = Identifier(USCC, check.code) if check.valid else None
        return self._record(SignerKind.ORG, name, identifier, result, legal_representative)

    def _record(
        self, kind: SignerKind, name: str, identifier: Identifier | None, result: RealNameResult, legal_representative: str = ""
    ) -> VerifyOutcome:
        reason = mask_text("; ".join(result.reasons))
        if identifier is None:
            return VerifyOutcome(False, RealNameLevel.NONE.name, "", reason)
        recorded = self._subjects.record_verification(kind, name, identifier, result, legal_representative)
        if result.verified and not recorded.accepted:
            return VerifyOutcome(False, RealNameLevel.NONE.name, recorded.subject_id, mask_text(recorded.reason))
        return VerifyOutcome(result.verified, result.level.name, recorded.subject_id, reason)
