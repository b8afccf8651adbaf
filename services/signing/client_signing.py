"""Client-side signing (客户端签): the signer's own key signs; it never reaches the platform.

Two steps, any replica serving either:

``prepare``: the intent claims must allow this document (as for every signature); the
signer's chain is read and checked (``client_chain``: names the signer, chains to a CA
the business line trusts or to the platform roots, not revoked); the document gets its
signature field, seal appearance, signing date stamp (where the template places one, as
in cloud signing: a widget of the same signature, so the signer's key covers it),
validation data and placeholder, and the CMS signed attributes are computed
(``interrupted.prepare``). The preparation is stored with an
expiry; the signer receives the DER of the signed attributes (``to_be_signed``) and its
SHA-256. Expired preparations are deleted by later ``prepare`` calls after a grace
period, during which completing one still answers "expired" rather than "not found".

``complete``: the preparation must exist, belong to the caller's contract, be unexpired
and not completed. The signature value must verify against the prepared signed
attributes with the certificate's key, and the chain is checked again (a revocation
between the two steps refuses it). Then the CMS is finished with the signature
timestamp and embedded (``interrupted.finish``), the preparation is marked completed
(a conditional update: a replay, or a second racing completion, is refused) and the
evidence recorded like any signature's. A refused completion changes nothing: the
caller's document is untouched and the preparation can still be completed with a
correct signature until it expires.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import json
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum

from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from pyhanko_certvalidator import ValidationContext

from core.errors import FailedPrecondition, NotFound, invalid
from services.signing import client_chain, interrupted, pades, pki
from services.signing.intent import IntentClaims, check_intent
from services.signing.placement import AppearanceKind, Position, date_stamps, placements
from services.signing.signatures import (
    ORG,
    SignedDocument,
    Signatures,
    Signer,
    SignRequest,
    certificate_subject,
    signing_date,
)
from services.signing.store import COMPLETED, PREPARED, PreparationRecord, PreparationStore
from services.signing.tsa import TimestampAuthority

# How long an expired preparation is kept (without use) before it is deleted.
GRACE = dt.timedelta(hours=1)
EVIDENCE_KIND = "CLIENT_SIGNATURE"


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


class PreparationState(StrEnum):
    PREPARED = "PREPARED"
    COMPLETED = "COMPLETED"
    EXPIRED = "EXPIRED"


@dataclass(frozen=True)
class PrepareRequest:
    pdf: bytes
    signer: Signer
    contract_id: str
    intent: IntentClaims | None
    certificate_chain: Sequence[str]
    positions: Sequence[Position]
    seal_id: str = ""
    handwriting: bytes | None = None
    field_name: str = ""
    reason: str = ""
    document_sha256: str = ""  # what the contract recorded for the document; empty: not checked
    date_position: Position | None = None  # where the signing date is stamped, if anywhere


@dataclass(frozen=True)
class Preparation:
    preparation_id: str
    to_be_signed: bytes  # DER of the CMS signed attributes
    digest: bytes  # SHA-256 of to_be_signed
    expires_at: dt.datetime


@dataclass(frozen=True)
class PreparationView:
    preparation_id: str
    contract_id: str
    signer_id: str
    document_sha256: str
    certificate_serial: str
    state: PreparationState
    expires_at: dt.datetime


class ClientSignatures:
    def __init__(self, signatures: Signatures, ca: pki.PlatformCa, tsa: TimestampAuthority, store: PreparationStore,
                 anchors: Callable[[str], list[x509.Certificate]], *, ttl: dt.timedelta = dt.timedelta(minutes=10),
                 fetch_timeout: float = 10.0, clock: Callable[[], dt.datetime] = _now):
        self._signatures = signatures
        self._ca = ca
        self._tsa = tsa
        self._store = store
        self._anchors = anchors
        self._ttl = ttl
        self._fetch_timeout = fetch_timeout
        self._clock = clock

    # ------------------------------------------------------------ prepare

    def prepare(self, request: PrepareRequest) -> Preparation:
        signer = request.signer
        digest = hashlib.sha256(request.pdf).hexdigest()
        if request.document_sha256:
            pades.check_unchanged(request.pdf, request.document_sha256)  # before the chain is fetched and checked
        now = self._clock()
        claims = check_intent(request.intent, contract_id=request.contract_id, document_sha256=digest,
                              signer_id=signer.signer_id, subject_id=signer.subject_id, now=now)
        if self._signatures.earlier(claims.token_id, request.contract_id, digest) is not None:
            raise FailedPrecondition(f"the intent token {claims.token_id} already signed this document")
        certificate_subject(signer)  # the signer's name and identifier are well-formed
        chain = client_chain.parse_chain(request.certificate_chain)
        client_chain.check_names(chain, signer.name, signer.kind == ORG)
        self._signatures.refuse_revoked(request.pdf)
        revocation = self._check(chain, claims.app_id)

        kind = AppearanceKind.COMPANY_SEAL if signer.kind == ORG else AppearanceKind.PERSONAL_SEAL
        shown = self._signatures.appearance(SignRequest(
            pdf=request.pdf, signer=signer, contract_id=request.contract_id, intent=claims,
            positions=request.positions, seal_id=request.seal_id, handwriting=request.handwriting), kind)
        appearances = [pades.Appearance(shown.png, p)
                       for p in placements(request.pdf, request.positions, shown.kind, shown.pixels)]
        field_name = request.field_name or (signer.signer_id if signer.signer_id and "." not in signer.signer_id
                                            else f"sig_{secrets.token_hex(6)}")
        # The date of preparing, when the signed attributes' signing time is taken too.
        dates = (date_stamps(request.pdf, request.date_position, signing_date(now))
                 if request.date_position is not None else [])
        prepared = interrupted.prepare(
            request.pdf, chain.leaf, chain.cas, field_name=field_name, timestamper=self._tsa.timestamper(),
            validation_context=self._embedding_context(chain, claims.app_id, revocation),
            appearances=appearances, reason=request.reason or None,
            expected_sha256=request.document_sha256 or None, date_stamps=dates)

        details = {
            "intent": claims.to_json(),
            "signer": {"signerId": signer.signer_id, "kind": signer.kind, "name": signer.name,
                       "subjectId": signer.subject_id, "idType": signer.subject.id_type},
            "certificate": {"serial": chain.serial, "subject": chain.leaf.subject.rfc4514_string(),
                            "issuer": chain.leaf.issuer.rfc4514_string()},
            "appearance": {"kind": shown.kind.value, "sealId": shown.seal_id,
                           "imageSha256": hashlib.sha256(shown.png).hexdigest(), "widgets": len(appearances),
                           "dateStamp": dates[0].text if dates else None},
        }
        record = PreparationRecord(
            preparation_id="prep_" + secrets.token_hex(12), app_id=claims.app_id, contract_id=request.contract_id,
            signer_id=signer.signer_id, intent_token_id=claims.token_id, document_sha256=digest,
            field_name=field_name, certificate_serial=chain.serial, certificate_chain=chain.pem(),
            prepared_pdf=prepared.pdf, document_digest=prepared.document_digest,
            region_start=prepared.region_start, region_end=prepared.region_end,
            signed_attrs=prepared.signed_attrs, signing_time=prepared.signing_time,
            details_json=json.dumps(details, ensure_ascii=False, sort_keys=True), state=PREPARED,
            created_at=now, expires_at=now + self._ttl,
        )
        self._store.purge(now - GRACE)
        self._store.add(record)
        return Preparation(record.preparation_id, prepared.signed_attrs, prepared.to_be_signed_digest,
                           record.expires_at)

    # ------------------------------------------------------------ reading

    def get(self, preparation_id: str, contract_id: str = "") -> PreparationView:
        record = self._record(preparation_id, contract_id)
        return PreparationView(
            preparation_id=record.preparation_id, contract_id=record.contract_id, signer_id=record.signer_id,
            document_sha256=record.document_sha256, certificate_serial=record.certificate_serial,
            state=self._state(record), expires_at=record.expires_at)

    # ----------------------------------------------------------- complete

    def check(self, preparation_id: str, signature: bytes, contract_id: str = "") -> None:
        """What ``complete`` checks before it embeds anything, alone: a caller completing
        several documents' preparations checks every signature first."""
        self._verified(preparation_id, signature, contract_id)

    def complete(self, preparation_id: str, signature: bytes, contract_id: str = "") -> SignedDocument:
        record, chain, value = self._verified(preparation_id, signature, contract_id)
        signed = interrupted.finish(
            interrupted.PreparedPdf(record.prepared_pdf, record.document_digest, record.region_start,
                                    record.region_end, record.signed_attrs, record.signing_time),
            chain.leaf, chain.cas, value, timestamper=self._tsa.timestamper())
        result = SignedDocument(signed.pdf, hashlib.sha256(signed.pdf).hexdigest(), record.field_name,
                                chain.serial, signed.signing_time, signed.timestamp_time)
        if not self._store.complete(preparation_id, result.sha256, self._clock()):
            self._ensure_open(self._record(preparation_id, contract_id))  # says why: replayed or expired
            raise FailedPrecondition(f"preparation {preparation_id} can no longer be completed")
        details = json.loads(record.details_json)
        return self._signatures.keep(EVIDENCE_KIND, record.contract_id, record.signer_id, record.intent_token_id,
                                     record.document_sha256, result, details)

    # ---------------------------------------------------------- internals

    def _verified(self, preparation_id: str, signature: bytes,
                  contract_id: str) -> tuple[PreparationRecord, client_chain.ClientChain, bytes]:
        """The open preparation, its chain (checked again: a revocation since the preparation
        refuses it) and the signature value as CMS carries it."""
        if not signature:
            raise invalid("signature", "is required: the signature over toBeSigned")
        record = self._record(preparation_id, contract_id)
        self._ensure_open(record)
        chain = client_chain.parse_chain([record.certificate_chain])
        value = client_chain.verified_signature(chain.leaf, record.signed_attrs, signature)
        if value is None:
            raise invalid("signature", f"does not verify against toBeSigned of preparation {preparation_id} with "
                                       f"the key of certificate {chain.serial}: sign exactly the toBeSigned bytes "
                                       "with that key, SHA-256, ECDSA or RSA PKCS#1 v1.5")
        self._check(chain, record.app_id)
        return record, chain, value

    def _record(self, preparation_id: str, contract_id: str) -> PreparationRecord:
        if not preparation_id:
            raise invalid("preparationId", "is required")
        record = self._store.get(preparation_id)
        # Another contract's preparation is reported as absent, not as someone else's.
        if record is None or (contract_id and record.contract_id != contract_id):
            raise NotFound(f"preparation {preparation_id} not found (expired preparations are deleted after "
                           f"{int(GRACE.total_seconds() // 60)} minutes)")
        return record

    def _state(self, record: PreparationRecord) -> PreparationState:
        if record.state == COMPLETED:
            return PreparationState.COMPLETED
        if record.expires_at <= self._clock():
            return PreparationState.EXPIRED
        return PreparationState.PREPARED

    def _ensure_open(self, record: PreparationRecord) -> None:
        state = self._state(record)
        if state is PreparationState.COMPLETED:
            when = record.completed_at.isoformat() if record.completed_at else "an earlier time"
            raise FailedPrecondition(f"preparation {record.preparation_id} was already completed at {when}: "
                                     "a prepared signature is embedded once; prepare again to sign again")
        if state is PreparationState.EXPIRED:
            raise FailedPrecondition(f"preparation {record.preparation_id} expired at "
                                     f"{record.expires_at.isoformat()}: prepare the signature again")

    def _trusted(self, app_id: str) -> list[x509.Certificate]:
        return [*self._ca.trust_roots(), *self._anchors(app_id)]

    def _check(self, chain: client_chain.ClientChain, app_id: str) -> pki.RevocationInfo:
        known = self._ca.revocation_info([chain.leaf, *chain.cas])
        return client_chain.check_chain(chain, self._trusted(app_id), fetch_timeout=self._fetch_timeout,
                                        known=known)

    def _embedding_context(self, chain: client_chain.ClientChain, app_id: str,
                           revocation: pki.RevocationInfo) -> ValidationContext:
        """What pyHanko embeds as validation data: the signer's chain with the revocation data
        just checked, and the TSA's chain with the platform's own; nothing is fetched."""
        tsa = self._ca.tsa_material()
        platform = self._ca.revocation_info([tsa.cert, *tsa.chain])
        return ValidationContext(
            trust_roots=[_asn1(c) for c in client_chain.as_trust_roots(self._trusted(app_id))],
            other_certs=[_asn1(c) for c in (chain.leaf, *chain.cas, tsa.cert, *tsa.chain)],
            crls=[*revocation.crls, *platform.crls], ocsps=[*revocation.ocsps, *platform.ocsps],
            allow_fetching=False, revocation_mode="hard-fail",
        )


def _asn1(cert: x509.Certificate) -> asn1_x509.Certificate:
    return asn1_x509.Certificate.load(cert.public_bytes(serialization.Encoding.DER))
