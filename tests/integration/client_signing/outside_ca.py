"""A CA the platform does not run (as a licensed CA or a company's own would be), made by
the test: a root that issues signer certificates and serves its CRL over local HTTP."""
from __future__ import annotations

import datetime as dt
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

CRL_PATH = "/outside-ca.crl"


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


@dataclass
class OutsideCa:
    """A CA with its own certificate in ``root``: self-signed, or, with ``parent``, an
    intermediate CA certified by that CA."""

    name: str = "Outside Test CA"
    crl_url: str = ""
    key: ec.EllipticCurvePrivateKey = field(default_factory=lambda: ec.generate_private_key(ec.SECP256R1()))
    revoked: dict[int, dt.datetime] = field(default_factory=dict)
    parent: OutsideCa | None = None

    def __post_init__(self) -> None:
        subject = x509.Name([x509.NameAttribute(NameOID.COUNTRY_NAME, "CN"),
                             x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Outside Trust Services"),
                             x509.NameAttribute(NameOID.COMMON_NAME, self.name)])
        issuer = self.parent.root.subject if self.parent else subject
        signer = self.parent.key if self.parent else self.key
        builder = (
            x509.CertificateBuilder().subject_name(subject).issuer_name(issuer)
            .public_key(self.key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(_now() - dt.timedelta(days=1)).not_valid_after(_now() + dt.timedelta(days=3650))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0 if self.parent else 1), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=False, content_commitment=False, key_encipherment=False,
                                         data_encipherment=False, key_agreement=False, key_cert_sign=True,
                                         crl_sign=True, encipher_only=False, decipher_only=False), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(self.key.public_key()), critical=False)
        )
        if self.parent:
            builder = builder.add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(self.parent.key.public_key()), critical=False)
            if self.parent.crl_url:
                builder = builder.add_extension(_crl_point(self.parent.crl_url), critical=False)
        self.root = builder.sign(signer, hashes.SHA256())

    @property
    def root_pem(self) -> str:
        return self.root.public_bytes(serialization.Encoding.PEM).decode()

    def issue(self, common_name: str, public_key, *, days: int = 30) -> x509.Certificate:
        """A signer certificate as CAs issue them for document signing (CRL distribution point set)."""
        builder = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COUNTRY_NAME, "CN"),
                                     x509.NameAttribute(NameOID.COMMON_NAME, common_name)]))
            .issuer_name(self.root.subject).public_key(public_key).serial_number(x509.random_serial_number())
            .not_valid_before(_now() - dt.timedelta(minutes=5)).not_valid_after(_now() + dt.timedelta(days=days))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=True, key_encipherment=False,
                                         data_encipherment=False, key_agreement=False, key_cert_sign=False,
                                         crl_sign=False, encipher_only=False, decipher_only=False), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION]), critical=False)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(self.key.public_key()), critical=False)
        )
        if self.crl_url:
            builder = builder.add_extension(_crl_point(self.crl_url), critical=False)
        return builder.sign(self.key, hashes.SHA256())

    def revoke(self, cert: x509.Certificate) -> None:
        self.revoked[cert.serial_number] = _now() - dt.timedelta(seconds=1)

    def crl(self) -> bytes:
        builder = (
            x509.CertificateRevocationListBuilder().issuer_name(self.root.subject)
            .last_update(_now() - dt.timedelta(minutes=1)).next_update(_now() + dt.timedelta(days=1))
            .add_extension(x509.CRLNumber(int(_now().timestamp() * 1000)), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(self.key.public_key()), critical=False)
        )
        for serial, when in self.revoked.items():
            builder = builder.add_revoked_certificate(
                x509.RevokedCertificateBuilder().serial_number(serial).revocation_date(when).build())
        return builder.sign(self.key, hashes.SHA256()).public_bytes(serialization.Encoding.DER)


def _crl_point(url: str) -> x509.CRLDistributionPoints:
    return x509.CRLDistributionPoints([x509.DistributionPoint(
        full_name=[x509.UniformResourceIdentifier(url)], relative_name=None, reasons=None, crl_issuer=None)])


class CrlServer:
    """Serves an OutsideCa's current CRL at http://127.0.0.1:<port>/outside-ca.crl."""

    def __init__(self) -> None:
        self.ca: OutsideCa | None = None
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:
                pass

            def do_GET(self) -> None:
                if self.path != CRL_PATH or server.ca is None:
                    self.send_error(404)
                    return
                body = server.ca.crl()
                self.send_response(200)
                self.send_header("Content-Type", "application/pkix-crl")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self._http = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._http.serve_forever, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._http.server_address[1]}{CRL_PATH}"

    def stop(self) -> None:
        self._http.shutdown()
        self._http.server_close()
