"""Platform keys in a PKCS#11 token (SoftHSM2): generated there, never extractable, and
signing, timestamping, CRLs and OCSP work with them exactly as with software keys."""
from __future__ import annotations

from dataclasses import replace

import grpc
import pkcs11
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509 import ocsp
from pkcs11 import Attribute, KeyType, ObjectClass

from core.errors import FailedPrecondition
from core.service import ServiceContext, start
from core.settings import load
from services.signing import hsm, pades, pki, verify
from services.signing.config import TokenSettings
from services.signing.tsa import TimestampAuthority
from tests.integration.signing import service
from tests.integration.signing.softhsm import soft_token
from tests.support.pdfsig import nss_database, pdfsig_report, require_pdfsig
from tests.unit.signing.fixtures import ORG_KEYWORD, contract_pdf

ROLES = ("root", "issuing", "tsa", "seal")
PERSON = pki.PersonSubject("张三", "110101199003074514")


@pytest.fixture(scope="module")
def token(tmp_path_factory):
    return soft_token(tmp_path_factory.mktemp("softhsm"))


@pytest.fixture(scope="module")
def token_settings(token) -> TokenSettings:
    return TokenSettings(module=token.module, pin=token.pin, token_label=token.label, key_prefix="ca1-")


@pytest.fixture(scope="module")
def hsm_ca(token_settings, tmp_path_factory) -> pki.PlatformCa:
    settings = pki.PkiSettings(master_key=b"hsm-test-master-key-01", id_hash_salt=b"hsm-test-id-salt-0123",
                               directory=tmp_path_factory.mktemp("pki-hsm"))
    return pki.PlatformCa.open(settings, keys=hsm.open_keystore(token_settings, settings.directory))


def _keys(ca: pki.PlatformCa) -> dict[str, ec.EllipticCurvePrivateKey]:
    return {"root": ca._root.key, "issuing": ca._issuing.key, "tsa": ca.tsa_material().key,
            "seal": ca.platform_seal().key}


def test_the_platform_keys_are_made_in_the_token_and_never_leave_it(hsm_ca, token):
    for role, key in _keys(hsm_ca).items():
        assert isinstance(key, hsm.TokenKey), role
        assert key.protection() == hsm.KeyProtection(extractable=False, sensitive=True, never_extractable=True,
                                                      always_sensitive=True), role
        with pytest.raises(FailedPrecondition):
            key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                              serialization.NoEncryption())
    assert not list(hsm_ca.settings.directory.glob("*.key.pem"))  # certificates only on disk

    # Asking the token itself: CKA_EXTRACTABLE is false, the value cannot be read, nor wrapped out.
    session = pkcs11.lib(str(token.module)).get_token(token_label=token.label).open(rw=True)
    try:
        wrapping = session.generate_key(KeyType.AES, 256, template={Attribute.WRAP: True})
        for role in ROLES:
            (private,) = session.get_objects({Attribute.CLASS: ObjectClass.PRIVATE_KEY, Attribute.LABEL: f"ca1-{role}"})
            assert private[Attribute.EXTRACTABLE] is False
            with pytest.raises(pkcs11.exceptions.AttributeSensitive):
                _ = private[Attribute.VALUE]
            with pytest.raises((pkcs11.exceptions.KeyUnextractable, pkcs11.exceptions.AttributeSensitive)):
                wrapping.wrap_key(private)
            with pytest.raises(pkcs11.exceptions.PKCS11Error):
                private[Attribute.EXTRACTABLE] = True
    finally:
        session.close()


def test_reopening_finds_the_same_keys_in_the_token(hsm_ca, token_settings):
    again = pki.PlatformCa.open(hsm_ca.settings, hsm_ca.registry,
                                keys=hsm.open_keystore(token_settings, hsm_ca.settings.directory))
    assert again.root_cert == hsm_ca.root_cert and again.tsa_material().cert == hsm_ca.tsa_material().cert
    # The reopened key signs; the signature verifies under the certificate's public key.
    data = b"same key"
    again._issuing.key.public_key().verify(hsm_ca._issuing.key.sign(data, ec.ECDSA(hashes.SHA256())), data,
                                           ec.ECDSA(hashes.SHA256()))


def test_a_key_prefix_without_keys_on_the_token_is_a_clear_error(hsm_ca, token_settings):
    with pytest.raises(FailedPrecondition, match="no private key labelled other-root"):
        pki.PlatformCa.open(hsm_ca.settings, hsm_ca.registry,
                            keys=hsm.open_keystore(replace(token_settings, key_prefix="other-"),
                                                   hsm_ca.settings.directory))


def test_crls_and_ocsp_answers_are_signed_by_the_token_keys(hsm_ca):
    signer = pki.new_signer(hsm_ca, PERSON)
    hsm_ca.revoke(signer.cert.serial_number, pki.RevocationReason.KEY_COMPROMISE)
    crl = x509.load_der_x509_crl(hsm_ca.build_crl("issuing"))
    assert crl.is_signature_valid(hsm_ca.issuing_cert.public_key())
    assert crl.get_revoked_certificate_by_serial_number(signer.cert.serial_number) is not None
    assert x509.load_der_x509_crl(hsm_ca.build_crl("root")).is_signature_valid(hsm_ca.root_cert.public_key())
    request = ocsp.OCSPRequestBuilder().add_certificate(signer.cert, hsm_ca.issuing_cert, hashes.SHA256()).build()
    answer = ocsp.load_der_ocsp_response(hsm_ca.ocsp_response(request.public_bytes(serialization.Encoding.DER)))
    assert answer.certificate_status is ocsp.OCSPCertStatus.REVOKED
    hsm_ca.issuing_cert.public_key().verify(answer.signature, answer.tbs_response_bytes,
                                            ec.ECDSA(hashes.SHA256()))
    assert signer.cert.verify_directly_issued_by(hsm_ca.issuing_cert) is None


def _sign_and_stamp(ca: pki.PlatformCa) -> bytes:
    """A signer's signature (one-time key, certificate from the token's issuing CA), an
    agreement lock with the platform seal (pyHanko's PKCS#11 signer), and the B-LTA
    document timestamp (token TSA key)."""
    from services.signing import anchors, seals

    stamper = TimestampAuthority(ca.tsa_material()).timestamper()
    tsa_cert = ca.tsa_material().cert
    pdf = contract_pdf()
    signer = pki.new_signer(ca, pki.OrgSubject("某某科技有限公司", "91110302MA01NNKT89"))
    placement = anchors.keyword_placement(pdf, ORG_KEYWORD, width=pades.COMPANY_SEAL_SIZE,
                                          height=pades.COMPANY_SEAL_SIZE)
    pdf = pades.sign(pdf, signer, field_name="lender", timestamper=stamper,
                     validation_context=pades.signing_validation_context(ca, signer, [tsa_cert]),
                     appearance=pades.Appearance(seals.round_company_seal("某某科技有限公司"), placement))
    seal = ca.platform_seal()
    pdf = pades.lock_agreement(pdf, seal, signer_id="sg_b", signer_name="张三", ip="127.0.0.1", user_agent="test",
                               reading_seconds=12, field_name="agreement", timestamper=stamper,
                               validation_context=pades.signing_validation_context(ca, seal, [tsa_cert])).pdf
    return pades.timestamp_document(pdf, timestamper=stamper,
                                    validation_context=pades.signing_validation_context(ca, ca.tsa_material()))


def test_signatures_and_timestamps_made_with_token_keys_validate_with_pyhanko(hsm_ca):
    pdf = _sign_and_stamp(hsm_ca)
    report = verify.verify(pdf, hsm_ca.trust_roots(),
                           fresh_revocation=hsm_ca.revocation_info(verify.document_certificates(pdf)))
    assert report.valid, report.to_json()
    assert [s.field_name for s in report.signatures][:2] == ["lender", "agreement"]
    assert report.signatures[1].signer == "E-Contract Platform Seal"
    assert all(s.verdict is verify.Verdict.VALID and s.timestamp_trusted for s in report.signatures)


def test_signatures_made_with_token_keys_validate_with_pdfsig(hsm_ca, tmp_path):
    require_pdfsig()
    pdf = _sign_and_stamp(hsm_ca)
    nss = nss_database(tmp_path / "nss", [hsm_ca.root_cert.public_bytes(serialization.Encoding.PEM)])
    blocks = pdfsig_report(pdf, nss, tmp_path, "-no-ocsp")
    assert len(blocks) == 3
    for block in blocks[:2]:
        assert block["Signature Validation"] == "Signature is Valid.", block
        assert block["Certificate Validation"] == "Certificate is Trusted.", block
    assert blocks[1]["Signer Certificate Common Name"] == "E-Contract Platform Seal"


# ------------------------------------------------------ the signing service in token mode


@pytest.fixture(scope="module")
def hsm_service(platform_env, run_id, token, tmp_path_factory):
    """A signing service of its own (own port, PKI directory and schema) started with
    SIGNING_KEYSTORE=pkcs11; the PIN is read from an environment variable, as configured."""
    from services.signing.server import register
    from tests.conftest import free_port

    var = tmp_path_factory.mktemp("hsm-var")
    env = {**platform_env, "ECONTRACT_VAR_DIR": str(var), "SIGNING_ADDR": f"127.0.0.1:{free_port()}",
           "ECONTRACT_DB_SCHEMA_PREFIX": f"{run_id}_hsm_"}
    ctx = ServiceContext(load("signing", env))
    with pytest.MonkeyPatch.context() as patch:  # the signing configuration is read at start
        for name, value in {
            "ECONTRACT_TEST_HSM_PIN": token.pin, "SIGNING_PKI_DIR": str(var / "pki"),
            "SIGNING_KEYSTORE": "pkcs11", "SIGNING_PKCS11_MODULE": str(token.module),
            "SIGNING_PKCS11_TOKEN_LABEL": token.label, "SIGNING_PKCS11_PIN": "env:ECONTRACT_TEST_HSM_PIN",
            "SIGNING_PKCS11_KEY_PREFIX": "svc-",
        }.items():
            patch.setenv(name, value)
        running = start(ctx, register)
    channel = grpc.insecure_channel(env["SIGNING_ADDR"])
    from econtract.signing.v1 import signing_pb2_grpc

    yield signing_pb2_grpc.SigningServiceStub(channel), var / "pki"
    channel.close()
    running.stop()
    ctx.close()


def test_the_signing_service_signs_and_timestamps_with_token_keys(hsm_service, token):
    from econtract.common.v1 import common_pb2
    from econtract.signing.v1 import signing_pb2 as pb

    hsm_service, pki_dir = hsm_service
    assert {p.name for p in pki_dir.glob("*.cert.pem")} == {f"{r}.cert.pem" for r in ROLES}
    assert not list(pki_dir.glob("*.key.pem"))
    session = pkcs11.lib(str(token.module)).get_token(token_label=token.label).open()
    try:
        labels = {o[Attribute.LABEL] for o in session.get_objects({Attribute.CLASS: ObjectClass.PRIVATE_KEY})}
    finally:
        session.close()
    assert {f"svc-{r}" for r in ROLES} <= labels

    pdf = contract_pdf()
    signed = hsm_service.SignDocument(service.sign_request(
        pdf, service.org_signer("sg_hsm"), "ct_hsm",
        service.claims("ct_hsm", pdf, signer_id="sg_hsm", token_id="tok_hsm", subject_id="sub_org"),
        [service.keyword(ORG_KEYWORD)]))
    stamped = hsm_service.TimestampDocument(pb.TimestampDocumentRequest(pdf=common_pb2.FileData(data=signed.pdf.data)))
    roots = [x509.load_pem_x509_certificate(r.encode())
             for r in hsm_service.ListTrustRoots(pb.ListTrustRootsRequest()).roots]
    report = verify.verify(stamped.pdf.data, roots)
    assert report.valid, report.to_json()
    assert [s.kind for s in report.signatures] == ["SIGNATURE", "DOCUMENT_TIMESTAMP"]
    # The RFC 3161 endpoint answers with a token signed by the token's TSA key.
    from asn1crypto import tsp

    request = tsp.TimeStampReq({"version": "v1", "message_imprint": {
        "hash_algorithm": {"algorithm": "sha256"}, "hashed_message": b"\x01" * 32}, "cert_req": True})
    answer = tsp.TimeStampResp.load(hsm_service.RespondTimestamp(pb.RespondTimestampRequest(
        request=request.dump())).response)
    assert answer["status"]["status"].native == "granted"
