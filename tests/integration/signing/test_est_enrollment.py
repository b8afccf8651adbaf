"""Signer certificates from an outside CA over EST (RFC 7030), against a local EST server:
the one-time key's request, the certificate back for that key, and a PAdES signature with it
that validates trusting the outside CA (and the platform TSA)."""
from __future__ import annotations

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from core.errors import FailedPrecondition, PermissionDenied, Unavailable
from services.signing import pades, pki, verify
from services.signing.outside_ca import EstCaProvider, EstClient, EstSettings
from services.signing.tsa import TimestampAuthority
from tests.integration.signing.conftest import ORG, PERSON
from tests.integration.signing.est_server import EstServer, est_ca
from tests.unit.signing.fixtures import contract_pdf

USER, PASSWORD = "platform", "est-secret-1"


@pytest.fixture(scope="module")
def outside(tmp_path_factory):
    with est_ca("Licensed Test CA", tmp_path_factory.mktemp("est"), USER, PASSWORD) as made:
        yield made


def _provider(est: EstServer, password: str = PASSWORD) -> EstCaProvider:
    client = EstClient(EstSettings(est.base_url, USER, password, ca_bundle=est.tls_ca, timeout=5))
    return EstCaProvider(client, b"est-test-id-hash-salt-01")


def test_the_adapter_enrols_the_one_time_key_and_gets_its_certificate(outside):
    ca, est = outside
    provider = _provider(est)
    assert provider.trust_roots() == [ca.root]
    signer = pki.new_signer(provider, PERSON)  # the key signs the request; the certificate is for that key
    assert signer.cert == est.enrolled[-1]
    assert signer.cert.public_key() == signer.key.public_key()
    assert signer.cert.issuer == ca.root.subject and signer.chain == (ca.root,)
    assert provider.revocation_info([signer.cert]).crls  # the CRL its certificate names


def test_a_document_signed_with_the_outside_certificate_validates(outside, signing, ca):
    outside_ca, est = outside
    provider = _provider(est)
    signer = pki.new_signer(provider, ORG)
    tsa = ca.tsa_material()
    context = pades._validation_context(  # the outside chain and its CRL, the platform TSA and its status
        [*provider.trust_roots(), *ca.trust_roots()], [signer.cert, *signer.chain, tsa.cert, *tsa.chain],
        pki.RevocationInfo(crls=provider.revocation_info([signer.cert]).crls + ca.revocation_info([tsa.cert]).crls,
                           ocsps=ca.revocation_info([tsa.cert]).ocsps))
    signed = pades.sign(contract_pdf(), signer, field_name="licensed", validation_context=context,
                        timestamper=TimestampAuthority(tsa).timestamper())
    report = verify.verify(signed, [outside_ca.root, *ca.trust_roots()],
                           fresh_revocation=ca.revocation_info(verify.document_certificates(signed)))
    assert report.valid, report.to_json()
    assert report.signatures[0].issuer_subject == outside_ca.root.subject.rfc4514_string()
    # Trusted only with the outside CA among the roots.
    assert not verify.verify(signed, ca.trust_roots()).valid


def test_wrong_credentials_are_refused_clearly(outside):
    _, est = outside
    with pytest.raises(PermissionDenied, match="refused the EST credentials"):
        pki.new_signer(_provider(est, "wrong"), PERSON)


def test_an_unreachable_or_plain_http_ca_is_a_clear_error(outside):
    _, est = outside
    with pytest.raises(FailedPrecondition, match="HTTPS"):
        EstSettings(est.base_url.replace("https://", "http://"), USER, PASSWORD)
    unreachable = EstCaProvider(EstClient(EstSettings("https://127.0.0.1:1/.well-known/est", USER, PASSWORD,
                                                      timeout=2)), b"est-test-id-hash-salt-01")
    with pytest.raises(Unavailable, match="cannot be reached"):
        unreachable.trust_roots()


def test_the_adapter_only_enrols(outside):
    _, est = outside
    with pytest.raises(FailedPrecondition, match="enroll"):
        _provider(est).issue_signer_certificate(PERSON, ec.generate_private_key(ec.SECP256R1()).public_key())
    assert "est-secret" not in repr(EstSettings(est.base_url, USER, PASSWORD))


def test_an_est_host_on_a_private_address_is_refused_outside_dev_mode(outside):
    _, est = outside
    enrolled = len(est.enrolled)
    guarded = EstCaProvider(EstClient(EstSettings(est.base_url, USER, PASSWORD, ca_bundle=est.tls_ca, timeout=5,
                                                  allow_private=False)), b"est-test-id-hash-salt-01")
    with pytest.raises(FailedPrecondition, match=r"resolves to 127\.0\.0\.1, which is not a public address"):
        pki.new_signer(guarded, PERSON)
    assert len(est.enrolled) == enrolled  # nothing was sent
