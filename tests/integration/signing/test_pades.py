"""Sign, read back, validate, assert the full verdict (the way pyHanko's own tests do)."""
import datetime as dt
import hashlib
import io
import json
import time

import pytest
from cryptography.x509.oid import NameOID
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.validation import DocumentSecurityStore

from core.errors import AlreadyExists, FailedPrecondition, InvalidArgument
from services.signing import anchors, pades, pki, seals, verify
from services.signing.verify import Coverage, Verdict
from tests.integration.signing.conftest import ORG, PERSON
from tests.unit.signing.fixtures import ORG_KEYWORD, make_ca


def _by_field(report: verify.VerificationReport) -> dict[str, verify.SignatureReport]:
    return {s.field_name: s for s in report.signatures}


def _fields(reader: PdfFileReader) -> dict:
    return {str(f.get_object()["/T"]): f.get_object() for f in reader.root["/AcroForm"]["/Fields"]}


def _assert_valid_signature(sig: verify.SignatureReport, signer: str, coverage: Coverage) -> None:
    assert sig.kind == "SIGNATURE"
    assert sig.signer == signer
    assert sig.intact and sig.valid and sig.trusted and not sig.revoked
    assert sig.coverage is coverage
    assert sig.modifications_allowed is True
    assert sig.signing_time is not None and sig.timestamp_time is not None
    assert abs(sig.timestamp_time - sig.signing_time) < dt.timedelta(seconds=5)
    assert sig.verdict is Verdict.VALID, sig.message
    assert sig.indication == "PASSED/OK"
    assert sig.message is None


def test_two_signers_then_document_timestamp_all_valid(signed_contract, ca):
    report = verify.verify(signed_contract.final, ca.trust_roots())
    assert report.valid
    sigs = _by_field(report)
    assert [s.kind for s in report.signatures] == ["SIGNATURE", "SIGNATURE", "DOCUMENT_TIMESTAMP"]
    _assert_valid_signature(sigs["lender"], ORG.name, Coverage.ENTIRE_REVISION)
    _assert_valid_signature(sigs["borrower"], PERSON.name, Coverage.ENTIRE_REVISION)
    # later revisions: the borrower's field and widget, then DSS and the timestamp
    assert sigs["lender"].modification_level == "FORM_FILLING"
    assert sigs["borrower"].modification_level == "LTA_UPDATES"
    assert sigs["lender"].reason == "签署借款合同"
    assert sigs["lender"].signer_subject.endswith("O=某某科技有限公司,C=CN")
    assert "2.5.4.5=" in sigs["borrower"].signer_subject  # hashed ID number, never the number
    assert PERSON.id_number not in sigs["borrower"].signer_subject
    stamp = report.signatures[2]
    assert stamp.signer == "E-Contract Platform TSA"
    assert stamp.intact and stamp.valid and stamp.trusted
    assert stamp.coverage is Coverage.ENTIRE_FILE and stamp.modification_level == "NONE"
    assert stamp.verdict is Verdict.VALID
    assert stamp.timestamp_time >= sigs["borrower"].timestamp_time
    assert report.to_json()["signatures"][0]["verdict"] == "VALID"


def test_each_signature_is_an_incremental_update_that_keeps_earlier_ones_valid(signed_contract, ca):
    original, after_org = signed_contract.original, signed_contract.after_org
    after_person = signed_contract.after_person
    assert after_org.startswith(original) and after_person.startswith(after_org)
    assert signed_contract.final.startswith(after_person)
    first = verify.verify(after_org, ca.trust_roots())
    assert first.valid and _by_field(first)["lender"].coverage is Coverage.ENTIRE_FILE
    second = verify.verify(after_person, ca.trust_roots())
    assert second.valid
    assert _by_field(second)["lender"].coverage is Coverage.ENTIRE_REVISION
    assert _by_field(second)["borrower"].coverage is Coverage.ENTIRE_FILE


def test_signatures_are_pades_b_lt_in_one_revision(signed_contract):
    reader = PdfFileReader(io.BytesIO(signed_contract.after_org))
    (sig,) = reader.embedded_signatures
    assert sig.sig_object["/SubFilter"] == "/ETSI.CAdES.detached"
    assert reader.xrefs.total_revisions == 2  # the original and one signing revision
    dss = DocumentSecurityStore.read_dss(reader)
    subjects = {c.subject.native["common_name"] for c in dss.load_certs()}
    assert {ORG.name, "E-Contract Platform Issuing CA", "E-Contract Platform Root CA",
            "E-Contract Platform TSA"} <= subjects
    assert len(dss.ocsps) == 2 and len(dss.crls) == 1  # signer + TSA OCSP, root CRL
    unsigned = {a["type"].native for a in sig.signer_info["unsigned_attrs"]}
    assert "signature_time_stamp_token" in unsigned


def test_signature_stays_valid_after_the_one_time_certificate_expired(signed_contract, ca):
    later = dt.datetime.now(dt.timezone.utc) + dt.timedelta(hours=1)
    assert ca.settings.signer_cert_lifetime < dt.timedelta(hours=1)  # both signer certificates expired
    report = verify.verify(signed_contract.final, ca.trust_roots(),
                           fresh_revocation=ca.revocation_info([ca.tsa_material().cert]), at=later)
    assert report.valid, [s.message for s in report.signatures]


def test_current_status_of_the_documents_certificates(signed_contract, ca):
    certs = verify.document_certificates(signed_contract.final)
    names = {c.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value for c in certs}
    assert {"E-Contract Platform TSA", "E-Contract Platform Issuing CA", ORG.name, PERSON.name} <= names
    fresh = ca.revocation_info(certs)
    assert len(fresh.ocsps) == 3  # the two signers and the TSA
    assert verify.verify(signed_contract.final, ca.trust_roots(), fresh_revocation=fresh).valid


def test_b_lt_document_without_document_timestamp_also_verifies_later(signed_contract, ca):
    later = dt.datetime.now(dt.timezone.utc) + dt.timedelta(hours=1)
    report = verify.verify(signed_contract.after_person, ca.trust_roots(), at=later)
    assert report.valid, [s.message for s in report.signatures]


def test_unknown_root_is_indeterminate(signed_contract, tmp_path):
    stranger = make_ca(tmp_path)
    report = verify.verify(signed_contract.final, stranger.trust_roots())
    assert not report.valid
    for sig in report.signatures:
        assert sig.intact and sig.valid and not sig.trusted
        assert sig.verdict is Verdict.INDETERMINATE


def test_appearances_show_the_images(signed_contract, contract):
    reader = PdfFileReader(io.BytesIO(signed_contract.after_person))
    fields = _fields(reader)
    lender = fields["lender"]
    rect = [float(v) for v in lender["/Rect"]]
    expected = anchors.keyword_placement(contract, ORG_KEYWORD, width=pades.COMPANY_SEAL_SIZE,
                                         height=pades.COMPANY_SEAL_SIZE).rect
    assert rect == pytest.approx(expected, abs=0.01)
    image = lender["/AP"]["/N"]["/Resources"]["/XObject"]["/Im0"]
    assert image["/SMask"]["/ColorSpace"] == "/DeviceGray"  # transparency kept
    borrower = fields["borrower"]
    x1, y1, x2, y2 = (float(v) for v in borrower["/Rect"])
    assert ((x1 + x2) / 2, (y1 + y2) / 2) == pytest.approx((400, 120), abs=0.01)
    assert borrower["/P"] == reader.root["/Pages"]["/Kids"][2]


def test_riding_seal_is_one_signature_across_all_pages(signed_contract, signing, ca, contract):
    seal = seals.round_company_seal(ORG.name)
    signed = signing.sign(signed_contract.after_person, pki.new_signer(ca, ORG), "lender-riding",
                          riding_seal=pades.RidingSeal(seal))
    reader = PdfFileReader(io.BytesIO(signed))
    fields = _fields(reader)
    kids = fields["lender-riding"]["/Kids"]
    pages = list(reader.root["/Pages"]["/Kids"])
    assert len(kids) == len(pages) == 3
    for page, kid in zip(pages, kids, strict=True):
        widget = kid.get_object()
        assert widget.raw_get("/P") == page
        right = float(page.get_object()["/MediaBox"][2])
        x1, _, x2, _ = (float(v) for v in widget["/Rect"])
        assert x2 == pytest.approx(right, abs=0.001)
        assert x2 - x1 == pytest.approx(pades.COMPANY_SEAL_SIZE / 3, abs=0.001)
        assert widget["/AP"]["/N"]["/Resources"]["/XObject"]["/Im0"]["/Width"] == seals.image_size(seal)[0] // 3
    report = verify.verify(signed, ca.trust_roots())
    assert report.valid, [s.message for s in report.signatures]
    assert _by_field(report)["lender-riding"].coverage is Coverage.ENTIRE_FILE
    assert _by_field(report)["lender"].verdict is Verdict.VALID


def test_main_seal_and_riding_seal_in_one_signature(signing, ca, contract):
    seal = seals.round_company_seal(ORG.name)
    placement = anchors.keyword_placement(contract, ORG_KEYWORD, width=pades.COMPANY_SEAL_SIZE,
                                          height=pades.COMPANY_SEAL_SIZE)
    signed = signing.sign(contract, pki.new_signer(ca, ORG), "lender",
                          appearance=pades.Appearance(seal, placement), riding_seal=pades.RidingSeal(seal))
    reader = PdfFileReader(io.BytesIO(signed))
    (field,) = _fields(reader).values()
    widgets = [k.get_object() for k in field["/Kids"]]
    assert len(widgets) == 4  # the seal at the keyword plus one slice per page
    assert [float(v) for v in widgets[0]["/Rect"]] == pytest.approx(placement.rect, abs=0.01)
    assert len(reader.embedded_signatures) == 1
    (sig,) = verify.verify(signed, ca.trust_roots()).signatures
    assert sig.verdict is Verdict.VALID and sig.coverage is Coverage.ENTIRE_FILE


def test_riding_seal_slices_are_placed_at_the_right_edges():
    rects = pades.riding_seal_rects([(0, 0, 600, 800), (0, 0, 500, 700)], pades.RidingSeal(b"", size=100))
    assert rects == [(550.0, 350.0, 600, 450.0), (450.0, 300.0, 500, 400.0)]


def test_agreement_lock_records_evidence_and_signs_with_the_platform_seal(signing, ca, contract):
    context = pades.signing_validation_context(ca, ca.platform_seal(), [ca.tsa_material().cert])
    when = dt.datetime(2026, 3, 1, 8, 30, tzinfo=dt.timezone.utc)
    locked = pades.lock_agreement(
        contract, ca.platform_seal(), signer_id="sg_1", signer_name="张三", ip="203.0.113.7",
        user_agent="Mozilla/5.0 (iPhone)", reading_seconds=42.5, field_name="agreement-sg_1",
        timestamper=signing.timestamper, validation_context=context, contract_id="ct_1", agreed_at=when)
    evidence = locked.evidence
    assert evidence == {
        "signerId": "sg_1", "signerName": "张三", "agreedAt": "2026-03-01T08:30:00.000Z",
        "ip": "203.0.113.7", "userAgent": "Mozilla/5.0 (iPhone)", "readingSeconds": 42.5,
        "documentSha256": hashlib.sha256(contract).hexdigest(), "contractId": "ct_1",
        "evidenceSha256": evidence["evidenceSha256"], "fieldName": "agreement-sg_1",
        "sealCertificateSerial": format(ca.platform_seal().cert.serial_number, "x"),
        "signedDocumentSha256": hashlib.sha256(locked.pdf).hexdigest(),
    }
    canonical = json.dumps({k: v for k, v in evidence.items() if k not in (
        "evidenceSha256", "fieldName", "sealCertificateSerial", "signedDocumentSha256")},
        ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    assert hashlib.sha256(canonical.encode()).hexdigest() == evidence["evidenceSha256"]

    report = verify.verify(locked.pdf, ca.trust_roots())
    (sig,) = report.signatures
    assert report.valid
    assert sig.signer == "E-Contract Platform Seal"
    assert sig.reason.endswith(f"evidence sha256:{evidence['evidenceSha256']}")
    assert "张三" in sig.reason and "203.0.113.7" not in sig.reason  # personal data stays out of the PDF


def test_signing_refuses_a_revoked_certificate(signing, ca, contract):
    signer = pki.new_signer(ca, PERSON)
    ca.revoke(signer.cert.serial_number, pki.RevocationReason.KEY_COMPROMISE)
    with pytest.raises(FailedPrecondition, match="revoked"):
        signing.sign(contract, signer, "revoked")


def test_a_signature_made_after_revocation_is_reported_revoked(signing, ca, timestamper, contract):
    signer = pki.new_signer(ca, PERSON)
    stale = pades.signing_validation_context(ca, signer, [ca.tsa_material().cert])  # status: good
    ca.revoke(signer.cert.serial_number, pki.RevocationReason.KEY_COMPROMISE)
    signed = pades.sign(contract, signer, field_name="late", timestamper=timestamper, validation_context=stale)
    fresh = ca.revocation_info([signer.cert, ca.tsa_material().cert])
    (sig,) = verify.verify(signed, ca.trust_roots(), fresh_revocation=fresh).signatures
    assert sig.intact and sig.valid
    assert sig.revoked and not sig.trusted
    assert sig.verdict is Verdict.INVALID


def test_a_revocation_after_signing_does_not_invalidate_the_signature(signed_contract, signing, ca, contract):
    signer = pki.new_signer(ca, PERSON)
    signed = signing.sign(contract, signer, "before-revocation")
    time.sleep(1.1)  # CRLs and OCSP state revocation times in whole seconds
    ca.revoke(signer.cert.serial_number, pki.RevocationReason.AFFILIATION_CHANGED)
    fresh = ca.revocation_info([signer.cert, ca.tsa_material().cert])
    (sig,) = verify.verify(signed, ca.trust_roots(), fresh_revocation=fresh).signatures
    assert sig.verdict is Verdict.VALID, sig.message


def test_signing_refuses_a_changed_document(signing, ca, contract):
    with pytest.raises(FailedPrecondition, match="SHA-256"):
        signing.sign(contract, pki.new_signer(ca, PERSON), "x", expected_sha256="00" * 32)
    signed = signing.sign(contract, pki.new_signer(ca, PERSON), "x",
                          expected_sha256=hashlib.sha256(contract).hexdigest().upper())
    assert verify.verify(signed, ca.trust_roots()).valid


def test_signing_refuses_an_existing_field_and_bad_input(signed_contract, signing, ca):
    with pytest.raises(AlreadyExists):
        signing.sign(signed_contract.after_org, pki.new_signer(ca, PERSON), "lender")
    with pytest.raises(InvalidArgument):
        signing.sign(b"not a pdf", pki.new_signer(ca, PERSON), "x")
    with pytest.raises(InvalidArgument):
        signing.sign(signed_contract.original, pki.new_signer(ca, PERSON), "a.b")
    with pytest.raises(InvalidArgument):
        placement = anchors.point_placement(signed_contract.original, 1, 300, 300, width=50, height=50)
        signing.sign(signed_contract.original, pki.new_signer(ca, PERSON), "x",
                     appearance=pades.Appearance(b"\x89PNG\r\n\x1a\nbroken", placement))


def test_invisible_signature_without_appearance(signing, ca, contract):
    signed = signing.sign(contract, pki.new_signer(ca, PERSON), "invisible")
    reader = PdfFileReader(io.BytesIO(signed))
    (field,) = _fields(reader).values()
    assert [float(v) for v in field["/Rect"]] == [0, 0, 0, 0] and "/AP" not in field
    assert verify.verify(signed, ca.trust_roots()).valid


def test_verify_rejects_non_pdf_and_reports_unsigned_pdf_invalid(ca, contract):
    with pytest.raises(InvalidArgument):
        verify.verify(b"hello", ca.trust_roots())
    report = verify.verify(contract, ca.trust_roots())
    assert not report.valid and report.signatures == []
    assert report.problems == ["the document has no signatures"]
