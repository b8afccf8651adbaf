"""An independent validator: poppler's pdfsig (NSS) trusting only the platform root.

pdfsig checks a signer's certificate online through the OCSP URL in it, which
the session's PKI HTTP server answers. Two limits of Debian 12's poppler (22.x)
shape these tests: in one run only the first signature's online OCSP check
succeeds (NSS is re-initialised between signatures and every later check ends
in "Unknown issue with Certificate", whoever the responder), so documents with
several signatures are checked with ``-no-ocsp`` and the online path with
single-signature documents; and it does not know the ETSI.RFC3161 subfilter,
so the B-LTA document timestamp is listed as an unknown, unverified type.
"""
from services.signing import pades, pki, seals
from tests.integration.signing.conftest import ORG, PERSON


def _assert_valid(block: dict[str, str], signer: str) -> None:
    assert block["Signer Certificate Common Name"] == signer
    assert block["Signature Type"] == "ETSI.CAdES.detached"
    assert block["Signing Hash Algorithm"] == "SHA-256"
    assert block["Signature Validation"] == "Signature is Valid."
    assert block["Certificate Validation"] == "Certificate is Trusted."


def test_pdfsig_checks_a_signer_online_through_our_ocsp(signed_contract, pdfsig, tmp_path):
    (block,) = pdfsig.run(signed_contract.after_org, tmp_path)
    _assert_valid(block, ORG.name)
    assert "Total document signed" in block


def test_pdfsig_reports_both_contract_signatures_valid_and_trusted(signed_contract, pdfsig, tmp_path):
    blocks = pdfsig.run(signed_contract.after_person, tmp_path, "-no-ocsp")
    assert [b["Signature Field Name"] for b in blocks] == ["lender", "borrower"]
    _assert_valid(blocks[0], ORG.name)
    _assert_valid(blocks[1], PERSON.name)
    assert "Total document signed" in blocks[1]
    assert "Not total document signed" in blocks[0]


def test_pdfsig_on_the_completed_b_lta_contract(signed_contract, pdfsig, tmp_path):
    blocks = pdfsig.run(signed_contract.final, tmp_path, "-no-ocsp")
    assert len(blocks) == 3
    _assert_valid(blocks[0], ORG.name)
    _assert_valid(blocks[1], PERSON.name)
    stamp = blocks[2]
    assert stamp["Signer Certificate Common Name"] == "E-Contract Platform TSA"
    assert "Total document signed" in stamp
    if stamp["Signature Type"] == "unknown":  # poppler < 23: no ETSI.RFC3161 support
        assert stamp["Signature Validation"] == "Signature has not yet been verified."
    else:
        assert stamp["Signature Validation"] == "Signature is Valid."


def test_pdfsig_accepts_the_riding_seal_signature(signed_contract, signing, ca, pdfsig, tmp_path):
    signed = signing.sign(signed_contract.after_person, pki.new_signer(ca, ORG), "riding",
                          riding_seal=pades.RidingSeal(seals.round_company_seal(ORG.name)))
    blocks = pdfsig.run(signed, tmp_path, "-no-ocsp")
    assert [b["Signature Field Name"] for b in blocks] == ["lender", "borrower", "riding"]
    for block, name in zip(blocks, [ORG.name, PERSON.name, ORG.name], strict=True):
        _assert_valid(block, name)


def test_pdfsig_sees_tampering(signed_contract, pdfsig, tmp_path):
    tampered = signed_contract.after_person.replace(b"Loan amount: 10000", b"Loan amount: 90000", 1)
    blocks = pdfsig.run(tampered, tmp_path, "-no-ocsp")
    assert [b["Signature Validation"] for b in blocks] == ["Digest Mismatch."] * 2


def test_pdfsig_reports_a_revoked_signer(signing, ca, contract, pdfsig, tmp_path, timestamper):
    signer = pki.new_signer(ca, PERSON)
    stale = pades.signing_validation_context(ca, signer, [ca.tsa_material().cert])
    signed = pades.sign(contract, signer, field_name="revoked", timestamper=timestamper,
                        validation_context=stale)
    ca.revoke(signer.cert.serial_number, pki.RevocationReason.KEY_COMPROMISE)
    (block,) = pdfsig.run(signed, tmp_path)
    assert block["Signature Validation"] == "Signature is Valid."
    assert block["Certificate Validation"] == "Certificate has been Revoked."


def test_pdfsig_accepts_a_riding_seal_alone_online(signing, ca, contract, pdfsig, tmp_path):
    signed = signing.sign(contract, pki.new_signer(ca, ORG), "riding",
                          riding_seal=pades.RidingSeal(seals.round_company_seal(ORG.name)))
    (block,) = pdfsig.run(signed, tmp_path)
    _assert_valid(block, ORG.name)
