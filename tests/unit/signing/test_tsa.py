import asyncio
import hashlib
import shutil
import subprocess

import pytest
from asn1crypto import cms, tsp
from cryptography.hazmat.primitives import serialization
from pyhanko.sign.timestamps.common_utils import TimestampRequestError

from services.signing.tsa import DEFAULT_POLICY_OID, TimestampAuthority, _RejectionResp
from tests.unit.signing.fixtures import make_ca


@pytest.fixture(scope="module")
def ca(tmp_path_factory):
    return make_ca(tmp_path_factory.mktemp("pki"))


@pytest.fixture(scope="module")
def authority(ca):
    return TimestampAuthority(ca.tsa_material())


def _request(digest=None, algorithm="sha256", nonce=12345, cert_req=True, policy=None) -> tsp.TimeStampReq:
    fields = {
        "version": 1,
        "message_imprint": {"hash_algorithm": {"algorithm": algorithm},
                            "hashed_message": digest or hashlib.new(algorithm, b"contract").digest()},
        "cert_req": cert_req,
    }
    if nonce is not None:
        fields["nonce"] = nonce
    if policy is not None:
        fields["req_policy"] = policy
    return tsp.TimeStampReq(fields)


def _rejection(der: bytes) -> dict:
    return _RejectionResp.load(der)["status"].native


def test_grants_a_token_for_the_imprint(authority, ca):
    request = _request()
    response = tsp.TimeStampResp.load(authority.respond(request.dump()))
    assert response["status"]["status"].native == "granted"
    token = response["time_stamp_token"]
    signed_data = token["content"]
    info = signed_data["encap_content_info"]["content"].parsed
    assert info["message_imprint"].native == request["message_imprint"].native
    assert info["nonce"].native == 12345
    assert info["policy"].native == DEFAULT_POLICY_OID
    assert info["accuracy"]["seconds"].native == 1
    certs = {c.chosen.dump() for c in signed_data["certificates"]}
    # the TSA and its issuing CA; validators bring their own root
    assert certs == {ca.tsa_material().cert.public_bytes(serialization.Encoding.DER),
                     ca.issuing_cert.public_bytes(serialization.Encoding.DER)}
    attrs = {a["type"].native for a in signed_data["signer_infos"][0]["signed_attrs"]}
    assert {"content_type", "message_digest", "signing_certificate_v2"} <= attrs


def test_serial_numbers_are_unique(authority):
    def serial() -> int:
        token = tsp.TimeStampResp.load(authority.respond(_request().dump()))["time_stamp_token"]
        return token["content"]["encap_content_info"]["content"].parsed["serial_number"].native
    assert len({serial() for _ in range(20)}) == 20


def test_no_certificates_unless_requested(authority):
    response = tsp.TimeStampResp.load(authority.respond(_request(cert_req=False).dump()))
    assert isinstance(response["time_stamp_token"]["content"], cms.SignedData)
    assert not response["time_stamp_token"]["content"]["certificates"]


@pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl not installed")
def test_openssl_verifies_the_token(authority, ca, tmp_path):
    request = _request()
    (tmp_path / "req.tsq").write_bytes(request.dump())
    (tmp_path / "resp.tsr").write_bytes(authority.respond(request.dump()))
    (tmp_path / "root.pem").write_bytes(ca.root_cert.public_bytes(serialization.Encoding.PEM))
    (tmp_path / "issuing.pem").write_bytes(ca.issuing_cert.public_bytes(serialization.Encoding.PEM))
    result = subprocess.run(
        ["openssl", "ts", "-verify", "-queryfile", "req.tsq", "-in", "resp.tsr",
         "-CAfile", "root.pem", "-untrusted", "issuing.pem"],
        cwd=tmp_path, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
    assert "Verification: OK" in result.stdout


@pytest.mark.parametrize("request_der, fail_info", [
    (b"not asn.1", {"bad_data_format"}),
    (_request(algorithm="sha1").dump(), {"bad_alg"}),
    (_request(algorithm="md5").dump(), {"bad_alg"}),
    (_request(digest=b"\x00" * 20).dump(), {"bad_data_format"}),
    (_request(policy="1.2.3.4").dump(), {"unaccepted_policy"}),
])
def test_bad_requests_are_rejected_without_a_token(authority, request_der, fail_info):
    status = _rejection(authority.respond(request_der))
    assert status["status"] == "rejection"
    assert status["fail_info"] == fail_info
    assert status["status_string"]


def test_requested_policy_that_matches_is_granted(authority):
    response = tsp.TimeStampResp.load(authority.respond(_request(policy=DEFAULT_POLICY_OID).dump()))
    assert response["status"]["status"].native == "granted"


def test_in_process_timestamper_returns_tokens_and_reports_refusals(authority):
    stamper = authority.timestamper()
    token = asyncio.run(stamper.async_timestamp(hashlib.sha256(b"x").digest(), "sha256"))
    assert token["content_type"].native == "signed_data"
    with pytest.raises(TimestampRequestError, match="unsupported hash algorithm"):
        asyncio.run(stamper.async_timestamp(hashlib.sha1(b"x").digest(), "sha1"))
