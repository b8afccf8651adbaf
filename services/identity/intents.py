"""Intent verification as the RPCs use it: start a challenge for a signer and contracts,
confirm it (one-time code or face check) for an intent token, resend a code, and accept a
token once per contract just before signing.

The facts come from their owners, never from the caller: the signer's contact, subject
and the contracts' document hashes from the contract service (``signing_contexts``), the
business line's intent policy from its app settings (``policies``), the signer's real-name
level from the subject. A challenge started by one business line cannot be confirmed or
resent by another (it looks like a challenge that does not exist).
"""
from __future__ import annotations

import datetime as dt
import enum
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from decimal import Decimal

from core.errors import DomainError, FailedPrecondition, FieldViolation, InvalidArgument, NotFound, PermissionDenied, invalid
from services.identity.code_delivery import CodeDelivery
from services.identity.face import FaceResult, FaceVerifier
from services.identity.face_challenges import FaceChallenges
from services.identity.intent_tokens import IntentClaims, IntentTokens, TokenNotBound
from services.identity.otp import Challenge, ChallengeLocked, ChallengeNotFound, IntentChallenges
from services.identity.policy import IntentMethod, IntentPolicy, SignerKind, check_methods, check_start, missing_methods
from services.identity.signing_context import SigningContext
from services.identity.subjects import ID_CARD, Subject, Subjects

log = logging.getLogger(__name__)

MAX_CONTRACTS = 50


@dataclass(frozen=True)
class StartedIntent:
    challenge_id: str
    method: IntentMethod
    expires_at: dt.datetime
    recipient: str = ""  # masked; empty for FACE
    resend_at: dt.datetime | None = None  # None for FACE (nothing to resend)


@dataclass(frozen=True)
class IssuedToken:
    token: str = field(repr=False)
    claims: IntentClaims
    missing: tuple[IntentMethod, ...] = ()  # methods still to confirm before the token can sign


@dataclass(frozen=True)
class FacePerson:
    """The person taking an organisation's face check: its legal representative or an agent."""

    id_number: str = field(repr=False)
    name: str = ""


class FacePersonBasis(enum.StrEnum):
    """How the person taking an organisation's face check was recognised."""

    AUTHORISED_AGENT = "AUTHORISED_AGENT"
    LEGAL_REPRESENTATIVE_ID_NUMBER = "LEGAL_REPRESENTATIVE_ID_NUMBER"  # the ID number on record
    LEGAL_REPRESENTATIVE_NAME = "LEGAL_REPRESENTATIVE_NAME"  # no ID number on record: by name only


def _largest_amount(context: SigningContext) -> Decimal | None:
    # One unknown amount makes the whole signing's amount unknown (the policy treats it as large).
    amounts = [c.amount for c in context.contracts]
    return None if any(a is None for a in amounts) else max(amounts)  # type: ignore[type-var]


def _amount(text: str) -> Decimal | None:
    return Decimal(text) if text else None


class Intents:
    def __init__(
        self,
        *,
        subjects: Subjects,
        challenges: IntentChallenges,
        face_challenges: FaceChallenges,
        tokens: IntentTokens,
        delivery: CodeDelivery,
        face_verifier: FaceVerifier | None,
        signing_contexts: Callable[[str, Sequence[str]], SigningContext],
        policies: Callable[[str], IntentPolicy],
        token_ttl: int,
    ):
        self._subjects = subjects
        self._challenges = challenges
        self._faces = face_challenges
        self._tokens = tokens
        self._delivery = delivery
        self._face_verifier = face_verifier
        self._signing_contexts = signing_contexts
        self._policies = policies
        self._token_ttl = token_ttl

    # -- start --------------------------------------------------------------------------

    def create(self, signer_id: str, contract_ids: Sequence[str], method: IntentMethod, caller_app: str = "",
               face_person: FacePerson | None = None) -> StartedIntent:
        """Start a challenge; ``caller_app`` is the authenticated business line (empty for internal callers).

        When the policy needs several methods, each is started and confirmed in turn and the
        confirmations are gathered into one token (``confirm_*`` with the previous token)."""
        contract_ids = self._check_request(signer_id, contract_ids)
        context = self._signing_contexts(signer_id, contract_ids)
        app_id = self._check_context(context, contract_ids, caller_app)
        subject = self._subject_of(context)
        largest = _largest_amount(context)
        check_start(self._policies(app_id), context.kind, largest, method, subject.level)
        hashes = {c.contract_id: c.document_sha256 for c in context.contracts}
        facts = {"signer_kind": context.kind.value, "amount": "" if largest is None else str(largest)}
        if method is IntentMethod.FACE:
            return self._create_face(context, subject, contract_ids, hashes, app_id, facts, face_person)
        recipient = context.mobile if method is IntentMethod.SMS else context.email
        if not recipient:
            what = "mobile number" if method is IntentMethod.SMS else "e-mail address"
            raise FailedPrecondition(f"signer {signer_id} has no {what}; choose another method")
        self._delivery.sender(method)  # refuse before a code exists that nobody could receive
        issued = self._challenges.create(
            subject_id=subject.subject_id, signer_id=signer_id, contract_ids=contract_ids,
            document_hashes=hashes, method=method, recipient=recipient, app_id=app_id, **facts,
        )
        self._delivery.deliver(issued.challenge, issued.code)
        challenge = issued.challenge
        log.info("intent challenge %s: %s code sent to %s for signer %s", challenge.id, method, challenge.masked_recipient, signer_id)
        return StartedIntent(challenge.id, method, challenge.expires_at, challenge.masked_recipient, challenge.resend_at)

    def _check_request(self, signer_id: str, contract_ids: Sequence[str]) -> list[str]:
        violations = []
        if not signer_id.strip():
            violations.append(FieldViolation("signerId", "is required"))
        ids = [c.strip() for c in contract_ids]
        if not ids or any(not c for c in ids):
            violations.append(FieldViolation("contractIds", "at least one non-empty contract id is required"))
        elif len(set(ids)) != len(ids) or len(ids) > MAX_CONTRACTS:
            violations.append(FieldViolation("contractIds", f"must be distinct, at most {MAX_CONTRACTS}"))
        if violations:
            raise InvalidArgument("; ".join(f"{v.field}: {v.description}" for v in violations), violations)
        return ids

    def _check_context(self, context: SigningContext, contract_ids: Sequence[str], caller_app: str) -> str:
        if caller_app and context.app_id != caller_app:
            # Another business line's contracts: answer as if they did not exist.
            raise NotFound(f"contracts {', '.join(contract_ids)} not found")
        found = {c.contract_id: c for c in context.contracts}
        for contract_id in contract_ids:
            contract = found.get(contract_id)
            if contract is None:
                raise NotFound(f"contract {contract_id} not found")
            if contract.status != "SIGNING":
                raise FailedPrecondition(f"contract {contract_id} is {contract.status}; only SIGNING contracts can be signed")
            if contract.signer_status != "PENDING":
                raise FailedPrecondition(f"signer {context.signer_id} is {contract.signer_status} on contract {contract_id}")
            if not contract.signer_turn:
                raise FailedPrecondition(f"it is not yet signer {context.signer_id}'s turn on contract {contract_id}")
            if not contract.document_sha256:
                raise FailedPrecondition(f"contract {contract_id} has no documents to sign")
        return caller_app or context.app_id

    def _subject_of(self, context: SigningContext) -> Subject:
        if context.subject_id:
            return self._subjects.get(context.subject_id)
        identifier = self._subjects.identifier(context.id_type, context.id_value, "signer.subject")
        try:
            return self._subjects.resolve(identifier)
        except NotFound:
            return self._subjects.upsert(context.kind, context.name, [identifier]).subject

    def _create_face(
        self, context: SigningContext, subject: Subject, contract_ids: Sequence[str], hashes: dict, app_id: str,
        facts: dict[str, str], face_person: FacePerson | None,
    ) -> StartedIntent:
        if self._face_verifier is None:
            raise FailedPrecondition("no face verifier configured; FACE intent verification is not available")
        person, basis = self._face_person(subject, face_person) if subject.kind is SignerKind.ORG else (subject, None)
        if person.identifier(ID_CARD) is None:
            raise FailedPrecondition(f"signer {context.signer_id} has no ID_CARD on record; a face check compares against it")
        challenge = self._faces.create(
            subject_id=subject.subject_id, signer_id=context.signer_id, contract_ids=contract_ids,
            document_hashes=hashes, app_id=app_id, **facts,
            person_subject_id="" if person is subject else person.subject_id, person_basis=basis or "",
        )
        log.info("intent challenge %s: FACE for signer %s%s", challenge.id, context.signer_id,
                 f" taken by {person.subject_id} ({basis})" if basis else "")
        return StartedIntent(challenge.id, IntentMethod.FACE, challenge.expires_at)

    def _face_person(self, org: Subject, named: FacePerson | None) -> tuple[Subject, FacePersonBasis]:
        """The person who takes an organisation's face check, and how they were recognised: one
        of its authorised agents, or its legal representative (by the ID number on record, or
        by name when there is none; known as a person from then on)."""
        if named is None or not named.id_number.strip():
            raise invalid("facePerson", "an organisation signs by the face of its legal representative or an authorised "
                                        "agent: give that person's idNumber (and name)")
        identifier = self._subjects.identifier(ID_CARD, named.id_number, "facePerson.idNumber")
        try:
            known: Subject | None = self._subjects.resolve(identifier)
        except NotFound:
            known = None
        if known is not None and known.subject_id in org.agent_ids:
            return known, FacePersonBasis.AUTHORISED_AGENT
        if org.legal_representative_id_set:
            basis = FacePersonBasis.LEGAL_REPRESENTATIVE_ID_NUMBER
            recognised = self._subjects.is_legal_representative(org, identifier)
        else:
            basis = FacePersonBasis.LEGAL_REPRESENTATIVE_NAME
            recognised = bool(org.legal_representative) and (
                known.name if known is not None else named.name.strip()) == org.legal_representative
        if recognised:
            # Face providers compare the name too: the one on record, not the one typed.
            return known or self._subjects.upsert(SignerKind.PERSON, org.legal_representative, [identifier]).subject, basis
        raise PermissionDenied(
            f"the person named in facePerson is neither the legal representative nor an authorised agent of {org.name}"
        )

    # -- confirm ------------------------------------------------------------------------

    def confirm_code(self, challenge_id: str, code: str, caller_app: str = "", prior_token: str = "") -> IssuedToken:
        """Confirm with the one-time code; ``prior_token`` is the token of this signing's earlier
        confirmations (several methods), which the new token then covers too."""
        pending = self._code_challenge(challenge_id)
        self._owned(pending, caller_app)
        prior = self._prior(prior_token, pending)
        challenge = self._challenges.confirm(challenge_id, code)
        return self._issue(
            IntentClaims(
                subject_id=challenge.subject_id,
                signer_id=challenge.signer_id,
                documents=dict(challenge.document_hashes),
                method=challenge.method,
                challenge_id=challenge.id,
                app_id=challenge.app_id,
                recipient=challenge.masked_recipient,
                signer_kind=challenge.signer_kind,
                amount=challenge.amount,
            ),
            prior,
        )

    def confirm_face(self, challenge_id: str, capture: bytes, caller_app: str = "", prior_token: str = "") -> IssuedToken:
        if not capture:
            raise invalid("faceResult", "is empty")
        if self._face_verifier is None:
            raise FailedPrecondition("no face verifier configured; FACE intent verification is not available")
        verifier = self._face_verifier
        try:
            challenge = self._faces.get(challenge_id)
        except ChallengeNotFound:
            if self._code_exists(challenge_id):
                raise invalid("faceResult", "this challenge is confirmed with the one-time code, not a face check") from None
            raise
        self._owned(challenge, caller_app)
        prior = self._prior(prior_token, challenge)
        # An organisation's face check is taken by the person named when it started.
        subject = self._subjects.get(challenge.person_subject_id or challenge.subject_id)
        id_number = subject.identifier(ID_CARD)
        if id_number is None:
            raise FailedPrecondition(f"subject {subject.subject_id} has no ID_CARD on record to compare the face against")
        results: list[FaceResult] = []

        def check(_challenge) -> bool:
            results.append(verifier.verify(name=subject.name, id_number=id_number, capture=capture))
            return results[-1].passed

        attempt = self._faces.attempt(challenge_id, check)
        if not attempt.passed:
            if attempt.tries_left == 0:
                raise ChallengeLocked(f"face check did not pass; challenge {challenge_id} is now locked, start a new one")
            description = f"face check did not pass; {attempt.tries_left} tries left"
            raise InvalidArgument(f"faceResult: {description}", [FieldViolation("faceResult", description)])
        log.info("intent challenge %s confirmed by face check %s", challenge_id, results[-1].reference)
        return self._issue(
            IntentClaims(
                subject_id=challenge.subject_id,
                signer_id=challenge.signer_id,
                documents=dict(challenge.document_hashes),
                method=IntentMethod.FACE,
                challenge_id=challenge.id,
                app_id=challenge.app_id,
                face_reference=results[-1].reference,
                face_person_id=challenge.person_subject_id,
                face_person_basis=challenge.person_basis,
                signer_kind=challenge.signer_kind,
                amount=challenge.amount,
            ),
            prior,
        )

    def _prior(self, token: str, challenge) -> IntentClaims | None:
        """The earlier confirmations of this same signing (checked before the challenge is spent)."""
        if not token:
            return None
        prior = self._tokens.verify(token)
        same = (prior.signer_id == challenge.signer_id and prior.subject_id == challenge.subject_id
                and prior.app_id == challenge.app_id
                and {c: tuple(h) for c, h in prior.documents.items()} == dict(challenge.document_hashes))
        if not same:
            raise TokenNotBound("intentToken: the earlier intent token is for another signer, other contracts or other "
                                "document content than this challenge; start again")
        return prior

    def _issue(self, claims: IntentClaims, prior: IntentClaims | None = None) -> IssuedToken:
        if prior is not None:
            claims = replace(
                claims,
                methods=tuple({*prior.all_methods, claims.method}),
                recipient=claims.recipient or prior.recipient,
                face_reference=claims.face_reference or prior.face_reference,
                face_person_id=claims.face_person_id or prior.face_person_id,
                face_person_basis=claims.face_person_basis or prior.face_person_basis,
            )
        token, issued = self._tokens.issue(claims, self._token_ttl)
        missing = self._missing(issued)
        log.info("intent token %s issued for challenge %s (%s confirmed%s)", issued.token_id, issued.challenge_id,
                 ", ".join(issued.methods), f"; still needs {', '.join(missing)}" if missing else "")
        return IssuedToken(token, issued, missing)

    def _missing(self, claims: IntentClaims) -> tuple[IntentMethod, ...]:
        if not claims.signer_kind or not claims.app_id:
            return ()
        return missing_methods(self._policies(claims.app_id), SignerKind(claims.signer_kind), _amount(claims.amount),
                               claims.all_methods)

    # -- resend and consume -------------------------------------------------------------

    def resend(self, challenge_id: str, caller_app: str = "") -> StartedIntent:
        self._owned(self._code_challenge(challenge_id), caller_app)
        issued = self._challenges.resend(challenge_id)
        self._delivery.deliver(issued.challenge, issued.code)
        challenge = issued.challenge
        return StartedIntent(challenge.id, challenge.method, challenge.expires_at, challenge.masked_recipient, challenge.resend_at)

    def consume(self, token: str, signer_id: str, contract_id: str, document_sha256: Sequence[str]) -> IntentClaims:
        if not signer_id or not contract_id:
            raise invalid("signerId" if not signer_id else "contractId", "is required")
        return self._tokens.consume(token, signer_id, contract_id, list(document_sha256), before_use=self._policy_met)

    def _policy_met(self, claims: IntentClaims) -> None:
        # Tokens made before several methods could be gathered were checked whole when their challenge started.
        if claims.signer_kind and claims.app_id:
            check_methods(self._policies(claims.app_id), SignerKind(claims.signer_kind), _amount(claims.amount),
                          claims.all_methods)

    # -- helpers ------------------------------------------------------------------------

    def _code_challenge(self, challenge_id: str) -> Challenge:
        try:
            return self._challenges.get(challenge_id)
        except ChallengeNotFound:
            if self._faces.exists(challenge_id):
                raise invalid("code", "this challenge is confirmed with a face check (faceResult), not a code") from None
            raise

    def _code_exists(self, challenge_id: str) -> bool:
        try:
            self._challenges.get(challenge_id)
        except DomainError:
            return False
        return True

    @staticmethod
    def _owned(challenge, caller_app: str) -> None:
        if caller_app and challenge.app_id and challenge.app_id != caller_app:
            raise ChallengeNotFound(f"challenge {challenge.id} does not exist or has expired")
