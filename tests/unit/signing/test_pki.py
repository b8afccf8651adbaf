import datetime as dt
import threading

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509 import ocsp
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from core.errors import FailedPrecondition, InvalidArgument, NotFound
from services.signing import pki
from tests.unit.signing.fixtures import make_ca

ID_NUMBER = "110101199003074514"


@pytest.fixture(scope="module")
def ca(tmp_path_factory):
    return make_ca(tmp_path_factory.mktemp("pki"))


def _ocsp_request(cert, issuer, algorithm=None, nonce=None) -> bytes:
    builder = ocsp.OCSPRequestBuilder().add_certificate(cert, issuer, algorithm or hashes.SHA1())
    if nonce is not None:
        builder = builder.add_extension(x509.OCSPNonce(nonce), critical=False)
    return builder.build().public_bytes(serialization.Encoding.DER)


def test_first_use_creates_encrypted_hierarchy_and_reopening_keeps_it(tmp_path):
    ca = make_ca(tmp_path)
    for name in ("root", "issuing", "tsa", "seal"):
        assert (tmp_path / f"{name}.key.pem").read_bytes().startswith(b"-----BEGIN ENCRYPTED PRIVATE KEY-----")
        assert (tmp_path / f"{name}.key.pem").stat().st_mode & 0o077 == 0
    again = make_ca(tmp_path)
    assert again.root_cert == ca.root_cert
    assert again.issuing_cert == ca.issuing_cert
    assert again.tsa_material().cert == ca.tsa_material().cert
    assert isinstance(ca.root_cert.public_key(), ec.EllipticCurvePublicKey)
    assert ca.issuing_cert.issuer == ca.root_cert.subject
    assert ca.issuing_cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca


def test_wrong_master_key_fails_fast(tmp_path):
    make_ca(tmp_path)
    settings = pki.PkiSettings(master_key=b"another-master-key-000", id_hash_salt=b"test-id-salt-0123456789",
                               directory=tmp_path)
    with pytest.raises(FailedPrecondition, match="master key"):
        pki.PlatformCa.open(settings)


def test_concurrent_first_use_agrees_on_one_root(tmp_path):
    results = []
    threads = [threading.Thread(target=lambda: results.append(make_ca(tmp_path).root_cert)) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len({r.fingerprint(hashes.SHA256()) for r in results}) == 1


@pytest.mark.parametrize("value", [b"short", b""])
def test_settings_reject_weak_master_key(value):
    with pytest.raises(InvalidArgument):
        pki.PkiSettings(master_key=value, id_hash_salt=b"0123456789abcdef")


def test_person_certificate_names_the_person_with_a_hashed_id(ca):
    signer = pki.new_signer(ca, pki.PersonSubject("张三", ID_NUMBER))
    cert = signer.cert
    assert cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "张三"
    serial_attr = cert.subject.get_attributes_for_oid(NameOID.SERIAL_NUMBER)[0].value
    assert serial_attr == pki.hash_id_number(ID_NUMBER, b"test-id-salt-0123456789")
    assert len(serial_attr) == 64 and ID_NUMBER not in serial_attr
    assert ID_NUMBER.encode() not in cert.public_bytes(serialization.Encoding.DER)
    # the ID hash is keyed: without the salt it is not a plain SHA-256 of the number
    assert serial_attr != pki.hash_id_number(ID_NUMBER, b"other-salt-0123456789")

    key_usage = cert.extensions.get_extension_for_class(x509.KeyUsage)
    assert key_usage.critical and key_usage.value.content_commitment and key_usage.value.digital_signature
    assert not key_usage.value.key_cert_sign
    eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert pki.DOCUMENT_SIGNING_EKU in eku
    aia = cert.extensions.get_extension_for_class(x509.AuthorityInformationAccess).value
    assert [d.access_location.value for d in aia] == [
        "http://127.0.0.1:8080/pki/ocsp", "http://127.0.0.1:8080/pki/certs/issuing.cer"]
    crldp = cert.extensions.get_extension_for_class(x509.CRLDistributionPoints).value
    assert crldp[0].full_name[0].value == "http://127.0.0.1:8080/pki/crl/issuing.crl"
    lifetime = cert.not_valid_after_utc - cert.not_valid_before_utc
    assert lifetime <= dt.timedelta(minutes=11)
    assert signer.chain == (ca.issuing_cert, ca.root_cert)
    cert.verify_directly_issued_by(ca.issuing_cert)


def test_id_number_hash_normalises_case_and_spaces():
    salt = b"0123456789abcdef"
    assert pki.hash_id_number(" 11010119900307451x ", salt) == pki.hash_id_number("11010119900307451X", salt)


def test_org_certificate_names_the_organisation_and_credit_code(ca):
    cert = pki.new_signer(ca, pki.OrgSubject("某某科技有限公司", "91110302MA01NNKT89")).cert
    assert cert.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)[0].value == "某某科技有限公司"
    assert cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "某某科技有限公司"
    assert cert.subject.get_attributes_for_oid(NameOID.ORGANIZATION_IDENTIFIER)[0].value == "NTRCN-91110302MA01NNKT89"


@pytest.mark.parametrize("subject", [
    pki.OrgSubject("某某科技有限公司", "123"),
    pki.OrgSubject(" ", "91110302MA01NNKT89"),
    pki.PersonSubject("", ID_NUMBER),
    pki.PersonSubject("张三", " "),
])
def test_bad_subjects_are_invalid_arguments(ca, subject):
    with pytest.raises(InvalidArgument):
        pki.new_signer(ca, subject)


def test_tsa_certificate_has_critical_time_stamping_eku(ca):
    cert = ca.tsa_material().cert
    eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage)
    assert eku.critical and list(eku.value) == [ExtendedKeyUsageOID.TIME_STAMPING]


def test_issued_certificates_are_recorded(ca):
    cert = pki.new_signer(ca, pki.PersonSubject("李四", ID_NUMBER)).cert
    record = ca.certificate_status(cert.serial_number)
    assert record.status is pki.CertStatus.GOOD
    assert record.role is pki.CertRole.SIGNER
    assert record.subject == cert.subject.rfc4514_string()
    assert record.not_after == cert.not_valid_after_utc
    with pytest.raises(NotFound):
        ca.certificate_status(12345)


def test_revocation_shows_in_crl_and_ocsp(ca):
    cert = pki.new_signer(ca, pki.PersonSubject("王五", ID_NUMBER)).cert
    good = ocsp.load_der_ocsp_response(ca.ocsp_response(_ocsp_request(cert, ca.issuing_cert)))
    assert good.response_status is ocsp.OCSPResponseStatus.SUCCESSFUL
    assert good.certificate_status is ocsp.OCSPCertStatus.GOOD

    ca.revoke(cert.serial_number, pki.RevocationReason.KEY_COMPROMISE)

    crl = x509.load_der_x509_crl(ca.build_crl("issuing"))
    assert crl.is_signature_valid(ca.issuing_cert.public_key())
    entry = crl.get_revoked_certificate_by_serial_number(cert.serial_number)
    assert entry is not None
    assert entry.extensions.get_extension_for_class(x509.CRLReason).value.reason is x509.ReasonFlags.key_compromise
    assert crl.next_update_utc > dt.datetime.now(dt.timezone.utc)

    revoked = ocsp.load_der_ocsp_response(
        ca.ocsp_response(_ocsp_request(cert, ca.issuing_cert, hashes.SHA256(), nonce=b"nonce-123")))
    assert revoked.certificate_status is ocsp.OCSPCertStatus.REVOKED
    assert revoked.revocation_reason is x509.ReasonFlags.key_compromise
    assert revoked.extensions.get_extension_for_class(x509.OCSPNonce).value.nonce == b"nonce-123"
    ca.issuing_cert.public_key().verify(
        revoked.signature, revoked.tbs_response_bytes, ec.ECDSA(hashes.SHA256()))
    assert ocsp.load_der_ocsp_response(ca.ocsp_for(cert)).certificate_status is ocsp.OCSPCertStatus.REVOKED


def test_root_crl_covers_the_issuing_ca(ca):
    crl = x509.load_der_x509_crl(ca.build_crl("root"))
    assert crl.issuer == ca.root_cert.subject
    assert crl.is_signature_valid(ca.root_cert.public_key())
    with pytest.raises(InvalidArgument):
        ca.build_crl("nobody")


def test_ocsp_refuses_bad_and_foreign_requests(ca, tmp_path):
    assert ocsp.load_der_ocsp_response(ca.ocsp_response(b"junk")).response_status \
        is ocsp.OCSPResponseStatus.MALFORMED_REQUEST
    other = make_ca(tmp_path)
    foreign = pki.new_signer(other, pki.PersonSubject("赵六", ID_NUMBER)).cert
    response = ocsp.load_der_ocsp_response(ca.ocsp_response(_ocsp_request(foreign, other.issuing_cert)))
    assert response.response_status is ocsp.OCSPResponseStatus.UNAUTHORIZED


def test_ocsp_reports_unknown_serials(ca):
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.timezone.utc)
    stray = (x509.CertificateBuilder().subject_name(ca.issuing_cert.subject)
             .issuer_name(ca.issuing_cert.subject).public_key(key.public_key())
             .serial_number(424242).not_valid_before(now).not_valid_after(now + dt.timedelta(days=1))
             .sign(key, hashes.SHA256()))
    response = ocsp.load_der_ocsp_response(ca.ocsp_response(_ocsp_request(stray, ca.issuing_cert)))
    assert response.certificate_status is ocsp.OCSPCertStatus.UNKNOWN


def test_revocation_info_covers_leaves_and_the_issuing_ca(ca):
    signer = pki.new_signer(ca, pki.PersonSubject("张三", ID_NUMBER))
    info = ca.revocation_info([signer.cert, *signer.chain, ca.tsa_material().cert])
    assert len(info.ocsps) == 2  # signer and TSA; the CAs are covered by the root CRL
    assert x509.load_der_x509_crl(info.crls[0]).issuer == ca.root_cert.subject


def test_file_registry_is_a_certificate_registry(tmp_path):
    registry = pki.FileCertificateRegistry(tmp_path)
    assert isinstance(registry, pki.CertificateRegistry)
    now = dt.datetime.now(dt.timezone.utc)
    record = pki.IssuedCertificate(serial=0xABC, issuer="issuing", role=pki.CertRole.SIGNER,
                                   subject="CN=x", not_before=now, not_after=now, cert_der=b"\x30\x00")
    registry.add(record)
    assert registry.get(0xABC) == record
    revoked = registry.revoke(0xABC, now, "superseded")
    assert revoked.status is pki.CertStatus.REVOKED and registry.revoked("issuing") == [revoked]
    assert registry.revoked("root") == []
    with pytest.raises(NotFound):
        registry.revoke(0xDEF, now, "superseded")


def test_platform_ca_is_a_ca_provider(ca):
    assert isinstance(ca, pki.CaProvider)
    seal = ca.platform_seal()
    assert "CN=E-Contract Platform Seal" in seal.cert.subject.rfc4514_string()
    assert seal.cert.extensions.get_extension_for_class(x509.KeyUsage).value.content_commitment


def test_a_revoked_platform_role_certificate_is_replaced_on_next_start(tmp_path):
    ca = make_ca(tmp_path)
    old = ca.tsa_material().cert
    ca.revoke(old.serial_number, pki.RevocationReason.KEY_COMPROMISE)
    renewed = make_ca(tmp_path).tsa_material().cert
    assert renewed.serial_number != old.serial_number
    assert renewed.subject == old.subject
    assert make_ca(tmp_path).tsa_material().cert == renewed


def test_load_certificate_reads_pem_and_der_and_refuses_junk(ca):
    pem = ca.root_cert.public_bytes(serialization.Encoding.PEM)
    der = ca.root_cert.public_bytes(serialization.Encoding.DER)
    assert pki.load_certificate(pem) == pki.load_certificate(der) == ca.root_cert
    with pytest.raises(InvalidArgument):
        pki.load_certificate(b"-----BEGIN CERTIFICATE-----\njunk\n-----END CERTIFICATE-----\n")
