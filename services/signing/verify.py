"""Verify every signature and document timestamp in a PDF with pyHanko's validator.

Signatures are validated with pyHanko's AdES long-term validation (ETSI EN 319
102-1, ``ades_lta_validation``): the certificates and revocation data embedded
in the DSS, the signature timestamp and the chain of document timestamps are the
evidence, so a signature made with a one-time certificate that expired minutes
after signing still validates years later, at the time its timestamp proves.
No network is used: revocation data comes from the document and, optionally,
from the caller (``fresh_revocation``: the platform CA's current CRL/OCSP, which
is how a revocation after signing becomes visible, and what the newest
timestamp's TSA certificate needs once the embedded data has aged).

Verdicts: VALID when the signature is intact, cryptographically valid, trusted
at its proven time, and the document was changed afterwards only in ways the
PDF signature rules allow (more signatures, form filling, validation data,
timestamps); INVALID when any of that is proven false (tampering, bad
signature value, revoked certificate, disallowed modification); INDETERMINATE
when trust cannot be established (unknown root, missing revocation data).
"""
from __future__ import annotations

import asyncio
import enum
import io
import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone

from asn1crypto import cms
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from pyhanko.pdf_utils import misc
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.ades.report import AdESFailure, AdESPassed, AdESStatus
from pyhanko.sign.diff_analysis import DiffResult, ModificationLevel
from pyhanko.sign.validation import (
    DocumentSecurityStore,
    EmbeddedPdfSignature,
    SignatureCoverageLevel,
    async_validate_pdf_signature,
    async_validate_pdf_timestamp,
)
from pyhanko.sign.validation.ades import ades_lta_validation
from pyhanko.sign.validation.errors import NoDSSFoundError
from pyhanko.sign.validation.policy_decl import (
    LocalKnowledge,
    PdfSignatureValidationSpec,
    RevinfoOnlineFetchingRule,
    RevocationInfoGatheringSpec,
    SignatureValidationSpec,
)
from pyhanko.sign.validation.status import PdfSignatureStatus, SignatureStatus
from pyhanko_certvalidator import ValidationContext
from pyhanko_certvalidator.context import CertValidationPolicySpec
from pyhanko_certvalidator.ltv.types import ValidationTimingInfo
from pyhanko_certvalidator.policy_decl import REQUIRE_REVINFO, CertRevTrustPolicy
from pyhanko_certvalidator.registry import SimpleTrustManager
from pyhanko_certvalidator.revinfo.archival import process_legacy_crl_input, process_legacy_ocsp_input

from core.errors import invalid
from services.signing.pki import RevocationInfo

_BYTE_RANGE = re.compile(rb"/ByteRange\s*\[\s*(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s*\]")


class Verdict(enum.StrEnum):
    VALID = "VALID"
    INVALID = "INVALID"
    INDETERMINATE = "INDETERMINATE"


class Coverage(enum.StrEnum):
    ENTIRE_FILE = "ENTIRE_FILE"
    ENTIRE_REVISION = "ENTIRE_REVISION"
    PARTIAL = "PARTIAL"


@dataclass(frozen=True)
class SignatureReport:
    """What a verifier needs to know about one signature or document timestamp."""

    field_name: str
    kind: str  # "SIGNATURE" or "DOCUMENT_TIMESTAMP"
    signer: str | None  # subject common name
    signer_subject: str | None  # full subject, RFC 4514
    signing_time: datetime | None  # claimed by the signer
    timestamp_time: datetime | None  # proven by a trusted timestamp
    intact: bool  # the signed bytes hash to the signed digest
    valid: bool  # the signature value checks out against the certificate
    trusted: bool  # a path to a trusted root, not revoked, at the proven time
    revoked: bool
    coverage: Coverage
    modification_level: str | None  # after signing: NONE, LTA_UPDATES, FORM_FILLING, ANNOTATIONS, OTHER
    modifications_allowed: bool | None
    verdict: Verdict
    indication: str  # the AdES (sub)indication behind the verdict
    reason: str | None = None  # the signature's /Reason
    message: str | None = None  # why it is not VALID
    issuer_subject: str | None = None  # the certificate's issuer, RFC 4514
    serial_number: str | None = None  # the certificate's serial, lowercase hex
    timestamp_trusted: bool = False  # the signature (or document) timestamp is intact and trusted

    def to_json(self) -> dict[str, object]:
        data = asdict(self)
        for key in ("signing_time", "timestamp_time"):
            if data[key] is not None:
                data[key] = data[key].astimezone(timezone.utc).isoformat().replace("+00:00", "Z")
        data["coverage"] = self.coverage.value
        data["verdict"] = self.verdict.value
        return {_camel(k): v for k, v in data.items()}


@dataclass(frozen=True)
class VerificationReport:
    valid: bool
    signatures: list[SignatureReport] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # about the document as a whole
    long_term_validation: bool = False  # the DSS holds certificates and revocation data

    def to_json(self) -> dict[str, object]:
        return {"valid": self.valid, "signatures": [s.to_json() for s in self.signatures],
                "problems": list(self.problems), "longTermValidation": self.long_term_validation}


def verify(pdf: bytes, trust_roots: Sequence[x509.Certificate], *,
           fresh_revocation: RevocationInfo | None = None, at: datetime | None = None) -> VerificationReport:
    """Report on every signature in ``pdf``; the document is valid when it has at
    least one signature, every signature and timestamp is VALID, and no bytes
    follow its last revision.

    ``at`` validates as of another time (tests use it to look ahead). Synchronous
    and CPU-bound: async callers run it with ``asyncio.to_thread``.
    """
    if not pdf.lstrip()[:5] == b"%PDF-":
        raise invalid("pdf", "is not a PDF document")
    if not trust_roots:
        raise invalid("trustRoots", "at least one trusted root is required")
    try:
        reader = PdfFileReader(io.BytesIO(pdf), strict=False)
        embedded = list(reader.embedded_signatures)
    except (misc.PdfReadError, ValueError, KeyError, TypeError) as exc:
        raise invalid("pdf", f"cannot be parsed: {exc}") from exc
    roots = [_asn1(c) for c in trust_roots]
    fresh = fresh_revocation or RevocationInfo()
    reports = asyncio.run(_verify_all(embedded, roots, fresh, at))
    problems = []
    if not reports:
        problems.append("the document has no signatures")
    if not pdf.rstrip().endswith(b"%%EOF"):
        # Bytes after the last revision belong to no revision and no signature.
        problems.append("the document has unsigned data after its last revision")
    valid = not problems and all(r.verdict is Verdict.VALID for r in reports)
    return VerificationReport(valid=valid, signatures=reports, problems=problems,
                              long_term_validation=_has_validation_data(reader))


def document_certificates(pdf: bytes) -> list[x509.Certificate]:
    """The signer and TSA certificates a document relies on (from its signatures and
    DSS), for fetching their current status: ``ca.revocation_info(document_certificates(pdf))``."""
    try:
        reader = PdfFileReader(io.BytesIO(pdf), strict=False)
        found = {c.dump() for s in reader.embedded_signatures for c in s.signed_data["certificates"]
                 if c.name == "certificate"}
        try:
            found |= {c.dump() for c in DocumentSecurityStore.read_dss(reader).load_certs()}
        except NoDSSFoundError:
            pass
    except (misc.PdfReadError, ValueError, KeyError, TypeError) as exc:
        raise invalid("pdf", f"cannot be parsed: {exc}") from exc
    return [x509.load_der_x509_certificate(der) for der in sorted(found)]


def signature_certificates(pdf: bytes) -> list[tuple[str, x509.Certificate]]:
    """Each signature's (and document timestamp's) field name and signer certificate."""
    out = []
    for sig in _embedded(pdf):
        try:
            out.append((sig.field_name, x509.load_der_x509_certificate(sig.signer_cert.dump())))
        except (ValueError, KeyError, TypeError, misc.PdfReadError):
            continue  # a malformed signature carries no certificate to check
    return out


def signature_values(pdf: bytes) -> list[cms.ContentInfo]:
    """The CMS of every signature and document timestamp in file order, read from the gap
    each /ByteRange leaves (where the signature value must be) without parsing the PDF:
    a fraction of a millisecond where pyHanko's reader takes tens. Signers write the
    signature dictionary uncompressed, as its /ByteRange is patched in place."""
    found = []
    for match in _BYTE_RANGE.finditer(pdf):
        start, first, gap_end, _ = (int(v) for v in match.groups())
        gap = pdf[start + first:gap_end].strip()
        if not (gap.startswith(b"<") and gap.endswith(b">")):
            continue
        try:
            info = cms.ContentInfo.load(bytes.fromhex(gap[1:-1].decode("ascii")), strict=False)
            _ = info["content"]["signer_infos"][0]["sid"].native  # force parsing: garbage is skipped
        except (ValueError, KeyError, TypeError, IndexError):
            continue
        found.append(info)
    return found


def signer_certificate(info: cms.ContentInfo) -> x509.Certificate | None:
    """The certificate a CMS SignedData names as its (first) signer, if it carries it."""
    sid = info["content"]["signer_infos"][0]["sid"]
    if sid.name != "issuer_and_serial_number":
        return None
    wanted = sid.chosen
    for choice in info["content"]["certificates"] or ():
        cert = choice.chosen
        if choice.name == "certificate" and cert.serial_number == wanted["serial_number"].native \
                and cert.issuer == wanted["issuer"]:
            return x509.load_der_x509_certificate(cert.dump())
    return None


def _embedded(pdf: bytes) -> list[EmbeddedPdfSignature]:
    try:
        return list(PdfFileReader(io.BytesIO(pdf), strict=False).embedded_signatures)
    except (misc.PdfReadError, ValueError, KeyError, TypeError) as exc:
        raise invalid("pdf", f"cannot be parsed: {exc}") from exc


async def _verify_all(embedded: list[EmbeddedPdfSignature], roots: list[asn1_x509.Certificate], fresh: RevocationInfo,
                      at: datetime | None) -> list[SignatureReport]:
    timing = _timing(at)
    reports = []
    for sig in embedded:
        try:
            if sig.sig_object_type == "/DocTimeStamp":
                reports.append(await _verify_timestamp(sig, roots, fresh, timing))
            else:
                reports.append(await _verify_signature(sig, roots, fresh, timing))
        except Exception as exc:  # a malformed signature must not hide the others
            reports.append(_broken(sig, exc))
    return reports


async def _verify_signature(sig: EmbeddedPdfSignature, roots: list[asn1_x509.Certificate],
                            fresh: RevocationInfo, timing: ValidationTimingInfo) -> SignatureReport:
    policy = CertValidationPolicySpec(
        trust_manager=SimpleTrustManager.build(trust_roots=roots),
        revinfo_policy=CertRevTrustPolicy(REQUIRE_REVINFO),
    )
    spec = PdfSignatureValidationSpec(SignatureValidationSpec(
        cert_validation_policy=policy,
        revinfo_gathering_policy=RevocationInfoGatheringSpec(
            online_fetching_rule=RevinfoOnlineFetchingRule.LOCAL_ONLY),
        local_knowledge=LocalKnowledge(
            known_crls=process_legacy_crl_input(list(fresh.crls)),
            known_ocsps=process_legacy_ocsp_input(list(fresh.ocsps)),
        ),
    ))
    result = await ades_lta_validation(sig, spec, timing_info=timing)
    status: PdfSignatureStatus | None = result.api_status
    indication, message = _indication(result.ades_subindic), result.failure_msg
    passed = result.ades_subindic is AdESPassed.OK
    if result.ades_subindic.status is AdESStatus.INDETERMINATE:
        # pyHanko's LTA algorithm wants proof of existence for the DSS contents,
        # which only a later document timestamp gives; a B-LT signature not yet
        # followed by one is checked the classic way at its timestamp's time.
        fallback = await _point_in_time(sig, roots, fresh, timing)
        if fallback is not None:
            status, passed = fallback, fallback.bottom_line
            if passed:
                indication, message = "PASSED/OK", None
    ts_status = status.timestamp_validity if status is not None else None
    intact = bool(status and status.intact)
    crypto_ok = bool(status and status.valid)
    revoked = bool(status and status.revoked) or result.ades_subindic is AdESFailure.REVOKED
    coverage, level, allowed = _modifications(sig)
    trusted = bool(status and status.trusted) and passed
    timestamp_time = ts_status.timestamp if (ts_status and ts_status.trusted) else None

    if not intact:
        verdict, message = Verdict.INVALID, "the signed bytes do not match the signature (document altered)"
    elif not crypto_ok:
        verdict, message = Verdict.INVALID, message or "the signature value is invalid"
    elif revoked:
        verdict, message = Verdict.INVALID, "the signing certificate is revoked"
    elif coverage is Coverage.PARTIAL:
        verdict, message = Verdict.INVALID, "the signature does not cover a whole revision"
    elif allowed is False:
        verdict, message = Verdict.INVALID, "the document was modified after signing in a way that is not allowed"
    elif passed and trusted:
        verdict, message = Verdict.VALID, None
    elif result.ades_subindic.status is AdESStatus.FAILED:
        verdict = Verdict.INVALID
    else:
        verdict = Verdict.INDETERMINATE
    cert = sig.signer_cert
    return SignatureReport(
        field_name=sig.field_name, kind="SIGNATURE",
        signer=_common_name(cert), signer_subject=_subject(cert),
        signing_time=sig.self_reported_timestamp,
        timestamp_time=timestamp_time,
        intact=intact, valid=crypto_ok, trusted=trusted, revoked=revoked,
        coverage=coverage, modification_level=level, modifications_allowed=allowed,
        verdict=verdict, indication=indication,
        reason=_reason(sig), message=message,
        issuer_subject=_issuer(cert), serial_number=_serial(cert),
        timestamp_trusted=bool(ts_status and ts_status.trusted),
    )


async def _verify_timestamp(sig: EmbeddedPdfSignature, roots: list[asn1_x509.Certificate], fresh: RevocationInfo,
                            timing: ValidationTimingInfo) -> SignatureReport:
    status = await async_validate_pdf_timestamp(
        sig, validation_context=_context(sig, roots, fresh, timing.validation_time))
    coverage, level, allowed = _modifications(sig)
    message = None
    if not status.intact:
        verdict, message = Verdict.INVALID, "the timestamped bytes do not match (document altered)"
    elif not status.valid:
        verdict, message = Verdict.INVALID, "the timestamp signature is invalid"
    elif status.revoked:
        verdict, message = Verdict.INVALID, "the TSA certificate is revoked"
    elif coverage is Coverage.PARTIAL or allowed is False:
        verdict, message = Verdict.INVALID, "the document was modified after the timestamp in a way that is not allowed"
    elif status.trusted:
        verdict = Verdict.VALID
    else:
        verdict, message = Verdict.INDETERMINATE, "the TSA certificate is not trusted"
    cert = sig.signer_cert
    return SignatureReport(
        field_name=sig.field_name, kind="DOCUMENT_TIMESTAMP",
        signer=_common_name(cert), signer_subject=_subject(cert),
        signing_time=None, timestamp_time=status.timestamp,
        intact=status.intact, valid=status.valid, trusted=status.trusted, revoked=status.revoked,
        coverage=coverage, modification_level=level, modifications_allowed=allowed,
        verdict=verdict, indication=_status_indication(status), message=message,
        issuer_subject=_issuer(cert), serial_number=_serial(cert), timestamp_trusted=bool(status.trusted),
    )


async def _point_in_time(sig: EmbeddedPdfSignature, roots: list[asn1_x509.Certificate],
                         fresh: RevocationInfo, timing: ValidationTimingInfo) -> PdfSignatureStatus | None:
    """Validate the signature timestamp now, then the signer at the time it proves,
    with the DSS contents and ``fresh`` as revocation data. None without a trusted
    signature timestamp."""
    now = timing.validation_time
    first = await async_validate_pdf_signature(
        sig, signer_validation_context=_context(sig, roots, fresh, now),
        ts_validation_context=_context(sig, roots, fresh, now), skip_diff=True)
    ts = first.timestamp_validity
    if ts is None or not ts.trusted:
        return None
    return await async_validate_pdf_signature(
        sig, signer_validation_context=_context(sig, roots, fresh, ts.timestamp),
        ts_validation_context=_context(sig, roots, fresh, now), skip_diff=True)


def _context(sig: EmbeddedPdfSignature, roots: list[asn1_x509.Certificate], fresh: RevocationInfo,
             moment: datetime) -> ValidationContext:
    kwargs: dict[str, object] = {
        "trust_roots": roots, "allow_fetching": False, "revocation_mode": "require",
        "crls": list(fresh.crls), "ocsps": list(fresh.ocsps), "moment": moment,
    }
    try:
        return DocumentSecurityStore.read_dss(sig.reader).as_validation_context(kwargs)
    except NoDSSFoundError:
        return ValidationContext(**kwargs)  # type: ignore[arg-type]


def _modifications(sig: EmbeddedPdfSignature) -> tuple[Coverage, str | None, bool | None]:
    # ades_lta_validation already ran the integrity and diff analysis on `sig`.
    if not getattr(sig, "_integrity_checked", False):
        sig.compute_integrity_info()
    info = sig.summarise_integrity_info()
    coverage = {
        SignatureCoverageLevel.ENTIRE_FILE: Coverage.ENTIRE_FILE,
        SignatureCoverageLevel.ENTIRE_REVISION: Coverage.ENTIRE_REVISION,
    }.get(info["coverage"], Coverage.PARTIAL)
    diff = info["diff_result"]
    if isinstance(diff, DiffResult):
        level: str | None = diff.modification_level.name
    elif diff is not None:
        level = ModificationLevel.OTHER.name
    else:
        level = ModificationLevel.NONE.name if coverage is Coverage.ENTIRE_FILE else None
    return coverage, level, info["docmdp_ok"]


def _broken(sig: EmbeddedPdfSignature, exc: Exception) -> SignatureReport:
    try:
        name = sig.field_name
    except Exception:  # the field itself may be what is broken
        name = "?"
    return SignatureReport(
        field_name=name, kind="SIGNATURE", signer=None, signer_subject=None,
        signing_time=None, timestamp_time=None, intact=False, valid=False, trusted=False,
        revoked=False, coverage=Coverage.PARTIAL, modification_level=None,
        modifications_allowed=None, verdict=Verdict.INVALID, indication="FORMAT_FAILURE",
        message=f"the signature cannot be processed: {type(exc).__name__}: {exc}",
    )


def _timing(at: datetime | None) -> ValidationTimingInfo:
    if at is None:
        return ValidationTimingInfo.now(tz=timezone.utc)
    if at.tzinfo is None:
        raise invalid("at", "must carry a time zone")
    return ValidationTimingInfo(validation_time=at, best_signature_time=at, point_in_time_validation=True)


def _indication(sub) -> str:
    return f"{sub.status.name}/{sub.name}"


def _status_indication(status: SignatureStatus) -> str:
    if status.trusted:
        return "PASSED/OK"
    if status.trust_problem_indic is not None:
        return _indication(status.trust_problem_indic)
    return "FAILED/SIG_CRYPTO_FAILURE" if not status.valid else "INDETERMINATE/GENERIC"


def _reason(sig: EmbeddedPdfSignature) -> str | None:
    reason = sig.sig_object.get("/Reason")
    return str(reason) if reason is not None else None


def _common_name(cert: asn1_x509.Certificate | None) -> str | None:
    if cert is None:
        return None
    return cert.subject.native.get("common_name")


def _subject(cert: asn1_x509.Certificate | None) -> str | None:
    if cert is None:
        return None
    return x509.load_der_x509_certificate(cert.dump()).subject.rfc4514_string()


def _issuer(cert: asn1_x509.Certificate | None) -> str | None:
    if cert is None:
        return None
    return x509.load_der_x509_certificate(cert.dump()).issuer.rfc4514_string()


def _serial(cert: asn1_x509.Certificate | None) -> str | None:
    return None if cert is None else format(cert.serial_number, "x")


def _has_validation_data(reader: PdfFileReader) -> bool:
    try:
        dss = DocumentSecurityStore.read_dss(reader)
    except (NoDSSFoundError, misc.PdfReadError, ValueError, KeyError, TypeError):
        return False
    return bool(dss.certs) and bool(dss.ocsps or dss.crls)


def _asn1(cert: x509.Certificate) -> asn1_x509.Certificate:
    return asn1_x509.Certificate.load(cert.public_bytes(serialization.Encoding.DER))


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)
