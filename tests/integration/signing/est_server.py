"""A local EST server (RFC 7030: /cacerts, /simpleenroll with HTTP basic auth over TLS) in
front of a test CA, on 127.0.0.1, for testing the EST adapter as an outside CA would answer."""
from __future__ import annotations

import base64
import datetime as dt
import ipaddress
import ssl
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import pkcs7
from cryptography.x509.oid import NameOID

from tests.integration.client_signing.outside_ca import CrlServer, OutsideCa

PREFIX = "/.well-known/est"


def _tls_files(workdir: Path) -> tuple[Path, Path, Path]:
    """A TLS CA, and a server certificate for 127.0.0.1 from it: (ca.pem, cert.pem, key.pem)."""
    now = dt.datetime.now(dt.timezone.utc)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "EST test TLS CA")])
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name).public_key(ca_key.public_key())
          .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(days=1))
          .not_valid_after(now + dt.timedelta(days=30))
          .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
          .sign(ca_key, hashes.SHA256()))
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
            .issuer_name(ca_name).public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(days=1)).not_valid_after(now + dt.timedelta(days=30))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                           critical=False)
            .sign(ca_key, hashes.SHA256()))
    paths = workdir / "tls-ca.pem", workdir / "tls-cert.pem", workdir / "tls-key.pem"
    paths[0].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    paths[1].write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    paths[2].write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return paths


class EstServer:
    def __init__(self, ca: OutsideCa, workdir: Path, username: str, password: str):
        self.ca = ca
        self.enrolled: list[x509.Certificate] = []
        self.tls_ca, cert, key = _tls_files(workdir)
        expected = "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:
                pass

            def _certs(self, certs: list[x509.Certificate]) -> None:
                body = base64.encodebytes(pkcs7.serialize_certificates(certs, serialization.Encoding.DER))
                self.send_response(200)
                self.send_header("Content-Type", "application/pkcs7-mime; smime-type=certs-only")
                self.send_header("Content-Transfer-Encoding", "base64")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self) -> None:
                if self.path == f"{PREFIX}/cacerts":
                    self._certs([server.ca.root])
                else:
                    self.send_error(404)

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                if self.path != f"{PREFIX}/simpleenroll":
                    self.send_error(404)
                    return
                if self.headers.get("Authorization") != expected:
                    self.send_response(401)
                    self.send_header("WWW-Authenticate", 'Basic realm="est"')
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                if self.headers.get("Content-Type") != "application/pkcs10":
                    self.send_error(415)
                    return
                csr = x509.load_der_x509_csr(base64.b64decode(body))
                if not csr.is_signature_valid:  # proof of possession
                    self.send_error(400, "bad request signature")
                    return
                name = csr.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value
                cert = server.ca.issue(str(name), csr.public_key())
                server.enrolled.append(cert)
                self._certs([cert])

        self._http = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert, key)
        self._http.socket = context.wrap_socket(self._http.socket, server_side=True)
        self._thread = threading.Thread(target=self._http.serve_forever, daemon=True)
        self._thread.start()

    @property
    def base_url(self) -> str:
        return f"https://127.0.0.1:{self._http.server_address[1]}{PREFIX}"

    def stop(self) -> None:
        self._http.shutdown()
        self._http.server_close()


@contextmanager
def est_ca(name: str, workdir: Path, username: str, password: str) -> Iterator[tuple[OutsideCa, EstServer]]:
    """An outside CA, its CRL served locally, behind a local EST server taking ``username``
    and ``password``; both servers stop on leaving."""
    crls = CrlServer()
    try:
        ca = OutsideCa(name=name, crl_url=crls.url)
        crls.ca = ca
        est = EstServer(ca, workdir, username, password)
        try:
            yield ca, est
        finally:
            est.stop()
    finally:
        crls.stop()
