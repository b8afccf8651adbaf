"""Reading signature values straight from the /ByteRange gaps, without parsing the PDF."""
from cryptography.x509.oid import NameOID

from services.signing import tsa, verify
from tests.integration.signing.conftest import ORG, PERSON


def _cn(cert) -> str:
    return cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value


def test_every_signature_and_the_document_timestamp_in_file_order(signed_contract):
    values = verify.signature_values(signed_contract.final)
    assert [_cn(verify.signer_certificate(v)) for v in values] == [ORG.name, PERSON.name, "E-Contract Platform TSA"]
    by_reader = [cert for _, cert in verify.signature_certificates(signed_contract.final)]
    assert [verify.signer_certificate(v) for v in values] == by_reader
    stamp = tsa.token_time(values[-1])
    assert stamp.tzinfo is not None


def test_unsigned_documents_and_garbage_give_nothing(contract):
    assert verify.signature_values(contract) == []
    fake = contract + b"\n/ByteRange [0 10 20 30] /Contents <zz>\n" + b"/ByteRange [0 5 6 9]"
    assert verify.signature_values(fake) == []
