"""Every way of changing a signed contract must make verification fail."""
import io

import pytest
from asn1crypto import cms
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.generic import pdf_name
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.reader import PdfFileReader

from core.errors import InvalidArgument
from services.signing import verify
from services.signing.verify import Verdict


def _signed_ranges(pdf: bytes) -> list[tuple[int, int, int, int]]:
    reader = PdfFileReader(io.BytesIO(pdf))
    return [tuple(int(v) for v in s.sig_object["/ByteRange"]) for s in reader.embedded_signatures]


def _report(pdf: bytes, ca) -> dict[str, verify.SignatureReport]:
    report = verify.verify(pdf, ca.trust_roots())
    assert not report.valid
    return {s.field_name: s for s in report.signatures}


def test_flipped_byte_inside_the_signed_range(signed_contract, ca):
    pdf = signed_contract.final
    position = pdf.index(b"Loan amount: 10000")
    start, length, _, _ = _signed_ranges(pdf)[0]
    assert start <= position < start + length  # page text every signature covers
    tampered = pdf.replace(b"Loan amount: 10000", b"Loan amount: 90000", 1)
    sigs = _report(tampered, ca)
    assert set(sigs) == {"lender", "borrower"} | {s for s in sigs if s.startswith("Timestamp")}
    for sig in sigs.values():
        assert not sig.intact
        assert sig.verdict is Verdict.INVALID
        assert "altered" in sig.message


def test_page_added_in_a_later_incremental_update(signed_contract, ca):
    writer = IncrementalPdfFileWriter(io.BytesIO(signed_contract.final))
    page = generic.DictionaryObject({
        pdf_name("/Type"): pdf_name("/Page"),
        pdf_name("/MediaBox"): generic.ArrayObject([generic.NumberObject(v) for v in (0, 0, 595, 842)]),
        pdf_name("/Contents"): writer.add_object(generic.StreamObject(stream_data=b"BT ET")),
        pdf_name("/Resources"): generic.DictionaryObject(),
    })
    writer.insert_page(page)
    out = io.BytesIO()
    writer.write(out)
    tampered = out.getvalue()
    assert tampered.startswith(signed_contract.final)
    sigs = _report(tampered, ca)
    for sig in sigs.values():
        assert sig.intact and sig.valid  # the signed bytes are untouched...
        assert sig.modification_level == "OTHER" and sig.modifications_allowed is False
        assert sig.verdict is Verdict.INVALID  # ...but what was added is not allowed


def test_content_changed_after_the_last_signature(signed_contract, ca):
    writer = IncrementalPdfFileWriter(io.BytesIO(signed_contract.after_person))
    page_ref, _ = writer.find_page_for_modification(0)
    page = page_ref.get_object()
    page[pdf_name("/Contents")] = writer.add_object(generic.StreamObject(
        stream_data=b"BT /F1 12 Tf 72 720 Td (Loan amount: 1000000) Tj ET"))
    writer.update_container(page)
    out = io.BytesIO()
    writer.write(out)
    sigs = _report(out.getvalue(), ca)
    assert sigs["borrower"].coverage is verify.Coverage.ENTIRE_REVISION
    for sig in sigs.values():
        assert sig.intact and sig.valid
        assert sig.modifications_allowed is False
        assert sig.verdict is Verdict.INVALID


def test_bytes_appended_after_the_last_signature_are_not_covered(signed_contract, ca):
    tampered = signed_contract.after_person + b"\n1 0 obj\n(smuggled)\nendobj\n"
    report = verify.verify(tampered, ca.trust_roots())
    assert not report.valid
    assert report.problems == ["the document has unsigned data after its last revision"]
    borrower = {s.field_name: s for s in report.signatures}["borrower"]
    assert borrower.coverage is verify.Coverage.ENTIRE_REVISION
    # a line break after %%EOF, as some tools add, changes nothing
    assert verify.verify(signed_contract.after_person + b"\r\n", ca.trust_roots()).valid


def test_corrupted_signature_value(signed_contract, ca):
    pdf = bytearray(signed_contract.after_person)
    start, length, second, _ = _signed_ranges(bytes(pdf))[1]  # the borrower's, the last one
    contents_hex = bytes(pdf[start + length + 1:second - 1])  # inside < >
    der = bytes.fromhex(contents_hex.decode())
    signed_data = cms.ContentInfo.load(der)["content"]
    value = signed_data["signer_infos"][0]["signature"].native
    offset = der.index(value) + len(value) // 2
    # flip one byte of the ECDSA value, keeping the hex string well formed
    hex_pos = start + length + 1 + 2 * offset
    flipped = bytes([der[offset] ^ 0x01]).hex().encode()
    pdf[hex_pos:hex_pos + 2] = flipped
    sigs = _report(bytes(pdf), ca)
    borrower = sigs["borrower"]
    assert borrower.intact and not borrower.valid
    assert borrower.verdict is Verdict.INVALID
    # the lender signed an earlier revision, which is untouched
    assert sigs["lender"].verdict is Verdict.VALID


def test_garbage_is_an_invalid_argument(ca):
    with pytest.raises(InvalidArgument, match="cannot be parsed"):
        verify.verify(b"%PDF-1.7\n" + b"\x00" * 100, ca.trust_roots())
