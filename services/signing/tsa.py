"""An RFC 3161 timestamp authority, and a pyHanko TimeStamper that calls it in-process.

``TimestampAuthority.respond`` takes a DER TimeStampReq and returns a DER
TimeStampResp; the HTTP layer serves exactly that at ``application/timestamp-query``.
When the TSA runs in the same process as the signer, :class:`InProcessTimeStamper`
calls ``respond`` directly (same bytes, no HTTP hop), which keeps the timestamp
out of the signing latency budget.

Tokens follow RFC 3161 with RFC 5816: the SignerInfo carries the ESS
signing-certificate-v2 attribute (SHA-256) and is signed with ECDSA/SHA-256 by
the TSA certificate (EKU timeStamping, critical) issued by the platform CA.
"""
from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable

from asn1crypto import algos, cms, core, tsp
from asn1crypto import x509 as asn1_x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from pyhanko.sign.general import as_signing_certificate_v2, simple_cms_attribute
from pyhanko.sign.timestamps import TimeStamper
from pyhanko.sign.timestamps.common_utils import TimestampRequestError

from core.errors import FailedPrecondition
from services.signing.pki import SignerMaterial

# An OID under 2.25 (ITU-T X.667) is unique by construction, no registration needed.
DEFAULT_POLICY_OID = "2.25.216360153625716212329622532802545373813"

_DIGEST_SIZES = {"sha256": 32, "sha384": 48, "sha512": 64}


class _RejectionResp(core.Sequence):
    # asn1crypto's TimeStampResp makes the token mandatory; RFC 3161 omits it on rejection.
    _fields = [('status', tsp.PKIStatusInfo)]


class _Rejection(Exception):
    def __init__(self, fail_info: str, text: str):
        super().__init__(text)
        self.fail_info = fail_info
        self.text = text


def token_time(token: cms.ContentInfo) -> dt.datetime:
    """genTime of a timestamp token (a CMS SignedData over a TSTInfo)."""
    return token["content"]["encap_content_info"]["content"].parsed["gen_time"].native


def _utc_now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


class TimestampAuthority:
    """Issues RFC 3161 timestamp tokens signed with the TSA key."""

    def __init__(self, material: SignerMaterial, *, policy_oid: str = DEFAULT_POLICY_OID,
                 clock: Callable[[], dt.datetime] = _utc_now):
        if not isinstance(material.key, ec.EllipticCurvePrivateKey):
            raise FailedPrecondition("the TSA key must be an EC key")
        self._key = material.key
        self._cert = asn1_x509.Certificate.load(material.cert.public_bytes(serialization.Encoding.DER))
        # The TSA certificate plus its issuing CA (not the root: validators bring their own).
        certs = [self._cert] + [
            asn1_x509.Certificate.load(c.public_bytes(serialization.Encoding.DER))
            for c in material.chain if c.subject != c.issuer
        ]
        self._cert_set = cms.CertificateSet.load(
            cms.CertificateSet([cms.CertificateChoices({'certificate': c}) for c in certs]).dump())
        self._policy = policy_oid
        self._clock = clock
        # Reloaded from DER so later dumps reuse the bytes instead of re-encoding (~4 ms).
        self._ess = cms.CMSAttribute.load(
            simple_cms_attribute('signing_certificate_v2', as_signing_certificate_v2(self._cert)).dump())

    @property
    def certificate(self) -> asn1_x509.Certificate:
        return self._cert

    def respond(self, tsq_der: bytes) -> bytes:
        """Answer one DER TimeStampReq; every problem becomes a 'rejection' response."""
        try:
            request = self._parse(tsq_der)
            return self._grant(request).dump()
        except _Rejection as rejection:
            return _RejectionResp({
                'status': tsp.PKIStatusInfo({
                    'status': 'rejection',
                    'status_string': [rejection.text],
                    'fail_info': tsp.PKIFailureInfo({rejection.fail_info}),
                }),
            }).dump()

    def timestamper(self) -> TimeStamper:
        return InProcessTimeStamper(self)

    def _parse(self, tsq_der: bytes) -> tsp.TimeStampReq:
        try:
            request = tsp.TimeStampReq.load(tsq_der, strict=True)
            version = request['version'].native
            algorithm = request['message_imprint']['hash_algorithm']['algorithm'].native
            digest = request['message_imprint']['hashed_message'].native
            policy = request['req_policy'].native
            extensions = request['extensions'].native
            _ = request['nonce'].native  # force parsing: a bad nonce is a format error
        except (ValueError, TypeError, KeyError) as exc:
            raise _Rejection('bad_data_format', 'malformed TimeStampReq') from exc
        if version != 'v1':
            raise _Rejection('bad_request', 'unsupported request version')
        if algorithm not in _DIGEST_SIZES:
            raise _Rejection('bad_alg', f'unsupported hash algorithm {algorithm}')
        if not isinstance(digest, bytes) or len(digest) != _DIGEST_SIZES[algorithm]:
            raise _Rejection('bad_data_format', 'message imprint has the wrong length')
        if policy is not None and policy != self._policy:
            raise _Rejection('unaccepted_policy', 'requested policy is not supported')
        if extensions:
            raise _Rejection('unaccepted_extension', 'request extensions are not supported')
        return request

    def _grant(self, request: tsp.TimeStampReq) -> tsp.TimeStampResp:
        tst_info = {
            'version': 'v1',
            'policy': self._policy,
            'message_imprint': request['message_imprint'],
            # 127 random bits: unique across replicas without coordination.
            'serial_number': uuid.uuid4().int >> 1,
            'gen_time': core.GeneralizedTime(self._clock()),
            'accuracy': {'seconds': 1},
            'tsa': asn1_x509.GeneralName(name='directory_name', value=self._cert.subject),
        }
        if request['nonce'].native is not None:
            tst_info['nonce'] = request['nonce']
        content = tsp.TSTInfo(tst_info).dump()

        digest = hashes.Hash(hashes.SHA256())
        digest.update(content)
        signed_attrs = cms.CMSAttributes([
            simple_cms_attribute('content_type', 'tst_info'),
            simple_cms_attribute('message_digest', digest.finalize()),
            self._ess,
        ])
        signature = self._key.sign(signed_attrs.dump(), ec.ECDSA(hashes.SHA256()))
        sha256 = algos.DigestAlgorithm({'algorithm': 'sha256'})
        signer_info = cms.SignerInfo({
            'version': 'v1',
            'sid': cms.SignerIdentifier({'issuer_and_serial_number': cms.IssuerAndSerialNumber({
                'issuer': self._cert.issuer, 'serial_number': self._cert.serial_number})}),
            'digest_algorithm': sha256,
            'signed_attrs': signed_attrs,
            'signature_algorithm': algos.SignedDigestAlgorithm({'algorithm': 'sha256_ecdsa'}),
            'signature': signature,
        })
        signed_data = {
            'version': 'v3',
            'digest_algorithms': [sha256],
            'encap_content_info': {
                'content_type': 'tst_info',
                'content': cms.ParsableOctetString(content),
            },
            'signer_infos': [signer_info],
        }
        if request['cert_req'].native:
            signed_data['certificates'] = self._cert_set
        token = cms.ContentInfo({'content_type': 'signed_data', 'content': cms.SignedData(signed_data)})
        return tsp.TimeStampResp({'status': {'status': 'granted'}, 'time_stamp_token': token})


class InProcessTimeStamper(TimeStamper):
    """A pyHanko TimeStamper that asks a local TimestampAuthority, through the same DER bytes."""

    def __init__(self, authority: TimestampAuthority):
        super().__init__(include_nonce=True)
        self._authority = authority

    async def async_request_tsa_response(self, req: tsp.TimeStampReq) -> tsp.TimeStampResp:
        der = self._authority.respond(req.dump())
        response = tsp.TimeStampResp.load(der)
        try:
            response['status']
        except ValueError:
            # A rejection has no token, which asn1crypto's TimeStampResp cannot parse.
            status = _RejectionResp.load(der)['status'].native
            raise TimestampRequestError(
                f"timestamp refused: {'; '.join(status['status_string'] or [])}") from None
        return response
