"""The signing path with the real signing service (PAdES, platform CA, timestamps): an
organisation and a person sign in order, the contract completes with a B-LTA document
timestamp, and the PDF downloaded through REST verifies with independent validators
(pdfsig and pyHanko) trusting only the root served by GET /v1/trust/roots, with each
signer's signing date stamped where the template says."""
from __future__ import annotations

import base64
import datetime as dt
import hashlib
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from core.blobs import BlobStore
from services.signing import anchors
from services.signing.signatures import signing_date
from tests.integration.contract.conftest import TEST_CONFIG
from tests.integration.contract.helpers import (
    LOAN_ROLES,
    ContractServer,
    approved_template,
    create_contract,
    intent_token,
    ok,
    sign,
    sign_as,
    signer_of,
)
from tests.fixtures.docx_fixtures import loan_contract_docx_bytes
from tests.support.pdf_text import text_in
from tests.support.pdfsig import nss_database, pdfsig_report, require_pdfsig

LENDER_KEYWORD = "甲方（盖章）"
# The template's date stamps: on the lender's keyword line, right of its name, and under
# the borrower's spot (page 3, 400, 120).
DATED_ROLES = [
    {**LOAN_ROLES[0], "datePosition": {"keyword": LENDER_KEYWORD, "x": 260}},
    {**LOAN_ROLES[1], "datePosition": {"page": 3, "x": 400, "y": 60}},
]


@pytest.fixture(scope="module")
def real_signing(contract_server: ContractServer, fake_signing) -> Iterator[ContractServer]:
    contract_server.restart(config=TEST_CONFIG)  # the mesh's own signing service
    yield contract_server
    contract_server.restart(signing_addr=fake_signing.address, config=TEST_CONFIG)


@dataclass(frozen=True)
class Completed:
    contract_id: str
    reply: dict  # the last :sign reply (the contract, COMPLETED)
    pdf: bytes  # GET /v1/contracts/{id}/document?alt=media
    dates: set[str]  # the signing date in China when the signers signed (two around midnight)


@pytest.fixture(scope="module")
def completed(real_signing, business, reviewer) -> Completed:
    template = approved_template(business, reviewer, loan_contract_docx_bytes(), roles=DATED_ROLES)
    contract = create_contract(business, template["templateId"])
    before = signing_date(dt.datetime.now(dt.timezone.utc))
    assert sign_as(business, contract, "lender")["status"] == "SIGNING"
    done = sign_as(business, contract, "borrower")
    after = signing_date(dt.datetime.now(dt.timezone.utc))
    assert done["status"] == "COMPLETED"
    pdf = business.get(f"/v1/contracts/{contract['contractId']}/document?alt=media").content
    return Completed(contract["contractId"], done, pdf, {before, after})


@pytest.fixture(scope="module")
def root_pem(business) -> bytes:
    """The platform root exactly as any validator gets it."""
    (pem,) = ok(business.get("/v1/trust/roots"))["roots"]
    return pem.encode()


def test_two_parties_sign_and_the_pdf_verifies(business, completed):
    assert hashlib.sha256(completed.pdf).hexdigest() == completed.reply["documents"][0]["sha256"]
    report = ok(business.post("/v1/documents:verify", {"pdf": base64.b64encode(completed.pdf).decode()}))
    assert report["valid"] is True, report
    signatures = [s for s in report["signatures"] if s.get("signer")]
    assert len(signatures) >= 2 and all(s["verdict"] == "VALID" and s["intact"] and s["trusted"] for s in signatures)
    events = ok(business.get(f"/v1/contracts/{completed.contract_id}/events"))
    assert events["chainVerified"] and "document.timestamped" in [e["type"] for e in events["events"]]


def test_each_signers_date_is_stamped_where_the_template_says(completed):
    (hit,) = anchors.find_keyword(completed.pdf, LENDER_KEYWORD)
    cx, cy = hit.center
    lender = text_in(completed.pdf, hit.page_index, (cx + 200, cy - 10, cx + 320, cy + 10)).strip()
    borrower = text_in(completed.pdf, 2, (340, 50, 460, 70)).strip()
    assert lender in completed.dates and borrower in completed.dates, (lender, borrower)


def test_a_document_changed_in_storage_is_not_signed(mesh, real_signing, business, reviewer):
    template = approved_template(business, reviewer, loan_contract_docx_bytes())
    contract = create_contract(business, template["templateId"])
    recorded = contract["documents"][0]["sha256"]
    blobs = BlobStore(mesh.settings("contract").blob_dir)
    stored = blobs.root / recorded[:2] / recorded[2:4] / recorded
    original = stored.read_bytes()
    # The blob is shared: the render cache hands the same PDF to later contracts of this
    # template and data, so the change is undone once the signature was attempted.
    stored.write_bytes(original + b"%changed in storage\n")
    try:
        lender = signer_of(contract, "lender")
        token = intent_token(business, lender["signerId"], [contract["contractId"]], lender["mobile"])
        reply = sign(business, contract["contractId"], lender["signerId"], token)
    finally:
        stored.write_bytes(original)
    assert reply.status_code == 400 and reply.json()["code"] == 9, reply.text  # FAILED_PRECONDITION
    assert "no longer matches the contract's record" in reply.json()["message"]
    after = ok(business.get(f"/v1/contracts/{contract['contractId']}"))
    assert after["status"] == "SIGNING" and signer_of(after, "lender")["status"] == "PENDING"
    assert after["documents"][0]["sha256"] == recorded


# ------------------------------------------------------------ pdfsig (poppler + NSS)


def test_pdfsig_reports_every_signature_valid(completed, root_pem, tmp_path):
    require_pdfsig()
    # Trusting only the REST root, offline (-no-ocsp): the validation data the signatures
    # carry must be enough.
    blocks = pdfsig_report(completed.pdf, nss_database(tmp_path / "nss", [root_pem]), tmp_path, "-no-ocsp")
    signers = [b for b in blocks if b.get("Signature Type") == "ETSI.CAdES.detached"]
    assert [b["Signer Certificate Common Name"] for b in signers] == ["某某科技有限公司", "张三"]
    for block in signers:
        assert block["Signature Validation"] == "Signature is Valid.", block
        assert block["Certificate Validation"] == "Certificate is Trusted.", block
    (stamp,) = [b for b in blocks if b not in signers]
    # The B-LTA document timestamp, by the platform TSA, over the whole file.
    assert stamp["Signer Certificate Common Name"] == "E-Contract Platform TSA" and "Total document signed" in stamp
    if stamp["Signature Type"] == "unknown":
        # Poppler before 23 (Debian 12 has 22.12) does not know ETSI.RFC3161 document
        # timestamps and leaves this one unverified; pyHanko validates it instead, in
        # test_pyhanko_validates_every_signature_and_the_timestamp_trusting_only_the_rest_root.
        assert stamp["Signature Validation"] == "Signature has not yet been verified."
    else:
        assert stamp["Signature Type"] == "ETSI.RFC3161"
        assert stamp["Signature Validation"] == "Signature is Valid.", stamp


# ------------------------------------------------------------ pyHanko


def test_pyhanko_validates_every_signature_and_the_timestamp_trusting_only_the_rest_root(completed, root_pem):
    import io

    from asn1crypto import x509 as asn1_x509
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization
    from pyhanko.pdf_utils.reader import PdfFileReader
    from pyhanko.sign.validation import DocumentSecurityStore, validate_pdf_signature, validate_pdf_timestamp

    root = asn1_x509.Certificate.load(x509.load_pem_x509_certificate(root_pem).public_bytes(serialization.Encoding.DER))
    reader = PdfFileReader(io.BytesIO(completed.pdf))
    dss = DocumentSecurityStore.read_dss(reader)

    def context():
        # Offline, and revocation information is required: what the document carries must do.
        return dss.as_validation_context({"trust_roots": [root], "allow_fetching": False,
                                          "revocation_mode": "require"})

    kinds = []
    for sig in reader.embedded_signatures:
        if sig.sig_object_type == "/DocTimeStamp":
            status = validate_pdf_timestamp(sig, validation_context=context())
            assert status.coverage.name == "ENTIRE_FILE"  # the B-LTA timestamp covers everything
            kinds.append("timestamp")
        else:
            status = validate_pdf_signature(sig, signer_validation_context=context(),
                                            ts_validation_context=context())
            assert status.timestamp_validity is not None and status.timestamp_validity.trusted
            assert status.timestamp_validity.intact and status.timestamp_validity.valid
            assert status.docmdp_ok
            kinds.append("signature")
        assert status.intact and status.valid and status.trusted, status.pretty_print_details()
    assert kinds == ["signature", "signature", "timestamp"]
