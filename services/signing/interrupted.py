"""PAdES signatures whose value is computed elsewhere: pyHanko's interrupted signing.

``prepare`` does everything up to the signature value, exactly as ``pades.sign`` does for
a key in memory: the signature field with its appearances, the validation data of the
signer's chain and of the TSA in the DSS of the same revision, the signature dictionary
with room for the CMS, the ``/ByteRange`` digest (``PdfSigningSession`` →
``PdfTBSDocument.digest_tbs_document``), and the CMS signed attributes over that digest
(content type, message digest, ESS signing-certificate-v2 of the signer's certificate).
The DER of those attributes is what the signer's own key signs.

``finish`` takes the signature value, builds the CMS around the very same attribute
bytes (``ExternalSigner.async_sign_prescribed_attributes``), asks the TSA for the
signature timestamp, and writes the CMS into the reserved region
(``PreparedByteRangeDigest.fill_with_cms``). The validation data is already in the
revision, so no post-signature processing follows (pyHanko's ``PostSignInstructions``
have nothing left to do with ``TOGETHER_WITH_SIGNATURE`` and no document timestamp).

Everything a completion needs is plain bytes and numbers (``PreparedPdf``), so it can be
stored between the two steps and finished by any replica.
"""
from __future__ import annotations

import asyncio
import hashlib
import io
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from asn1crypto import cms
from cryptography import x509
from pyhanko.pdf_utils import generic, misc
from pyhanko.sign import fields, signers
from pyhanko.sign.general import SigningError
from pyhanko.sign.signers.pdf_byterange import PreparedByteRangeDigest
from pyhanko.sign.signers.pdf_cms import ExternalSigner, PdfCMSSignedAttributes
from pyhanko.sign.timestamps import TimeStamper
from pyhanko.stamp import NoOpStampStyle
from pyhanko_certvalidator import ValidationContext
from pyhanko_certvalidator.registry import SimpleCertificateStore

from core.errors import FailedPrecondition
from services.signing.pades import (
    _DSS,
    Appearance,
    DateStamp,
    RidingSeal,
    SignedPdf,
    _add_signature_field,
    _asn1,
    _check_field_free,
    _open_writer,
    _reserve,
    _riding_widgets,
    _signing_failure,
    _timestamp_time,
    _Widget,
    check_unchanged,
)

DIGEST = "sha256"
_SIGNATURE_ROOM = 512  # bytes of the largest signature value accepted (RSA-4096)


@dataclass(frozen=True)
class PreparedPdf:
    """A document in its final pre-signing state and what finishing it needs."""

    pdf: bytes  # with a zeroed placeholder where the CMS goes
    document_digest: bytes  # SHA-256 over the /ByteRange
    region_start: int  # the placeholder, as offsets in ``pdf``
    region_end: int
    signed_attrs: bytes  # DER (SET OF) of the CMS signed attributes: what the signer signs
    signing_time: datetime  # the /M of the signature dictionary

    @property
    def to_be_signed_digest(self) -> bytes:
        return hashlib.sha256(self.signed_attrs).digest()


def prepare(pdf: bytes, cert: x509.Certificate, chain: Sequence[x509.Certificate], *, field_name: str,
            timestamper: TimeStamper, validation_context: ValidationContext,
            appearances: Sequence[Appearance] = (), riding_seal: RidingSeal | None = None,
            reason: str | None = None, expected_sha256: str | None = None,
            date_stamps: Sequence[DateStamp] = ()) -> PreparedPdf:
    """Prepare one PAdES B-LT signature by ``cert``'s key, to be finished with :func:`finish`.

    ``validation_context`` must know the signer's chain and its revocation data, and
    the TSA's: what it holds is written to the DSS (no fetching happens here).
    """
    if expected_sha256 is not None:
        check_unchanged(pdf, expected_sha256)
    writer = _open_writer(pdf)
    _check_field_free(writer, field_name)
    widgets = [_Widget(a.placement.page_index, a.placement.rect, a.png) for a in appearances]
    if riding_seal is not None:
        widgets.extend(_riding_widgets(writer, riding_seal))
    widgets.extend(_Widget(d.placement.page_index, d.placement.rect, text=d) for d in date_stamps)
    if not widgets:
        widgets.append(_Widget(0, (0.0, 0.0, 0.0, 0.0)))
    field, extra_kids = _add_signature_field(writer, field_name, widgets)
    meta = signers.PdfSignatureMetadata(
        field_name=field_name,
        md_algorithm=DIGEST,
        subfilter=fields.SigSeedSubFilter.PADES,
        reason=reason,
        embed_validation_info=True,
        validation_context=validation_context,
        signer_key_usage=set(),  # checked with the chain (client_chain): outside CAs vary
        dss_settings=_DSS,
    )
    placeholder = ExternalSigner(_asn1(cert), _registry(chain), signature_value=_SIGNATURE_ROOM)
    pdf_signer = signers.PdfSigner(meta, placeholder, timestamper=timestamper,
                                   stamp_style=NoOpStampStyle(border_width=0))
    try:
        return asyncio.run(_prepare(pdf_signer, writer, field, extra_kids))
    except SigningError as exc:
        raise _signing_failure(exc) from exc


def finish(prepared: PreparedPdf, cert: x509.Certificate, chain: Sequence[x509.Certificate], signature: bytes, *,
           timestamper: TimeStamper) -> SignedPdf:
    """Embed ``signature`` (already checked against ``prepared.signed_attrs``) with its timestamp."""
    signer = ExternalSigner(_asn1(cert), _registry(chain), signature_value=signature)
    attributes = cms.CMSAttributes.load(prepared.signed_attrs)
    try:
        content = asyncio.run(signer.async_sign_prescribed_attributes(DIGEST, attributes, timestamper=timestamper))
    except SigningError as exc:
        raise _signing_failure(exc) from exc
    output = io.BytesIO(prepared.pdf)
    digest = PreparedByteRangeDigest(prepared.document_digest, prepared.region_start, prepared.region_end)
    try:
        digest.fill_with_cms(output, content)
    except SigningError as exc:
        raise FailedPrecondition(f"the signature does not fit the room prepared for it: {exc}") from exc
    return SignedPdf(output.getvalue(), prepared.signing_time, _timestamp_time(content))


async def _prepare(pdf_signer: signers.PdfSigner, writer, field: generic.DictionaryObject,
                   extra_kids: list[generic.IndirectObject]) -> PreparedPdf:
    # As pades._sign_async, stopping where the signature value is needed.
    session = pdf_signer.init_signing_session(writer, existing_fields_only=True)
    validation_info = await session.perform_presign_validation(writer)
    reserved = await _reserve(pdf_signer)
    tbs = session.prepare_tbs_document(validation_info=validation_info, bytes_reserved=reserved)
    if extra_kids:
        field["/Kids"].extend(extra_kids)
    prepared, output = tbs.digest_tbs_document()
    attributes = await pdf_signer.signer.signed_attrs(
        prepared.document_digest, DIGEST,
        attr_settings=PdfCMSSignedAttributes(signing_time=session.system_time), use_pades=True)
    return PreparedPdf(
        pdf=misc.finalise_output(None, output).getvalue(),
        document_digest=prepared.document_digest,
        region_start=prepared.reserved_region_start,
        region_end=prepared.reserved_region_end,
        signed_attrs=attributes.dump(),
        signing_time=session.system_time,
    )


def _registry(chain: Sequence[x509.Certificate]) -> SimpleCertificateStore:
    return SimpleCertificateStore.from_certs([_asn1(c) for c in chain])
