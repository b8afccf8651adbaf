"""Signer certificates from an outside CA over EST (RFC 7030, Enrollment over Secure Transport).

Business lines that must sign under a licensed CA get their signer certificates from it;
this adapter speaks the CA side of that through EST, the IETF certificate-request
protocol many commercial CAs and PKI products offer:
- ``GET  {base}/cacerts``: the CA certificates, as a base64 certs-only CMS (RFC 7030 §4.1);
- ``POST {base}/simpleenroll``: a base64 DER PKCS#10 request signed by the new key (proof
  of possession), HTTP basic authentication (§3.2.3); answered with the certificate as a
  base64 certs-only CMS (§4.2.3), or 202 + Retry-After when the CA approves manually.
``base`` is ``https://host/.well-known/est`` or, for a CA with several profiles,
``…/.well-known/est/<label>``. TLS is verified against ``ca_bundle`` and/or ``ca_pem``
(or the system's roots when neither is given).

``EstCaProvider`` is a ``pki.CaProvider`` that enrols (``pki.EnrollingCa``): the one-time
key made by ``pki.new_signer`` signs the request, and the CA's answer must certify that
very key. Revocation data for validation is the CRLs named in the certificates, fetched
over HTTP; revoking goes through the CA's own channels, not EST.
"""
from __future__ import annotations

import base64
import binascii
import ipaddress
import socket
import ssl
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.types import CertificatePublicKeyTypes, PrivateKeyTypes
from cryptography.hazmat.primitives.serialization import pkcs7
from pyhanko_certvalidator import ValidationContext

from core.errors import FailedPrecondition, PermissionDenied, Unavailable
from services.signing import pki

_MAX_ANSWER = 1024 * 1024


@dataclass(frozen=True)
class EstSettings:
    """Where the outside CA's EST service is and how to log in (the password is never shown)."""

    base_url: str
    username: str
    password: str = field(repr=False)
    ca_bundle: Path | None = None
    timeout: float = 10.0
    ca_pem: str = ""  # PEM roots for the TLS check, as a business line's settings hold them
    allow_private: bool = True  # False: refuse a loopback, private or link-local EST host

    def __post_init__(self) -> None:
        if not self.base_url.startswith("https://"):
            raise FailedPrecondition("an EST service is reached over HTTPS only (RFC 7030 §3.3)")
        object.__setattr__(self, "base_url", self.base_url.rstrip("/"))


class EstClient:
    """The two EST operations the platform needs, each an ``est.<operation>`` client span
    (method, host, path, status; never the credentials) when a tracer is given."""

    def __init__(self, settings: EstSettings, tracer=None):
        self._settings = settings
        self._tracer = tracer
        self._tls = ssl.create_default_context(cafile=str(settings.ca_bundle) if settings.ca_bundle else None,
                                               cadata=settings.ca_pem or None)

    def cacerts(self) -> list[x509.Certificate]:
        return _certs_only(self._call("GET", "cacerts"), "cacerts")

    def simple_enroll(self, csr: x509.CertificateSigningRequest) -> x509.Certificate:
        body = base64.encodebytes(csr.public_bytes(serialization.Encoding.DER))
        certs = _certs_only(self._call("POST", "simpleenroll", body, "application/pkcs10"), "simpleenroll")
        if len(certs) < 1:
            raise FailedPrecondition("the outside CA's simpleenroll answer holds no certificate")
        return certs[0]

    def _call(self, method: str, operation: str, body: bytes | None = None, content_type: str = "") -> bytes:
        if self._tracer is None:
            return self._exchange(method, operation, body, content_type, None)
        from opentelemetry.trace import SpanKind

        parts = urllib.parse.urlsplit(f"{self._settings.base_url}/{operation}")
        attributes = {"http.request.method": method, "server.address": parts.hostname or "", "url.path": parts.path}
        with self._tracer.start_as_current_span(f"est.{operation}", kind=SpanKind.CLIENT,
                                                attributes=attributes) as span:
            return self._exchange(method, operation, body, content_type, span)

    def _exchange(self, method: str, operation: str, body: bytes | None, content_type: str, span) -> bytes:
        settings = self._settings
        if not settings.allow_private:
            _refuse_private(settings.base_url)
        request = urllib.request.Request(f"{settings.base_url}/{operation}", data=body, method=method)
        if content_type:
            request.add_header("Content-Type", content_type)
            request.add_header("Content-Transfer-Encoding", "base64")
        token = base64.b64encode(f"{settings.username}:{settings.password}".encode()).decode()
        request.add_header("Authorization", f"Basic {token}")
        try:
            with urllib.request.urlopen(request, timeout=settings.timeout, context=self._tls) as answer:
                if span is not None:
                    span.set_attribute("http.response.status_code", answer.status)
                if answer.status == 202:
                    retry = answer.headers.get("Retry-After", "later")
                    raise Unavailable(f"the outside CA holds the request for approval; retry after {retry} s")
                return answer.read(_MAX_ANSWER)
        except urllib.error.HTTPError as exc:
            if span is not None:
                span.set_attribute("http.response.status_code", exc.code)
            if exc.code in (401, 403):
                raise PermissionDenied(f"the outside CA refused the EST credentials of {settings.username!r} "
                                       f"(HTTP {exc.code})") from None
            raise FailedPrecondition(f"the outside CA answered {operation} with HTTP {exc.code}: "
                                     f"{exc.read(500).decode(errors='replace').strip()}") from None
        except (urllib.error.URLError, TimeoutError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise Unavailable(f"the outside CA's EST service cannot be reached: {reason}") from None


class EstCaProvider:
    """``pki.CaProvider`` + ``pki.EnrollingCa`` over an outside CA's EST service."""

    def __init__(self, client: EstClient, id_hash_salt: bytes, *, crl_timeout: float = 10.0):
        self._client = client
        self._salt = id_hash_salt
        self._crl_timeout = crl_timeout
        self._cas: list[x509.Certificate] | None = None

    def ca_certificates(self) -> list[x509.Certificate]:
        if self._cas is None:
            self._cas = self._client.cacerts()
        return self._cas

    def trust_roots(self) -> list[x509.Certificate]:
        return [c for c in self.ca_certificates() if c.subject == c.issuer]

    def enroll(self, subject: pki.Subject, key: PrivateKeyTypes, *, subject_id: str | None = None) -> pki.CertificateChain:
        """Have the outside CA certify ``key`` for ``subject`` (the same subject name the
        built-in CA would give); the answer must be for this key."""
        csr = (x509.CertificateSigningRequestBuilder()
               .subject_name(pki.subject_name(subject, self._salt))
               .add_extension(x509.KeyUsage(
                   digital_signature=True, content_commitment=True, key_encipherment=False,
                   data_encipherment=False, key_agreement=False, key_cert_sign=False, crl_sign=False,
                   encipher_only=False, decipher_only=False), critical=True)
               .sign(key, hashes.SHA256()))  # type: ignore[arg-type]
        cert = self._client.simple_enroll(csr)
        if cert.public_key() != key.public_key():  # type: ignore[union-attr]
            raise FailedPrecondition("the outside CA returned a certificate for another key")
        return pki.CertificateChain(cert, tuple(self.ca_certificates()))

    def issue_signer_certificate(self, subject: pki.Subject, public_key: CertificatePublicKeyTypes, *,
                                 subject_id: str | None = None) -> pki.CertificateChain:
        raise FailedPrecondition("an EST CA certifies a key only against a request signed by it: use enroll")

    def revocation_info(self, certs: Sequence[x509.Certificate]) -> pki.RevocationInfo:
        urls = sorted({url for cert in certs for url in _crl_urls(cert)})
        return pki.RevocationInfo(crls=tuple(self._fetch_crl(url) for url in urls))

    def revoke(self, serial: int,
               reason: pki.RevocationReason = pki.RevocationReason.UNSPECIFIED) -> pki.IssuedCertificate | None:
        return None  # EST has no revocation: it goes through the outside CA's own channels

    def _fetch_crl(self, url: str) -> bytes:
        try:
            with urllib.request.urlopen(url, timeout=self._crl_timeout) as answer:
                return answer.read(16 * _MAX_ANSWER)
        except (urllib.error.URLError, TimeoutError, OSError) as exc:
            raise Unavailable(f"the outside CA's CRL at {url} cannot be fetched: {getattr(exc, 'reason', exc)}") \
                from None


def signing_context(outside: pki.CaProvider, platform: pki.PlatformCa,
                    signer: pki.SignerMaterial) -> ValidationContext:
    """What pyHanko validates and embeds when a key certified by an outside CA signs: the
    outside chain with its CRLs, the platform TSA's chain with the platform's own status;
    nothing is fetched by pyHanko itself. Revocation data is required wherever a
    certificate names some (``hard-fail``), as outside CAs differ in what they publish."""
    tsa = platform.tsa_material()
    theirs = outside.revocation_info([signer.cert, *signer.chain])
    ours = platform.revocation_info([tsa.cert, *tsa.chain])
    return ValidationContext(
        trust_roots=[_asn1(c) for c in (*outside.trust_roots(), *platform.trust_roots())],
        other_certs=[_asn1(c) for c in (signer.cert, *signer.chain, tsa.cert, *tsa.chain)],
        crls=[*theirs.crls, *ours.crls], ocsps=[*theirs.ocsps, *ours.ocsps],
        allow_fetching=False, revocation_mode="hard-fail",
    )


def _asn1(cert: x509.Certificate) -> asn1_x509.Certificate:
    return asn1_x509.Certificate.load(cert.public_bytes(serialization.Encoding.DER))


def _refuse_private(url: str) -> None:
    """A business line names the EST URL: the service must not become its way into the
    platform's own network, so every address the host resolves to must be public."""
    parts = urllib.parse.urlsplit(url)
    try:
        infos = socket.getaddrinfo(parts.hostname or "", parts.port or 443, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise Unavailable(f"the outside CA's host {parts.hostname} cannot be resolved: {exc.strerror}") from None
    for info in infos:
        ip = ipaddress.ip_address(str(info[4][0]))
        if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
            ip = ip.ipv4_mapped
        if not ip.is_global or ip.is_multicast:
            raise FailedPrecondition(f"the outside CA's host {parts.hostname} resolves to {ip}, which is not a "
                                     "public address: an EST service must be reachable on the internet")


def _crl_urls(cert: x509.Certificate) -> list[str]:
    try:
        points = cert.extensions.get_extension_for_class(x509.CRLDistributionPoints).value
    except x509.ExtensionNotFound:
        return []
    return [name.value for point in points for name in (point.full_name or ())
            if isinstance(name, x509.UniformResourceIdentifier) and name.value.startswith(("http://", "https://"))]


def _certs_only(body: bytes, operation: str) -> list[x509.Certificate]:
    try:
        der = base64.b64decode(body, validate=False)
        return pkcs7.load_der_pkcs7_certificates(der)
    except (ValueError, binascii.Error) as exc:
        raise FailedPrecondition(f"the outside CA's {operation} answer is not a certs-only CMS: {exc}") from None
