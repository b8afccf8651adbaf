from services.signing import pki
from tests.unit.signing.fixtures import make_ca


def test_reopening_with_an_empty_registry_records_the_platform_certificates_again(tmp_path):
    first = make_ca(tmp_path / "pki")
    fresh = pki.FileCertificateRegistry(tmp_path / "new-registry")
    again = pki.PlatformCa.open(first.settings, fresh)
    for cert in (again.issuing_cert, again.tsa_material().cert, again.platform_seal().cert):
        record = fresh.get(cert.serial_number)
        assert record is not None and record.status is pki.CertStatus.GOOD
    assert again.tsa_material().cert == first.tsa_material().cert  # kept, not renewed


def test_signer_records_carry_the_subject_id(tmp_path):
    ca = make_ca(tmp_path)
    signer = pki.new_signer(ca, pki.PersonSubject("张三", "110101199003074514"), subject_id="sub_1")
    record = ca.registry.get(signer.cert.serial_number)
    assert record.subject_id == "sub_1"
    assert pki.IssuedCertificate.from_json(record.to_json()) == record
