"""The contract service's calls to the signing service's timestamp authority and CA:
an RFC 3161 timestamp token over a digest, and the certificates that check it.

The outgoing half of the RPC layer: protobuf is built and read only here; the token and
certificates leave as DER bytes.
"""
from __future__ import annotations

import secrets
from dataclasses import dataclass

import grpc
from asn1crypto import algos, cms, tsp

from core.rpc.client import Peers
from services.contract.peer_errors import peer_error


@dataclass(frozen=True)
class TrustMaterial:
    """What an offline verifier needs to check the platform's timestamp tokens."""

    tsa_chain_der: tuple[bytes, ...]  # the TSA certificate, then its issuing CA
    root_der: bytes


class TimestampError(RuntimeError):
    """The TSA refused or answered something that is not a token for our digest."""


def _request(digest: bytes, nonce: int, *, with_certificate: bool = False) -> bytes:
    return tsp.TimeStampReq({
        "version": "v1",
        "message_imprint": {"hash_algorithm": algos.DigestAlgorithm({"algorithm": "sha256"}), "hashed_message": digest},
        "nonce": nonce,
        "cert_req": with_certificate,
    }).dump()


def token_from_response(der: bytes, digest: bytes, nonce: int) -> bytes:
    """The DER TimeStampToken of a granted response for ``digest``; TimestampError otherwise."""
    try:
        response = tsp.TimeStampResp.load(der)
        status = response["status"]["status"].native
        token = response["time_stamp_token"]
    except ValueError as exc:
        raise TimestampError(f"the TSA refused or answered something unreadable: {exc}") from None
    if status not in ("granted", "granted_with_mods") or token.native is None:
        raise TimestampError(f"the TSA answered {status}")
    info = token["content"]["encap_content_info"]["content"].parsed
    if info["message_imprint"]["hashed_message"].native != digest or info["nonce"].native != nonce:
        raise TimestampError("the TSA's token is not for the digest and nonce we sent")
    return token.dump()


class TimestampClient:
    def __init__(self, peers: Peers):
        self._peers = peers

    def _stub(self):
        from econtract.signing.v1 import signing_pb2_grpc

        return signing_pb2_grpc.SigningServiceStub(self._peers.channel("signing"))

    def timestamp(self, digest: bytes) -> bytes:
        """An RFC 3161 token (DER ContentInfo) over the SHA-256 ``digest``."""
        from econtract.signing.v1 import signing_pb2

        nonce = secrets.randbits(63)
        try:
            # Without the certificates: the bundle carries them, and every byte of such a
            # token is covered by the offline checks (embedded certificates are not signed).
            reply = self._peers.call(self._stub().RespondTimestamp,
                                     signing_pb2.RespondTimestampRequest(request=_request(digest, nonce)))
        except grpc.RpcError as exc:
            raise peer_error(exc, "signing", "timestamping a tree head") from None
        return token_from_response(reply.response, digest, nonce)

    def trust_material(self) -> TrustMaterial:
        """The TSA certificate with its issuing CA, and the root CA, as DER."""
        from econtract.signing.v1 import signing_pb2

        stub = self._stub()
        try:
            root = self._peers.call(stub.GetCaCertificate,
                                    signing_pb2.GetCaCertificateRequest(authority=signing_pb2.CERTIFICATE_AUTHORITY_ROOT))
            issuing = self._peers.call(stub.GetCaCertificate,
                                       signing_pb2.GetCaCertificateRequest(authority=signing_pb2.CERTIFICATE_AUTHORITY_ISSUING))
            # A timestamp with the certificate requested names the TSA's own certificate.
            nonce = secrets.randbits(63)
            probe = _request(bytes(32), nonce, with_certificate=True)
            answer = self._peers.call(stub.RespondTimestamp, signing_pb2.RespondTimestampRequest(request=probe))
        except grpc.RpcError as exc:
            raise peer_error(exc, "signing", "reading the TSA and CA certificates") from None
        token = cms.ContentInfo.load(token_from_response(answer.response, bytes(32), nonce))
        signer = token["content"]["signer_infos"][0]["sid"].chosen
        tsa = next((c.chosen for c in token["content"]["certificates"]
                    if c.name == "certificate" and c.chosen.serial_number == signer["serial_number"].native), None)
        if tsa is None:
            raise TimestampError("the TSA's token does not carry its certificate")
        return TrustMaterial((tsa.dump(), issuing.certificate), root.certificate)
