"""Two replicas of the signing service sharing the database, the PKI directory and Redis.
Each caches the CRLs and OCSP answers it builds for SIGNING_STATUS_CACHE_SECONDS (60 s); a
revocation through one replica still shows at once in what the other serves, because the
revocation advances a counter in Redis that every replica checks before using its cache.
Through gRPC: the mesh's replica and a second one on its own port (the CRL); and two
PlatformCa objects on one registry (the OCSP answers embedded and used in verification)."""
from __future__ import annotations

import secrets
from collections.abc import Iterator

import grpc
import pytest
import redis
from cryptography import x509
from cryptography.x509 import ocsp

from core.service import ServiceContext, start
from core.settings import load
from econtract.signing.v1 import signing_pb2 as pb
from econtract.signing.v1 import signing_pb2_grpc
from services.signing import pki
from services.signing.revocation_epoch import RedisRevocationEpoch
from services.signing.server import register
from tests.conftest import free_port
from tests.integration.signing import service
from tests.unit.signing.fixtures import contract_pdf


@pytest.fixture(scope="module")
def replicas(mesh) -> Iterator[tuple[signing_pb2_grpc.SigningServiceStub, signing_pb2_grpc.SigningServiceStub]]:
    env = {**mesh.env, "SIGNING_ADDR": f"127.0.0.1:{free_port()}"}
    assert load("signing", env).redis_prefix == load("signing", mesh.env).redis_prefix
    ctx = ServiceContext(load("signing", env), mesh.provider)
    running = start(ctx, register)
    first, second = grpc.insecure_channel(mesh.env["SIGNING_ADDR"]), grpc.insecure_channel(env["SIGNING_ADDR"])
    yield signing_pb2_grpc.SigningServiceStub(first), signing_pb2_grpc.SigningServiceStub(second)
    first.close()
    second.close()
    running.stop()
    ctx.close()


def _crl(stub) -> x509.CertificateRevocationList:
    reply = stub.GetCrl(pb.GetCrlRequest(authority=pb.CERTIFICATE_AUTHORITY_ISSUING), timeout=30)
    return x509.load_der_x509_crl(reply.crl)


def _number(crl: x509.CertificateRevocationList) -> int:
    return crl.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number


def _signed(stub) -> int:
    """The serial of the one-time certificate of a document signed through ``stub``."""
    tag = secrets.token_hex(4)
    signer = service.person_signer("sg_replica_" + tag)
    pdf = contract_pdf(1)
    reply = stub.SignDocument(service.sign_request(
        pdf, signer, "ct_replica_" + tag,
        service.claims("ct_replica_" + tag, pdf, signer_id=signer.signer_id, token_id="tok_replica_" + tag),
        [service.point(1, 300, 400)]), timeout=120)
    return int(reply.certificate_serial, 16)


def test_a_revocation_through_one_replica_shows_at_once_in_the_others_crl(replicas):
    first, second = replicas
    serial = _signed(first)
    before = _crl(second)
    assert before.get_revoked_certificate_by_serial_number(serial) is None
    assert _number(_crl(second)) == _number(before)  # the second replica serves its cached CRL

    first.RevokeCertificate(pb.RevokeCertificateRequest(serial_number=format(serial, "x"), reason="keyCompromise"),
                            timeout=30)

    after = _crl(second)
    assert after.get_revoked_certificate_by_serial_number(serial) is not None
    assert _number(after) > _number(before)


@pytest.fixture
def two_cas(tmp_path, redis_client, run_id):
    """Two replicas' CAs: one PKI directory and registry, the shared counter in the test's Redis."""
    settings = pki.PkiSettings(master_key=b"replica-test-master-key", id_hash_salt=b"replica-test-id-salt-01",
                               directory=tmp_path / "pki")
    registry = pki.FileCertificateRegistry(tmp_path / "issued")
    epoch = RedisRevocationEpoch(redis_client, f"{run_id}:signing:revocation-epoch:{secrets.token_hex(4)}")
    return (pki.PlatformCa.open(settings, registry, epoch=epoch), pki.PlatformCa.open(settings, registry, epoch=epoch),
            pki.PlatformCa.open(settings, registry))


def _ocsp_status(der: bytes) -> ocsp.OCSPCertStatus:
    return ocsp.load_der_ocsp_response(der).certificate_status


def test_cached_ocsp_answers_follow_a_revocation_on_another_replica(two_cas):
    first, second, unshared = two_cas
    signer = pki.new_signer(first, pki.PersonSubject("张三", "110101199003074514"))
    for ca in (second, unshared):
        assert _ocsp_status(ca.ocsp_for(signer.cert)) is ocsp.OCSPCertStatus.GOOD  # now cached

    first.revoke(signer.cert.serial_number, pki.RevocationReason.KEY_COMPROMISE)

    assert _ocsp_status(second.ocsp_for(signer.cert)) is ocsp.OCSPCertStatus.REVOKED
    (embedded,) = second.revocation_info([signer.cert]).ocsps
    assert _ocsp_status(embedded) is ocsp.OCSPCertStatus.REVOKED
    # A replica without the shared counter keeps its cached answer until it runs out.
    assert _ocsp_status(unshared.ocsp_for(signer.cert)) is ocsp.OCSPCertStatus.GOOD


def test_an_unreadable_counter_bypasses_the_cache(tmp_path):
    unreachable = RedisRevocationEpoch(redis.Redis(port=free_port(), socket_connect_timeout=0.5), "epoch")
    assert unreachable.current() is None
    settings = pki.PkiSettings(master_key=b"replica-test-master-key", id_hash_salt=b"replica-test-id-salt-01",
                               directory=tmp_path / "pki")
    registry = pki.FileCertificateRegistry(tmp_path / "issued")
    blind, other = pki.PlatformCa.open(settings, registry, epoch=unreachable), pki.PlatformCa.open(settings, registry)
    signer = pki.new_signer(blind, pki.PersonSubject("张三", "110101199003074514"))
    assert _ocsp_status(blind.ocsp_for(signer.cert)) is ocsp.OCSPCertStatus.GOOD
    other.revoke(signer.cert.serial_number)  # elsewhere, and the counter cannot tell
    assert _ocsp_status(blind.ocsp_for(signer.cert)) is ocsp.OCSPCertStatus.REVOKED  # rebuilt, not cached
