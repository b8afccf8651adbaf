"""The four ways of changing a signed contract that verification must catch.

Each takes the PDF signed by the lender and then the borrower (the borrower's
signature is the last revision) and returns a tampered copy. ``TOUCHED`` names the
signatures each case must make INVALID.
"""
from __future__ import annotations

import io

from asn1crypto import cms
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.generic import pdf_name
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.reader import PdfFileReader

CASES = ["flipped_byte", "page_added", "content_changed", "signature_corrupted"]
TOUCHED = {
    "flipped_byte": ["sg_lender", "sg_borrower"],
    "page_added": ["sg_lender", "sg_borrower"],
    "content_changed": ["sg_lender", "sg_borrower"],
    "signature_corrupted": ["sg_borrower"],
}


def signed_ranges(pdf: bytes) -> list[tuple[int, int, int, int]]:
    reader = PdfFileReader(io.BytesIO(pdf))
    return [tuple(int(v) for v in s.sig_object["/ByteRange"]) for s in reader.embedded_signatures]


def flipped_byte(pdf: bytes) -> bytes:
    """One byte of page text that every signature covers, changed in place."""
    position = pdf.index(b"Loan amount: 10000") + len(b"Loan amount: ")
    start, length, _, _ = signed_ranges(pdf)[0]
    assert start <= position < start + length
    return pdf[:position] + b"9" + pdf[position + 1:]


def page_added(pdf: bytes) -> bytes:
    """A new page in a later incremental update: the signed bytes stay untouched."""
    writer = IncrementalPdfFileWriter(io.BytesIO(pdf))
    page = generic.DictionaryObject({
        pdf_name("/Type"): pdf_name("/Page"),
        pdf_name("/MediaBox"): generic.ArrayObject([generic.NumberObject(v) for v in (0, 0, 595, 842)]),
        pdf_name("/Contents"): writer.add_object(generic.StreamObject(stream_data=b"BT ET")),
        pdf_name("/Resources"): generic.DictionaryObject(),
    })
    writer.insert_page(page)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def content_changed(pdf: bytes) -> bytes:
    """The first page's content replaced in an incremental update after the last signature."""
    writer = IncrementalPdfFileWriter(io.BytesIO(pdf))
    page_ref, _ = writer.find_page_for_modification(0)
    page = page_ref.get_object()
    page[pdf_name("/Contents")] = writer.add_object(generic.StreamObject(
        stream_data=b"BT /F1 12 Tf 72 720 Td (Loan amount: 1000000) Tj ET"))
    writer.update_container(page)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def signature_corrupted(pdf: bytes) -> bytes:
    """One byte of the last signature's ECDSA value flipped, the hex string kept well formed."""
    data = bytearray(pdf)
    start, length, second, _ = signed_ranges(pdf)[-1]
    der = bytes.fromhex(bytes(data[start + length + 1:second - 1]).decode())
    value = cms.ContentInfo.load(der)["content"]["signer_infos"][0]["signature"].native
    offset = der.index(value) + len(value) // 2
    hex_pos = start + length + 1 + 2 * offset
    data[hex_pos:hex_pos + 2] = bytes([der[offset] ^ 0x01]).hex().encode()
    return bytes(data)
