"""Reading and checking a client-side signer's certificate chain and signature."""
import datetime as dt

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from cryptography.x509.oid import NameOID

from core.errors import FailedPrecondition, InvalidArgument
from services.signing import client_chain


def _name(cn: str, org: str = "") -> x509.Name:
    attributes = [x509.NameAttribute(NameOID.COMMON_NAME, cn)]
    if org:
        attributes.append(x509.NameAttribute(NameOID.ORGANIZATION_NAME, org))
    return x509.Name(attributes)


def _cert(subject: x509.Name, key, issuer_key=None, issuer: x509.Name | None = None, *, ca: bool = False,
          days: int = 30, usage: bool = True) -> x509.Certificate:
    now = dt.datetime.now(dt.timezone.utc)
    builder = (x509.CertificateBuilder().subject_name(subject).issuer_name(issuer or subject)
               .public_key(key.public_key()).serial_number(x509.random_serial_number())
               .not_valid_before(now - dt.timedelta(days=1)).not_valid_after(now + dt.timedelta(days=days))
               .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
    if not ca:
        builder = builder.add_extension(x509.KeyUsage(
            digital_signature=usage, content_commitment=usage, key_encipherment=not usage, data_encipherment=False,
            key_agreement=False, key_cert_sign=False, crl_sign=False, encipher_only=False, decipher_only=False),
            critical=True)
    return builder.sign(issuer_key or key, hashes.SHA256())


def _pem(*certs: x509.Certificate) -> str:
    return "".join(c.public_bytes(serialization.Encoding.PEM).decode() for c in certs)


@pytest.fixture(scope="module")
def root():
    key = ec.generate_private_key(ec.SECP256R1())
    return key, _cert(_name("Test Root"), key, ca=True, days=365)


@pytest.fixture(scope="module")
def leaf(root):
    root_key, root_cert = root
    key = ec.generate_private_key(ec.SECP256R1())
    return key, _cert(_name("张三"), key, root_key, root_cert.subject)


def test_the_chain_is_read_from_pem_entries_in_order(root, leaf):
    chain = client_chain.parse_chain([_pem(leaf[1]), _pem(root[1])])
    assert chain.leaf == leaf[1] and chain.cas == (root[1],)
    assert client_chain.parse_chain([_pem(leaf[1], root[1])]) == chain
    assert chain.serial == format(leaf[1].serial_number, "x") and chain.pem().count("BEGIN CERTIFICATE") == 2


@pytest.mark.parametrize("entries, message", [
    ([], "is required"), (["not a certificate"], "PEM certificates"), (["x" * 70000], "larger than"),
])
def test_bad_chains_are_invalid_arguments(entries, message):
    with pytest.raises(InvalidArgument, match=message) as failure:
        client_chain.parse_chain(entries)
    assert failure.value.violations[0].field == "certificateChain"


def test_a_ca_certificate_first_a_weak_key_or_no_signing_usage_is_refused(root):
    root_key, root_cert = root
    with pytest.raises(InvalidArgument, match="not a CA certificate"):
        client_chain.parse_chain([_pem(root_cert)])
    small = ec.generate_private_key(ec.SECP384R1())
    with pytest.raises(InvalidArgument, match="P-256"):
        client_chain.parse_chain([_pem(_cert(_name("张三"), small, root_key, root_cert.subject))])
    encipher = ec.generate_private_key(ec.SECP256R1())
    with pytest.raises(InvalidArgument, match="key usage"):
        client_chain.parse_chain([_pem(_cert(_name("张三"), encipher, root_key, root_cert.subject, usage=False))])


def test_the_certificate_must_name_the_signer(root, leaf):
    chain = client_chain.parse_chain([_pem(leaf[1])])
    client_chain.check_names(chain, " 张三 ", organisation=False)
    with pytest.raises(InvalidArgument, match="not the signer 李四"):
        client_chain.check_names(chain, "李四", organisation=False)
    key = ec.generate_private_key(ec.SECP256R1())
    org = client_chain.parse_chain([_pem(_cert(_name("Legal Dept", "某某科技有限公司"), key, root[0], root[1].subject))])
    client_chain.check_names(org, "某某科技有限公司", organisation=True)


def test_ecdsa_signatures_are_accepted_as_der_or_raw_and_carried_as_der(leaf):
    key, cert = leaf
    data = b"signed attributes"
    der = key.sign(data, ec.ECDSA(hashes.SHA256()))
    assert client_chain.verified_signature(cert, data, der) == der
    r, s = decode_dss_signature(der)
    raw = r.to_bytes(32, "big") + s.to_bytes(32, "big")  # WebCrypto's form
    assert client_chain.verified_signature(cert, data, raw) == der
    assert client_chain.verified_signature(cert, data + b"!", der) is None
    assert client_chain.verified_signature(cert, data, b"\x30\x02\x01") is None


def test_rsa_pkcs1v15_signatures_are_checked(root):
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    cert = _cert(_name("张三"), key, root[0], root[1].subject)
    data = b"signed attributes"
    good = key.sign(data, padding.PKCS1v15(), hashes.SHA256())
    assert client_chain.verified_signature(cert, data, good) == good
    pss = key.sign(data, padding.PSS(padding.MGF1(hashes.SHA256()), 32), hashes.SHA256())
    assert client_chain.verified_signature(cert, data, pss) is None


def test_the_chain_must_reach_a_trusted_anchor(root, leaf):
    chain = client_chain.parse_chain([_pem(leaf[1]), _pem(root[1])])
    client_chain.check_chain(chain, [root[1]], fetch_timeout=1)  # no revocation source named: nothing to fetch
    stranger = ec.generate_private_key(ec.SECP256R1())
    with pytest.raises(FailedPrecondition, match="trustAnchors"):
        client_chain.check_chain(chain, [_cert(_name("Other Root"), stranger, ca=True)], fetch_timeout=1)


def test_an_unreachable_revocation_source_refuses_rather_than_passes(root):
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(_name("张三")).issuer_name(root[1].subject)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(days=1)).not_valid_after(now + dt.timedelta(days=3))
            .add_extension(x509.CRLDistributionPoints([x509.DistributionPoint(
                full_name=[x509.UniformResourceIdentifier("http://127.0.0.1:1/none.crl")], relative_name=None,
                reasons=None, crl_issuer=None)]), critical=False)
            .sign(root[0], hashes.SHA256()))
    with pytest.raises(FailedPrecondition, match="could not be checked"):
        client_chain.check_chain(client_chain.parse_chain([_pem(cert)]), [root[1]], fetch_timeout=1)


def test_an_intermediate_anchor_is_handed_to_the_validator_by_its_name_and_key(root):
    root_key, root_cert = root
    key = ec.generate_private_key(ec.SECP256R1())
    intermediate = _cert(_name("Issuing CA"), key, root_key, root_cert.subject, ca=True)
    kept, (stand_in,) = client_chain.as_trust_roots([root_cert]), client_chain.as_trust_roots([intermediate])
    assert kept == [root_cert]  # a self-issued root is handed over as it is
    assert stand_in.subject == stand_in.issuer == intermediate.subject
    assert stand_in.public_key() == intermediate.public_key()
    assert stand_in.extensions.get_extension_for_class(x509.BasicConstraints).value.ca is True
    assert (stand_in.not_valid_before_utc, stand_in.not_valid_after_utc) == (
        intermediate.not_valid_before_utc, intermediate.not_valid_after_utc)
