"""What the signing service does with a document: sign it for a signer, lock a checkbox
agreement, timestamp it on completion, verify it.

Signing for a signer (``sign``) in order, each step refusing with its own clear error:
the intent claims must allow this document of this contract (``intent.check_intent``);
no earlier signature of the document may rest on a certificate the platform has since
revoked (a revocation stops the contract: nobody signs on top of it and it is not
completed); then a one-time key and certificate for the subject (``pki.new_signer``)
from the business line's CA (the built-in one, or the outside CA it chose: ``app_ca``),
the appearance (the chosen seal, the handwriting, or the subject's default seal) at
every position, an optional riding seal, the RFC 3161 timestamp and the validation data
(``pades.sign``, PAdES B-LT), and last the evidence record: the claims, what was signed
and with what.

An intent token signs each document it covers once. The signed PDF is kept in the
content-addressed blob store and the evidence record is unique per token, contract and
document, so a repeated request (a retry after a lost answer, or two racing) gets the
first signature back instead of a second one; the loser's unused certificate is revoked
as superseded, like that of any signing that failed after its certificate was issued.

Everything here is synchronous and CPU-bound (pyHanko runs its own event loop per
call); the gRPC server runs handlers on a thread pool.
"""
from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from cryptography import x509

from core.blobs import BlobStore
from core.errors import Aborted, FailedPrecondition, invalid
from services.signing import client_chain, outside_ca, pades, pki, verify
from services.signing.intent import IntentClaims, check_intent
from services.signing.placement import AppearanceKind, Position, date_stamps, placements
from services.signing.seal_library import SealChoice, SealLibrary, SubjectRef
from services.signing.store import EvidenceRecord, EvidenceStore
from services.signing.tsa import TimestampAuthority, token_time

PERSON = "PERSON"
ORG = "ORG"
CHINA_TIME = dt.timezone(dt.timedelta(hours=8), "CST")


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


@dataclass(frozen=True)
class Signer:
    kind: str  # PERSON or ORG
    name: str
    subject: SubjectRef
    subject_id: str = ""
    signer_id: str = ""


@dataclass(frozen=True)
class SignRequest:
    pdf: bytes
    signer: Signer
    contract_id: str
    intent: IntentClaims | None
    positions: Sequence[Position]
    seal_id: str = ""
    handwriting: bytes | None = None
    riding_seal: bool = False
    field_name: str = ""
    reason: str = ""
    date_position: Position | None = None  # where the signing date is stamped, if anywhere
    document_sha256: str = ""  # what the contract recorded for the document; empty: not checked


@dataclass(frozen=True)
class AgreementRequest:
    pdf: bytes
    signer: Signer
    contract_id: str
    reading_seconds: float
    agree_time: dt.datetime | None = None
    client: dict[str, str] = field(default_factory=dict)  # ip, userAgent, deviceId, checkboxText, pageUrl
    intent: IntentClaims | None = None


@dataclass(frozen=True)
class SignedDocument:
    pdf: bytes
    sha256: str
    field_name: str
    certificate_serial: str
    signing_time: dt.datetime | None
    timestamp_time: dt.datetime | None


def certificate_subject(signer: Signer) -> pki.Subject:
    """Who the certificate names: a person by name and hashed identifier, an organisation
    by name and unified social credit code."""
    subject = signer.subject.normalised("signer.subject")
    if not signer.name.strip():
        raise invalid("signer.name", "is required")
    if signer.kind == ORG:
        if subject.id_type != "USCC":
            raise invalid("signer.subject.idType", "an organisation signs under its USCC (unified social credit code)")
        return pki.OrgSubject(signer.name, subject.id)
    if signer.kind == PERSON:
        # Other identifier systems are prefixed, so equal values of two systems never hash alike.
        number = subject.id if subject.id_type == "ID_CARD" else f"{subject.id_type}:{subject.id}"
        return pki.PersonSubject(signer.name, number)
    raise invalid("signer.kind", "must be PERSON or ORG")


class Signatures:
    def __init__(self, ca: pki.PlatformCa, tsa: TimestampAuthority, seals: SealLibrary,
                 evidence: EvidenceStore, blobs: BlobStore, clock: Callable[[], dt.datetime] = _now,
                 providers: Callable[[str], pki.CaProvider] | None = None):
        self._ca = ca
        self._providers = providers  # the CA of a business line; None: the built-in CA for all
        self._tsa = tsa
        self._seals = seals
        self._evidence = evidence
        self._blobs = blobs
        self._clock = clock

    # -------------------------------------------------------------- signing

    def sign(self, request: SignRequest) -> SignedDocument:
        signer = request.signer
        digest = _sha256(request.pdf)
        if request.document_sha256:
            pades.check_unchanged(request.pdf, request.document_sha256)  # before a certificate is issued
        claims = check_intent(request.intent, contract_id=request.contract_id, document_sha256=digest,
                              signer_id=signer.signer_id, subject_id=signer.subject_id, now=self._clock(),
                              delegable=signer.kind == ORG)
        earlier = self.earlier(claims.token_id, request.contract_id, digest)
        if earlier is not None:
            return earlier
        subject = certificate_subject(signer)
        self.refuse_revoked(request.pdf)
        kind = AppearanceKind.COMPANY_SEAL if signer.kind == ORG else AppearanceKind.PERSONAL_SEAL
        shown = self.appearance(request, kind)
        appearances = [pades.Appearance(shown.png, p)
                       for p in placements(request.pdf, request.positions, shown.kind, shown.pixels)]
        riding = None
        if request.riding_seal:
            seal = (shown if shown.kind is not AppearanceKind.HANDWRITING
                    else self._default_seal(signer, kind, claims.app_id))
            size = pades.COMPANY_SEAL_SIZE if kind is AppearanceKind.COMPANY_SEAL else pades.PERSON_SEAL_SIZE
            riding = pades.RidingSeal(seal.png, size=size)
        field_name = _field_name(request.field_name, signer.signer_id, "sig")
        dates = (date_stamps(request.pdf, request.date_position, signing_date(self._clock()))
                 if request.date_position is not None else [])

        ca = self._providers(claims.app_id) if self._providers is not None else self._ca
        material = pki.new_signer(ca, subject, subject_id=signer.subject_id or None)
        try:
            context = (pades.signing_validation_context(self._ca, material, [self._tsa_cert]) if ca is self._ca
                       else outside_ca.signing_context(ca, self._ca, material))
            signed = pades.sign_detailed(request.pdf, material, field_name=field_name,
                                         timestamper=self._tsa.timestamper(), validation_context=context,
                                         appearances=appearances, riding_seal=riding,
                                         reason=request.reason or None,
                                         expected_sha256=request.document_sha256 or None,
                                         date_stamps=dates)
            result = SignedDocument(signed.pdf, _sha256(signed.pdf), field_name,
                                    format(material.cert.serial_number, "x"), signed.signing_time,
                                    signed.timestamp_time)
            kept = self.keep("SIGNATURE", request.contract_id, signer.signer_id, claims.token_id, digest, result, {
                "intent": claims.to_json(),
                "signer": {"signerId": signer.signer_id, "kind": signer.kind, "name": signer.name,
                           "subjectId": signer.subject_id, "idType": signer.subject.id_type},
                "appearance": {"kind": shown.kind.value, "sealId": shown.seal_id,
                               "imageSha256": _sha256(shown.png), "widgets": len(appearances),
                               "ridingSeal": riding is not None, "dateStamp": dates[0].text if dates else None},
            })
        except BaseException:
            self._retire(material, ca)
            raise
        if kept.certificate_serial != result.certificate_serial:
            self._retire(material, ca)  # a racing request was recorded first; ours is discarded
        return kept

    def seal_agreement(self, request: AgreementRequest) -> SignedDocument:
        """Checkbox (AGREEMENT) signing: the platform seal locks the document; the evidence is kept."""
        signer = request.signer
        if not request.contract_id:
            raise invalid("contractId", "is required")
        digest = _sha256(request.pdf)
        claims = None
        if request.intent is not None:
            claims = check_intent(request.intent, contract_id=request.contract_id, document_sha256=digest,
                                  signer_id=signer.signer_id, subject_id=signer.subject_id, now=self._clock())
            earlier = self.earlier(claims.token_id, request.contract_id, digest)
            if earlier is not None:
                return earlier
        self.refuse_revoked(request.pdf)
        material = self._ca.platform_seal()
        context = pades.signing_validation_context(self._ca, material, [self._tsa_cert])
        field_name = _field_name("", signer.signer_id, "agreement")
        lock = pades.lock_agreement(
            request.pdf, material, signer_id=signer.signer_id, signer_name=signer.name,
            ip=request.client.get("ip", ""), user_agent=request.client.get("userAgent", ""),
            reading_seconds=request.reading_seconds, field_name=field_name, timestamper=self._tsa.timestamper(),
            validation_context=context, contract_id=request.contract_id, agreed_at=request.agree_time,
        )
        result = SignedDocument(lock.pdf, _sha256(lock.pdf), field_name, format(material.cert.serial_number, "x"),
                                lock.signing_time, lock.timestamp_time)
        return self.keep("AGREEMENT", request.contract_id, signer.signer_id, claims.token_id if claims else None,
                         digest, result, {
            "agreement": lock.evidence,
            "client": dict(request.client),
            "intent": claims.to_json() if claims else None,
        })

    def timestamp(self, pdf: bytes) -> SignedDocument:
        """PAdES B-LTA: validation data for the TSA and a document timestamp over everything."""
        self.refuse_revoked(pdf)
        tsa = self._ca.tsa_material()
        context = pades.signing_validation_context(self._ca, tsa)
        name = f"timestamp_{secrets.token_hex(6)}"
        stamped = pades.timestamp_document(pdf, timestamper=self._tsa.timestamper(), validation_context=context,
                                           field_name=name)
        stamp_time = token_time(verify.signature_values(stamped)[-1])
        return SignedDocument(stamped, _sha256(stamped), name, format(tsa.cert.serial_number, "x"), None, stamp_time)

    # ---------------------------------------------------------- verifying

    def verify(self, pdf: bytes, extra_roots: Sequence[x509.Certificate] = ()) -> verify.VerificationReport:
        """Every signature of any PDF, trusting the platform roots plus ``extra_roots``,
        with the platform's current revocation data (a revocation after signing shows)."""
        if not pdf.lstrip()[:5] == b"%PDF-":
            raise invalid("pdf", "is not a PDF document")
        fresh = self._ca.revocation_info(verify.document_certificates(pdf))
        return verify.verify(pdf, [*self._ca.trust_roots(), *client_chain.as_trust_roots(extra_roots)],
                             fresh_revocation=fresh)

    def refuse_revoked(self, pdf: bytes) -> None:
        """Refuse a document one of whose signatures rests on a certificate we revoked."""
        issuing = self._ca.issuing_cert.subject
        for value in verify.signature_values(pdf):
            cert = verify.signer_certificate(value)
            if cert is None or cert.issuer != issuing:
                continue
            record = self._ca.registry.get(cert.serial_number)
            if record is not None and record.status is pki.CertStatus.REVOKED:
                raise FailedPrecondition(
                    f"a signature of the document was made with certificate {cert.serial_number:x}, which was "
                    f"revoked ({record.revocation_reason}): the document can no longer be signed or completed")

    # ---------------------------------------------------------- internals

    @property
    def _tsa_cert(self) -> x509.Certificate:
        return self._ca.tsa_material().cert

    def appearance(self, request: SignRequest, kind: AppearanceKind) -> SealChoice:
        """The seal or handwriting a signature shows: the chosen one, or the subject's default seal."""
        if request.seal_id and request.handwriting:
            raise invalid("appearance", "give a seal id or a handwriting image, not both")
        if request.seal_id:
            return self._seals.chosen(request.seal_id, request.signer.subject, kind, request.signer.subject_id)
        if request.handwriting:
            return self._seals.handwriting(request.handwriting)
        return self._default_seal(request.signer, kind, _app_id(request))

    def _default_seal(self, signer: Signer, kind: AppearanceKind, app_id: str) -> SealChoice:
        return self._seals.default_for(signer.subject, kind, signer.name, signer.subject_id, app_id)

    def earlier(self, token_id: str, contract_id: str, digest: str) -> SignedDocument | None:
        """What this intent token already made of this document, if anything."""
        record = self._evidence.find(token_id, contract_id, digest)
        if record is None:
            return None
        times = json.loads(record.record_json)
        return SignedDocument(
            pdf=self._blobs.get("sha256:" + record.signed_sha256), sha256=record.signed_sha256,
            field_name=record.field_name, certificate_serial=record.certificate_serial,
            signing_time=_parse_time(times.get("signingTime")), timestamp_time=_parse_time(times.get("timestampTime")))

    def _retire(self, material: pki.SignerMaterial, ca: pki.CaProvider) -> None:
        # The one-time key is gone either way; a certificate that signed nothing kept
        # should not look usable in the registry, CRL or OCSP.
        with contextlib.suppress(Exception):
            ca.revoke(material.cert.serial_number, pki.RevocationReason.SUPERSEDED)

    def keep(self, kind: str, contract_id: str, signer_id: str, token_id: str | None, before: str,
             result: SignedDocument, details: dict[str, object]) -> SignedDocument:
        """Store the signed PDF and its evidence; a request that lost a race gets the winner's result."""
        self._blobs.put(result.pdf)
        if self._record(kind, contract_id, signer_id, token_id, before, result, details):
            return result
        earlier = self.earlier(token_id, contract_id, before) if token_id else None
        if earlier is None:
            raise Aborted("a concurrent signing of this document was recorded first: retry")
        return earlier

    def _record(self, kind: str, contract_id: str, signer_id: str, token_id: str | None, before: str,
                result: SignedDocument, details: dict[str, object]) -> bool:
        record = {
            "kind": kind, "contractId": contract_id, "fieldName": result.field_name,
            "certificateSerial": result.certificate_serial, "documentSha256": before,
            "signedSha256": result.sha256, **details,
            "signingTime": result.signing_time.isoformat() if result.signing_time else None,
            "timestampTime": result.timestamp_time.isoformat() if result.timestamp_time else None,
        }
        text = json.dumps(record, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
        return self._evidence.add(EvidenceRecord(
            evidence_id="ev_" + secrets.token_hex(10), kind=kind, contract_id=contract_id, signer_id=signer_id,
            intent_token_id=token_id, field_name=result.field_name,
            certificate_serial=result.certificate_serial, document_sha256=before, signed_sha256=result.sha256,
            record_json=text, record_sha256=_sha256(text.encode()), created_at=self._clock(),
        ))


def _app_id(request: SignRequest) -> str:
    # The business line whose intent token signs, for its default seal style.
    return request.intent.app_id if request.intent is not None else ""


def signing_date(moment: dt.datetime) -> str:
    """The date of ``moment`` in China (UTC+8, no daylight saving) as a contract states it."""
    day = moment.astimezone(CHINA_TIME)
    return f"{day.year}年{day.month}月{day.day}日"


def _parse_time(value: object) -> dt.datetime | None:
    return dt.datetime.fromisoformat(str(value)) if value else None


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _field_name(requested: str, signer_id: str, prefix: str) -> str:
    if requested:
        return requested
    if signer_id and "." not in signer_id:
        return f"{prefix}_{signer_id}" if prefix == "agreement" else signer_id
    return f"{prefix}_{secrets.token_hex(6)}"


