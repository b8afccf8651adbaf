"""PAdES signing with pyHanko: visible seals, timestamps, validation data, B-LTA.

Every signature this module makes is PAdES baseline B-LT in a single incremental
revision: the CMS carries an RFC 3161 signature timestamp, and the certificates,
OCSP responses and CRLs needed to validate the signer and the TSA are written to
the document security store (DSS) of the same revision, before the signature
(pyHanko's ``SigDSSPlacementPreference.TOGETHER_WITH_SIGNATURE``; VRI entries are
omitted, as current PAdES allows). Earlier signatures stay valid because each
signing only appends a revision that adds a signature field, its widgets and
DSS entries, all of which pyHanko's difference analysis classifies as allowed.
``timestamp_document`` then adds a document timestamp (B-LTA) when a contract
completes.

Appearance: the signature field's widget shows the seal or handwriting PNG as an
image XObject with a soft mask (transparency preserved). We build the field and
its appearance streams ourselves and let pyHanko fill in the signature value
(``NoOpStampStyle`` keeps our appearance).

Date stamp: the signing date as text (e.g. 2026年11月25日) in one more widget of the same
signature field, so it is part of the signed revision like the seal. The text is set in
STSong-Light, one of the Adobe CJK fonts every PDF reader provides (not embedded), with
the UniGB-UCS2-H encoding, so text extraction reads it back as the date.

Riding seal (骑缝章): ONE signature field with one widget per page, each widget
showing that page's vertical slice of the seal at the right edge (optionally
together with the signer's main seal widget, still one signature). Why widgets
and not slices stamped into the page content: a widget of a new signature field
is a change pyHanko's difference analysis (and Acrobat) allow after earlier
signatures, while new page content is not, so a riding seal added by the second
signer would invalidate the first. A field with several widgets is standard PDF
(ISO 32000 §12.7.1); the widget kids carry no /Parent, as pyHanko writes its own
kids, because older poppler (22.x, Debian 12's pdfsig) takes a kid with /Parent
for a child field and then reports the signature as unsigned. pyHanko's signing
session expects a single widget while it prepares the field, so the remaining
widgets are attached after ``prepare_tbs_document`` and before the document is
digested: they are part of the signed revision.

``sign`` is a pure function of its inputs (and the clock): document bytes in,
signed document bytes out; the contract service serialises signers of one
document with an optimistic version check. The functions here are synchronous
and CPU-bound: async callers run them with ``asyncio.to_thread``.
"""
from __future__ import annotations

import asyncio
import functools
import hashlib
import io
import json
import zlib
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import datetime, timezone

from asn1crypto import cms
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from PIL import Image
from pyhanko.pdf_utils import generic, misc
from pyhanko.pdf_utils.generic import pdf_name, pdf_string
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.sign import fields, signers
from pyhanko.sign.general import SigningError
from pyhanko.sign.signers.pdf_cms import PdfCMSSignedAttributes, Signer
from pyhanko.sign.signers.pdf_signer import (
    DSSContentSettings,
    SigDSSPlacementPreference,
    TimestampDSSContentSettings,
)
from pyhanko.sign.timestamps import TimeStamper
from pyhanko.stamp import NoOpStampStyle
from pyhanko_certvalidator import ValidationContext
from pyhanko_certvalidator.errors import RevokedError
from pyhanko_certvalidator.registry import SimpleCertificateStore

from core.errors import AlreadyExists, FailedPrecondition, InvalidArgument, invalid
from services.signing.anchors import Placement, Rect, crop_box
from services.signing.keystore import CmsSignerSource
from services.signing.pki import CaProvider, RevocationInfo, SignerMaterial
from services.signing.tsa import token_time

# A real company seal is 40–42 mm across; 42 mm in points.
COMPANY_SEAL_SIZE = 119.0
PERSON_SEAL_SIZE = 57.0  # 20 mm
DATE_FONT_SIZE = 10.5  # 五号, the usual size of contract text
DATE_FONT = "STSong-Light"
_WIDGET_FLAGS = 4 | 128  # Print | Locked

_DSS = DSSContentSettings(
    include_vri=False,
    placement=SigDSSPlacementPreference.TOGETHER_WITH_SIGNATURE,
    next_ts_settings=TimestampDSSContentSettings(include_vri=False),
)


@dataclass(frozen=True)
class Appearance:
    """An image (normalised PNG) shown in a rectangle of one page."""

    png: bytes
    placement: Placement


@dataclass(frozen=True)
class RidingSeal:
    """A seal cut into one vertical slice per page, placed at each page's right edge.

    ``size`` is the seal's diameter in points; ``center_y`` the slices' vertical
    centre (default: the middle of each page).
    """

    png: bytes
    size: float = COMPANY_SEAL_SIZE
    center_y: float | None = None


@dataclass(frozen=True)
class DateStamp:
    """Text (the signing date) drawn in a rectangle of one page at ``font_size`` points."""

    text: str
    placement: Placement
    font_size: float = DATE_FONT_SIZE


@dataclass(frozen=True)
class _Widget:
    page_index: int
    rect: Rect
    png: bytes | None = None
    slice: tuple[int, int] | None = None  # (index, count) of a vertical slice of the image
    text: DateStamp | None = None


# ---------------------------------------------------------------- signer


class KeySigner(Signer):
    """A pyHanko Signer over a key already in memory (a one-time or platform key)."""

    def __init__(self, material: SignerMaterial):
        cert = _asn1(material.cert)
        super().__init__(
            signing_cert=cert,
            cert_registry=SimpleCertificateStore.from_certs([_asn1(c) for c in material.chain]),
            embed_roots=True,
        )
        self._key = material.key

    async def async_sign_raw(self, data: bytes, digest_algorithm: str, dry_run: bool = False) -> bytes:
        algorithm = {"sha256": hashes.SHA256(), "sha384": hashes.SHA384(),
                     "sha512": hashes.SHA512()}.get(digest_algorithm)
        if algorithm is None:
            raise SigningError(f"unsupported digest {digest_algorithm}")
        if isinstance(self._key, ec.EllipticCurvePrivateKey):
            return self._key.sign(data, ec.ECDSA(algorithm))
        if isinstance(self._key, rsa.RSAPrivateKey):
            return self._key.sign(data, padding.PKCS1v15(), algorithm)
        raise SigningError("only EC and RSA signer keys are supported")


def cms_signer(material: SignerMaterial) -> Signer:
    """The pyHanko signer for ``material``: a token key brings pyHanko's PKCS#11 signer,
    a key in memory gets :class:`KeySigner`."""
    if isinstance(material.key, CmsSignerSource):
        return material.key.cms_signer(material.cert, material.chain)
    return KeySigner(material)


# --------------------------------------------------------- public functions


def signing_validation_context(ca: CaProvider, signer: SignerMaterial,
                               timestamper_certs: Sequence[x509.Certificate] = ()) -> ValidationContext:
    """A validation context that knows our roots, chains and current revocation data,
    so pyHanko validates before signing and embeds everything, with no network.
    Make one per signing: a context accumulates state as it validates.

    Revocation data is required for every certificate below the root: a signer
    whose certificate is revoked, or whose status is unknown, cannot sign.
    """
    certs = [signer.cert, *signer.chain, *timestamper_certs]
    info = ca.revocation_info(certs)
    return _validation_context(ca.trust_roots(), certs, info)


def _validation_context(roots: Sequence[x509.Certificate], certs: Sequence[x509.Certificate],
                        info: RevocationInfo) -> ValidationContext:
    return ValidationContext(
        trust_roots=[_asn1(c) for c in roots],
        other_certs=[_asn1(c) for c in certs],
        crls=list(info.crls),
        ocsps=list(info.ocsps),
        allow_fetching=False,
        revocation_mode="require",
    )


@dataclass(frozen=True)
class SignedPdf:
    """A signed document and the two times its new signature states."""

    pdf: bytes
    signing_time: datetime  # the signer's claimed time (/M; PAdES has no signingTime attribute)
    timestamp_time: datetime | None  # genTime of the signature timestamp token


def sign(pdf: bytes, signer: SignerMaterial, *, field_name: str, timestamper: TimeStamper,
         validation_context: ValidationContext, appearance: Appearance | None = None,
         riding_seal: RidingSeal | None = None, reason: str | None = None,
         location: str | None = None, expected_sha256: str | None = None,
         appearances: Sequence[Appearance] = (), date_stamps: Sequence[DateStamp] = ()) -> bytes:
    """Add one PAdES B-LT signature as an incremental update and return the new PDF.

    The signature is visible at ``appearance`` (and every one of ``appearances``:
    one signature may show its seal at several places) and/or as a riding seal
    across all pages, and shows every one of ``date_stamps``; with none it is invisible.
    ``expected_sha256`` guards against signing a document other than the one the
    signer approved.
    """
    return sign_detailed(pdf, signer, field_name=field_name, timestamper=timestamper,
                         validation_context=validation_context, appearance=appearance,
                         riding_seal=riding_seal, reason=reason, location=location,
                         expected_sha256=expected_sha256, appearances=appearances, date_stamps=date_stamps).pdf


def sign_detailed(pdf: bytes, signer: SignerMaterial, *, field_name: str, timestamper: TimeStamper,
                  validation_context: ValidationContext, appearance: Appearance | None = None,
                  riding_seal: RidingSeal | None = None, reason: str | None = None,
                  location: str | None = None, expected_sha256: str | None = None,
                  appearances: Sequence[Appearance] = (), date_stamps: Sequence[DateStamp] = ()) -> SignedPdf:
    """``sign``, also returning the new signature's times (read from the CMS just made,
    which costs nothing, where reading them back from the PDF means parsing it again)."""
    if expected_sha256 is not None:
        check_unchanged(pdf, expected_sha256)
    writer = _open_writer(pdf)
    _check_field_free(writer, field_name)
    widgets = [_Widget(a.placement.page_index, a.placement.rect, a.png)
               for a in ([appearance] if appearance is not None else []) + list(appearances)]
    if riding_seal is not None:
        widgets.extend(_riding_widgets(writer, riding_seal))
    widgets.extend(_Widget(d.placement.page_index, d.placement.rect, text=d) for d in date_stamps)
    if not widgets:
        widgets.append(_Widget(0, (0.0, 0.0, 0.0, 0.0)))
    field, extra_kids = _add_signature_field(writer, field_name, widgets)

    meta = signers.PdfSignatureMetadata(
        field_name=field_name,
        md_algorithm="sha256",
        subfilter=fields.SigSeedSubFilter.PADES,
        reason=reason,
        location=location,
        embed_validation_info=True,
        validation_context=validation_context,
        signer_key_usage={"non_repudiation"},
        dss_settings=_DSS,
    )
    pdf_signer = signers.PdfSigner(meta, cms_signer(signer), timestamper=timestamper,
                                   stamp_style=NoOpStampStyle(border_width=0))
    try:
        return asyncio.run(_sign_async(pdf_signer, writer, field, extra_kids))
    except SigningError as exc:
        raise _signing_failure(exc) from exc


def check_unchanged(pdf: bytes, expected_sha256: str) -> None:
    """Refuse a document whose bytes are not the ones the contract recorded."""
    if hashlib.sha256(pdf).hexdigest() != expected_sha256.strip().lower():
        raise FailedPrecondition("the document changed: its SHA-256 no longer matches the contract's record")


def timestamp_document(pdf: bytes, *, timestamper: TimeStamper, validation_context: ValidationContext,
                       field_name: str | None = None) -> bytes:
    """Append a document timestamp (PAdES B-LTA) with validation data for the TSA."""
    writer = _open_writer(pdf)
    if field_name is not None:
        _check_field_free(writer, field_name)
    stamper = signers.PdfTimeStamper(timestamper, field_name=field_name)
    try:
        out = asyncio.run(stamper.async_timestamp_pdf(
            writer, "sha256", validation_context,
            dss_settings=TimestampDSSContentSettings(include_vri=False),
            embed_roots=True,
        ))
    except SigningError as exc:
        raise _signing_failure(exc) from exc
    return out.getvalue()


def riding_seal_rects(page_boxes: Sequence[Rect], seal: RidingSeal) -> list[Rect]:
    """Where each slice of a riding seal goes: page i gets slice i at its right edge."""
    n = len(page_boxes)
    width = seal.size / n
    rects = []
    for _left, bottom, right, top in page_boxes:
        cy = seal.center_y if seal.center_y is not None else (bottom + top) / 2
        cy = min(max(cy, bottom + seal.size / 2), top - seal.size / 2)
        rects.append((right - width, cy - seal.size / 2, right, cy + seal.size / 2))
    return rects


# ------------------------------------------------------------- AGREEMENT


@dataclass(frozen=True)
class AgreementEvidence:
    """What a checkbox agreement proves: who agreed to which document, when and how."""

    signer_id: str
    signer_name: str
    agreed_at: str  # RFC 3339, UTC
    ip: str
    user_agent: str
    reading_seconds: float
    document_sha256: str
    contract_id: str | None = None

    def to_json(self) -> dict[str, object]:
        return {_camel(k): v for k, v in asdict(self).items()}

    def canonical_json(self) -> str:
        """The exact text whose SHA-256 the signature carries (sorted keys, no spaces)."""
        return json.dumps(self.to_json(), ensure_ascii=False, sort_keys=True, separators=(",", ":"))

    def digest(self) -> str:
        return hashlib.sha256(self.canonical_json().encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class AgreementLock:
    pdf: bytes
    evidence: dict[str, object]
    signing_time: datetime | None = None
    timestamp_time: datetime | None = None


def lock_agreement(pdf: bytes, platform_seal: SignerMaterial, *, signer_id: str, signer_name: str,
                   ip: str, user_agent: str, reading_seconds: float, field_name: str,
                   timestamper: TimeStamper, validation_context: ValidationContext,
                   contract_id: str | None = None, agreed_at: datetime | None = None,
                   appearance: Appearance | None = None) -> AgreementLock:
    """Checkbox (AGREEMENT) signing: the platform seal signs the document to lock it.

    The signature's /Reason names the signer and carries the SHA-256 of the
    canonical evidence JSON, so the full record (kept by the platform; it holds
    an IP address and user agent, which do not belong in a document that
    travels) is bound to the signed PDF. Returns the PDF and the evidence record.
    """
    if not signer_id or not signer_name.strip():
        raise invalid("signerId", "signer id and name are required")
    if reading_seconds < 0:
        raise invalid("readingSeconds", "must not be negative")
    when = (agreed_at or datetime.now(timezone.utc)).astimezone(timezone.utc)
    evidence = AgreementEvidence(
        signer_id=signer_id, signer_name=signer_name.strip(),
        agreed_at=when.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        ip=ip, user_agent=user_agent, reading_seconds=round(float(reading_seconds), 3),
        document_sha256=hashlib.sha256(pdf).hexdigest(), contract_id=contract_id,
    )
    digest = evidence.digest()
    reason = f"Checkbox agreement by {evidence.signer_name} at {evidence.agreed_at}; evidence sha256:{digest}"
    signed = sign_detailed(pdf, platform_seal, field_name=field_name, timestamper=timestamper,
                           validation_context=validation_context, appearance=appearance, reason=reason)
    record = evidence.to_json()
    record.update({
        "evidenceSha256": digest,
        "fieldName": field_name,
        "sealCertificateSerial": format(platform_seal.cert.serial_number, "x"),
        "signedDocumentSha256": hashlib.sha256(signed.pdf).hexdigest(),
    })
    return AgreementLock(signed.pdf, record, signed.signing_time, signed.timestamp_time)


# ---------------------------------------------------------------- internals


async def _sign_async(pdf_signer: signers.PdfSigner, writer: IncrementalPdfFileWriter,
                      field: generic.DictionaryObject,
                      extra_kids: list[generic.IndirectObject]) -> SignedPdf:
    # pyHanko's own sign_pdf, unrolled so the extra riding-seal widgets can be
    # attached after the single-widget appearance step (see the module docstring).
    session = pdf_signer.init_signing_session(writer, existing_fields_only=True)
    validation_info = await session.perform_presign_validation(writer)
    reserved = await _reserve(pdf_signer)
    tbs = session.prepare_tbs_document(validation_info=validation_info, bytes_reserved=reserved)
    if extra_kids:
        field["/Kids"].extend(extra_kids)
    prepared, output = tbs.digest_tbs_document()
    post = await tbs.perform_signature(
        prepared.document_digest,
        PdfCMSSignedAttributes(signing_time=session.system_time),
    )
    await post.post_signature_processing(output)
    return SignedPdf(misc.finalise_output(None, output).getvalue(), session.system_time,
                     _timestamp_time(post.sig_contents))


def _timestamp_time(signature: bytes | cms.ContentInfo | None) -> datetime | None:
    """genTime of the signature timestamp token in a CMS SignedData."""
    if signature is None:
        return None
    info = signature if isinstance(signature, cms.ContentInfo) else cms.ContentInfo.load(bytes(signature))
    for attribute in info["content"]["signer_infos"][0]["unsigned_attrs"] or ():
        if attribute["type"].native == "signature_time_stamp_token":
            return token_time(attribute["values"][0])
    return None


async def _reserve(pdf_signer: signers.PdfSigner) -> int:
    """Hex characters to reserve for the CMS, from its parts' sizes.

    pyHanko's own estimate builds and signs a complete dummy CMS (about a third
    of the signing time); the parts are known: certificates, one timestamp
    token like the cached dummy, an ECDSA/RSA signature and the attributes.
    """
    signer = pdf_signer.signer
    certs = len(signer.signing_cert.dump()) + sum(len(c.dump()) for c in signer.cert_registry)
    token = 0
    if pdf_signer.default_timestamper is not None:
        token = len((await pdf_signer.default_timestamper.async_dummy_response("sha256")).dump())
    # signature (<= 512 for RSA-4096) + signed attributes and CMS framing (~1.5 KB).
    der = certs + token + 512 + 2048
    return 2 * der + 2 * (der // 4)  # hex, plus a 25% margin like pyHanko's


def _signing_failure(exc: SigningError) -> Exception:
    cause = exc.__cause__
    while cause is not None and not isinstance(cause, RevokedError):
        cause = cause.__cause__
    if isinstance(cause, RevokedError):
        return FailedPrecondition("the signing certificate is revoked")
    return FailedPrecondition(f"cannot sign: {exc}")


def _open_writer(pdf: bytes) -> IncrementalPdfFileWriter:
    if not pdf.lstrip()[:5] == b"%PDF-":
        raise invalid("pdf", "is not a PDF document")
    try:
        writer = IncrementalPdfFileWriter(io.BytesIO(pdf))
    except (misc.PdfReadError, ValueError) as exc:
        raise invalid("pdf", f"cannot be parsed: {exc}") from exc
    if writer.prev.encrypted:
        raise invalid("pdf", "encrypted PDFs cannot be signed")
    return writer


def _check_field_free(writer: IncrementalPdfFileWriter, field_name: str) -> None:
    if not field_name or "." in field_name:
        raise invalid("fieldName", "must be non-empty and contain no '.'")
    for name, value, _ in fields.enumerate_sig_fields(writer.prev, with_name=field_name):
        if value is not None:
            raise AlreadyExists(f"signature field {name} is already signed")
        raise AlreadyExists(f"a signature field named {name} already exists")


def _riding_widgets(writer: IncrementalPdfFileWriter, seal: RidingSeal) -> list[_Widget]:
    boxes = [crop_box(writer, i) for i in range(int(writer.root["/Pages"]["/Count"]))]
    rects = riding_seal_rects(boxes, seal)
    return [_Widget(i, rect, seal.png, (i, len(rects))) for i, rect in enumerate(rects)]


def _add_signature_field(writer: IncrementalPdfFileWriter, field_name: str,
                         widgets: list[_Widget]) -> tuple[generic.DictionaryObject, list[generic.IndirectObject]]:
    """An empty signature field with one widget per entry; returns the field and the
    widgets beyond the first, which the caller attaches once pyHanko is done with it."""
    root = writer.root
    if "/AcroForm" in root:
        form = root["/AcroForm"]
        if "/Fields" not in form:
            form[pdf_name("/Fields")] = generic.ArrayObject()
            writer.update_container(form)
        fields_array = form["/Fields"]
        form_is_new = False
    else:
        form = generic.DictionaryObject({pdf_name("/Fields"): generic.ArrayObject()})
        root[pdf_name("/AcroForm")] = writer.add_object(form)
        writer.update_root()
        fields_array = form["/Fields"]
        form_is_new = True

    field = generic.DictionaryObject({
        pdf_name("/FT"): pdf_name("/Sig"),
        pdf_name("/T"): pdf_string(field_name),
    })
    field_ref = writer.add_object(field)
    combined = len(widgets) == 1
    kids = []
    date_font = None  # one font object for every date stamp of the signature
    for widget in widgets:
        page_ref, _ = writer.find_page_for_modification(widget.page_index)
        # One widget: merged with the field, as pyHanko and most signers do.
        annot = field if combined else generic.DictionaryObject()
        annot.update({
            pdf_name("/Type"): pdf_name("/Annot"),
            pdf_name("/Subtype"): pdf_name("/Widget"),
            pdf_name("/F"): generic.NumberObject(_WIDGET_FLAGS),
            pdf_name("/Rect"): generic.ArrayObject(generic.FloatObject(round(v, 3)) for v in widget.rect),
            pdf_name("/P"): page_ref,
        })
        if widget.png is not None:
            annot[pdf_name("/AP")] = generic.DictionaryObject(
                {pdf_name("/N"): _image_appearance(writer, _image_planes(widget.png, widget.slice), widget.rect)})
        elif widget.text is not None:
            date_font = date_font or _date_font(writer)
            annot[pdf_name("/AP")] = generic.DictionaryObject(
                {pdf_name("/N"): _text_appearance(writer, widget.text, widget.rect, date_font)})
        # Several widgets: kids without /Parent. Poppler 22 takes a kid with
        # /Parent for a child field (then reported unsigned); pyHanko writes its
        # widget kids the same way.
        annot_ref = field_ref if combined else writer.add_object(annot)
        writer.register_annotation(page_ref, annot_ref)
        kids.append(annot_ref)
    if not combined:
        field[pdf_name("/Kids")] = generic.ArrayObject(kids[:1])
    fields_array.append(field_ref)
    if not form_is_new:
        writer.update_container(fields_array)
    return field, ([] if combined else kids[1:])


@dataclass(frozen=True)
class _Planes:
    width: int
    height: int
    color: bytes  # Flate-compressed RGB
    alpha: bytes  # Flate-compressed soft mask


def _image_appearance(writer: IncrementalPdfFileWriter, planes: _Planes, rect: Rect) -> generic.IndirectObject:
    """A form XObject drawing the image over the whole widget rectangle."""
    width, height = rect[2] - rect[0], rect[3] - rect[1]

    def image(colour_space: str, data: bytes, **extra: generic.PdfObject) -> generic.IndirectObject:
        return writer.add_object(generic.StreamObject({
            pdf_name("/Type"): pdf_name("/XObject"), pdf_name("/Subtype"): pdf_name("/Image"),
            pdf_name("/Width"): generic.NumberObject(planes.width),
            pdf_name("/Height"): generic.NumberObject(planes.height),
            pdf_name("/ColorSpace"): pdf_name(colour_space),
            pdf_name("/BitsPerComponent"): generic.NumberObject(8),
            pdf_name("/Filter"): pdf_name("/FlateDecode"),
            **{pdf_name(k): v for k, v in extra.items()},
        }, encoded_data=data))

    xobject = image("/DeviceRGB", planes.color, **{"/SMask": image("/DeviceGray", planes.alpha)})
    form = generic.StreamObject({
        pdf_name("/Type"): pdf_name("/XObject"), pdf_name("/Subtype"): pdf_name("/Form"),
        pdf_name("/BBox"): generic.ArrayObject(
            generic.FloatObject(round(v, 3)) for v in (0.0, 0.0, width, height)),
        pdf_name("/Resources"): generic.DictionaryObject({
            pdf_name("/XObject"): generic.DictionaryObject({pdf_name("/Im0"): xobject})}),
    }, stream_data=b"q %.3f 0 0 %.3f 0 0 cm /Im0 Do Q" % (width, height))
    return writer.add_object(form)


def date_text_width(text: str, font_size: float = DATE_FONT_SIZE) -> float:
    """Width in points of ``text`` set in the date stamp's font."""
    return _date_font_metrics().stringWidth(text, font_size)


@functools.lru_cache(maxsize=1)
def _date_font_metrics():
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont

    return UnicodeCIDFont(DATE_FONT)


def _date_font(writer: IncrementalPdfFileWriter) -> generic.IndirectObject:
    """A Type0 font dictionary for STSong-Light (Adobe-GB1), not embedded."""
    from reportlab.pdfbase._cidfontdata import CIDFontInfo

    info = CIDFontInfo[DATE_FONT]["DescendantFonts"][0]
    descriptor = info["FontDescriptor"]

    def number(value: float) -> generic.PdfObject:
        return generic.NumberObject(value) if isinstance(value, int) else generic.FloatObject(value)

    def widths(items) -> generic.ArrayObject:
        return generic.ArrayObject(
            generic.ArrayObject(number(v) for v in item) if isinstance(item, list) else number(item)
            for item in items)

    cid_font = generic.DictionaryObject({
        pdf_name("/Type"): pdf_name("/Font"), pdf_name("/Subtype"): pdf_name("/CIDFontType0"),
        pdf_name("/BaseFont"): pdf_name("/" + DATE_FONT),
        pdf_name("/CIDSystemInfo"): generic.DictionaryObject({
            pdf_name("/Registry"): pdf_string("Adobe"), pdf_name("/Ordering"): pdf_string("GB1"),
            pdf_name("/Supplement"): generic.NumberObject(2)}),
        pdf_name("/DW"): generic.NumberObject(info["DW"]),
        pdf_name("/W"): widths(info["W"]),
        pdf_name("/FontDescriptor"): writer.add_object(generic.DictionaryObject({
            pdf_name("/Type"): pdf_name("/FontDescriptor"),
            pdf_name("/FontName"): pdf_name("/" + DATE_FONT),
            pdf_name("/FontBBox"): widths(descriptor["FontBBox"]),
            **{pdf_name("/" + key): number(descriptor[key])
               for key in ("Flags", "ItalicAngle", "Ascent", "Descent", "CapHeight", "StemV")},
        })),
    })
    return writer.add_object(generic.DictionaryObject({
        pdf_name("/Type"): pdf_name("/Font"), pdf_name("/Subtype"): pdf_name("/Type0"),
        pdf_name("/BaseFont"): pdf_name("/" + DATE_FONT), pdf_name("/Encoding"): pdf_name("/UniGB-UCS2-H"),
        pdf_name("/DescendantFonts"): generic.ArrayObject([writer.add_object(cid_font)]),
    }))


def _text_appearance(writer: IncrementalPdfFileWriter, stamp: DateStamp, rect: Rect,
                     font: generic.IndirectObject) -> generic.IndirectObject:
    """A form XObject with ``stamp.text`` centred in the widget rectangle, in black."""
    width, height = rect[2] - rect[0], rect[3] - rect[1]
    size = stamp.font_size
    x = (width - date_text_width(stamp.text, size)) / 2
    y = (height - size * 0.75) / 2  # centre the CJK body (about 3/4 of the size above the baseline)
    encoded = stamp.text.encode("utf-16-be").hex().encode()
    content = b"q 0 g BT /F1 %.2f Tf %.3f %.3f Td <%s> Tj ET Q" % (size, x, y, encoded)
    form = generic.StreamObject({
        pdf_name("/Type"): pdf_name("/XObject"), pdf_name("/Subtype"): pdf_name("/Form"),
        pdf_name("/BBox"): generic.ArrayObject(
            generic.FloatObject(round(v, 3)) for v in (0.0, 0.0, width, height)),
        pdf_name("/Resources"): generic.DictionaryObject({
            pdf_name("/Font"): generic.DictionaryObject({pdf_name("/F1"): font})}),
    }, stream_data=content)
    return writer.add_object(form)


@functools.lru_cache(maxsize=64)
def _image_planes(png: bytes, vertical_slice: tuple[int, int] | None) -> _Planes:
    """Decoded, optionally sliced and compressed image planes. Cached: the same seal
    is embedded again and again, and decoding plus compression is the costliest part
    of an appearance (a few milliseconds for a 480 px seal)."""
    try:
        image = Image.open(io.BytesIO(png), formats=["PNG"])
        image.load()
    except (OSError, ValueError, SyntaxError) as exc:
        raise InvalidArgument("the appearance image must be a PNG") from exc
    image = image.convert("RGBA")
    if vertical_slice is not None:
        index, count = vertical_slice
        left = round(image.width * index / count)
        right = max(left + 1, round(image.width * (index + 1) / count))
        image = image.crop((left, 0, right, image.height))
    return _Planes(image.width, image.height,
                   zlib.compress(image.convert("RGB").tobytes(), 6),
                   zlib.compress(image.getchannel("A").tobytes(), 6))


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


@functools.lru_cache(maxsize=256)
def _asn1_from_der(der: bytes) -> asn1_x509.Certificate:
    return asn1_x509.Certificate.load(der)


def _asn1(cert: x509.Certificate) -> asn1_x509.Certificate:
    return _asn1_from_der(cert.public_bytes(serialization.Encoding.DER))
