"""A platform CA whose OCSP/CRL URLs answer over HTTP, and a contract signed twice.

The certificates point at a local HTTP server run by these fixtures, so outside
validators (pdfsig/NSS) can check revocation online the way they would in
production, while the signing code itself stays offline.
"""
from __future__ import annotations

import base64
import io
import logging
import socket
import threading
import urllib.parse
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from PIL import Image, ImageDraw

from services.signing import anchors, pades, pki, seals
from services.signing.tsa import TimestampAuthority
from tests.support.pdfsig import nss_database, pdfsig_report, require_pdfsig
from tests.unit.signing.fixtures import ORG_KEYWORD, contract_pdf

ORG = pki.OrgSubject("某某科技有限公司", "91110302MA01NNKT89")
PERSON = pki.PersonSubject("张三", "110101199003074514")


@pytest.fixture(autouse=True, scope="session")
def _quiet_pyhanko():
    # "fetching is not allowed" is expected: revocation data is passed in, never fetched.
    logging.getLogger("pyhanko.sign.signers.pdf_signer").setLevel(logging.ERROR)


class _PkiHandler(BaseHTTPRequestHandler):
    ca: pki.PlatformCa | None = None

    def log_message(self, *args) -> None:
        pass

    def _reply(self, body: bytes, content_type: str) -> None:
        self.send_response(200)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        if self.path == pki.OCSP_PATH and self.ca is not None:
            self._reply(self.ca.ocsp_response(body), "application/ocsp-response")
        else:
            self.send_error(404)

    def do_GET(self) -> None:
        ca = self.ca
        if ca is None:
            self.send_error(503)
        elif self.path.startswith(pki.OCSP_PATH + "/"):
            request = base64.b64decode(urllib.parse.unquote(self.path[len(pki.OCSP_PATH) + 1:]))
            self._reply(ca.ocsp_response(request), "application/ocsp-response")
        elif self.path == pki.ISSUING_CRL_PATH:
            self._reply(ca.build_crl("issuing"), "application/pkix-crl")
        elif self.path == pki.ROOT_CRL_PATH:
            self._reply(ca.build_crl("root"), "application/pkix-crl")
        elif self.path == pki.ISSUING_CERT_PATH:
            self._reply(ca.issuing_cert.public_bytes(serialization.Encoding.DER), "application/pkix-cert")
        elif self.path == pki.ROOT_CERT_PATH:
            self._reply(ca.root_cert.public_bytes(serialization.Encoding.DER), "application/pkix-cert")
        else:
            self.send_error(404)


@pytest.fixture(scope="session")
def ca(tmp_path_factory):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    handler = type("Handler", (_PkiHandler,), {})
    server = ThreadingHTTPServer(("127.0.0.1", port), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    settings = pki.PkiSettings(
        master_key=b"integration-master-key-01",
        id_hash_salt=b"integration-id-salt-0123",
        directory=tmp_path_factory.mktemp("pki"),
        public_base_url=f"http://127.0.0.1:{port}",
    )
    platform = pki.PlatformCa.open(settings)
    handler.ca = platform
    yield platform
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="session")
def tsa(ca) -> TimestampAuthority:
    return TimestampAuthority(ca.tsa_material())


@pytest.fixture(scope="session")
def timestamper(tsa):
    return tsa.timestamper()


@dataclass
class Signing:
    ca: pki.PlatformCa
    timestamper: object

    def sign(self, pdf: bytes, signer: pki.SignerMaterial, field_name: str, **kwargs) -> bytes:
        context = pades.signing_validation_context(self.ca, signer, [self.ca.tsa_material().cert])
        return pades.sign(pdf, signer, field_name=field_name, timestamper=self.timestamper,
                          validation_context=context, **kwargs)

    def timestamp(self, pdf: bytes) -> bytes:
        tsa = self.ca.tsa_material()
        context = pades.signing_validation_context(self.ca, tsa)
        return pades.timestamp_document(pdf, timestamper=self.timestamper, validation_context=context)


@pytest.fixture(scope="session")
def signing(ca, timestamper) -> Signing:
    return Signing(ca, timestamper)


def handwriting_png() -> bytes:
    pad = Image.new("RGB", (400, 160), "white")
    draw = ImageDraw.Draw(pad)
    draw.line([(20, 120), (80, 30), (120, 130), (170, 40), (230, 120), (300, 50), (380, 110)],
              fill=(10, 10, 10), width=9)
    buf = io.BytesIO()
    pad.save(buf, format="PNG")
    return seals.normalize_uploaded_seal(buf.getvalue())


@dataclass(frozen=True)
class SignedContract:
    original: bytes
    after_org: bytes
    after_person: bytes
    final: bytes  # with the B-LTA document timestamp


@pytest.fixture(scope="session")
def contract() -> bytes:
    return contract_pdf()


@pytest.fixture(scope="session")
def signed_contract(signing, ca, contract) -> SignedContract:
    """The API.md flow: the lender's seal at its keyword, the borrower's handwriting
    at page 3 (400, 120), then a document timestamp on completion."""
    seal = seals.round_company_seal(ORG.name, "1101020012345")
    placement = anchors.keyword_placement(contract, ORG_KEYWORD, width=pades.COMPANY_SEAL_SIZE,
                                          height=pades.COMPANY_SEAL_SIZE)
    after_org = signing.sign(contract, pki.new_signer(ca, ORG), "lender", reason="签署借款合同",
                             appearance=pades.Appearance(seal, placement))
    writing = handwriting_png()
    width, height = seals.image_size(writing)
    placement = anchors.point_placement(after_org, 3, 400, 120, width=100, height=100 * height / width)
    after_person = signing.sign(after_org, pki.new_signer(ca, PERSON), "borrower",
                                appearance=pades.Appearance(writing, placement))
    return SignedContract(contract, after_org, after_person, signing.timestamp(after_person))


@dataclass(frozen=True)
class PdfSig:
    nssdir: Path

    def run(self, pdf: bytes, tmp_path: Path, *extra: str) -> list[dict[str, str]]:
        return pdfsig_report(pdf, self.nssdir, tmp_path, *extra)


@pytest.fixture(scope="session")
def pdfsig(ca, tmp_path_factory) -> PdfSig:
    require_pdfsig()
    root = ca.root_cert.public_bytes(serialization.Encoding.PEM)
    return PdfSig(nss_database(tmp_path_factory.mktemp("nss"), [root]))


# ---------------------------------------------------- the running signing service


@pytest.fixture(scope="session")
def signing_rpc(mesh):
    """The signing service's gRPC stub, as the contract service holds it."""
    import grpc

    from econtract.signing.v1 import signing_pb2_grpc

    channel = grpc.insecure_channel(mesh.env["SIGNING_ADDR"])
    yield signing_pb2_grpc.SigningServiceStub(channel)
    channel.close()


@pytest.fixture(scope="session")
def rest_root_pem(client) -> bytes:
    """The platform root exactly as any validator gets it: GET /v1/trust/roots."""
    reply = client.get("/v1/trust/roots")
    assert reply.status_code == 200, reply.text
    (pem,) = reply.json()["roots"]
    return pem.encode()


@dataclass(frozen=True)
class ServiceSignedContract:
    original: bytes
    after_org: bytes
    after_person: bytes
    final: bytes
    org_reply: object
    person_reply: object
    stamp_reply: object
    seal_id: str


@pytest.fixture(scope="session")
def service_signed_contract(client, signing_rpc, contract) -> ServiceSignedContract:
    """API.md's flow through the service: the lender's company seal (generated through REST)
    at its keyword, the borrower's handwriting at page 3 (400, 120), then TimestampDocument."""
    from econtract.signing.v1 import signing_pb2 as pb
    from tests.integration.signing import service

    seal = client.post("/v1/seals:generate", {"subject": service.ORG_REF, "style": "ROUND_COMPANY",
                                              "text": service.ORG_NAME, "horizontalText": "合同专用章",
                                              "sealCode": "1101020012345"})
    assert seal.status_code == 200, seal.text
    seal_id = seal.json()["sealId"]
    org = signing_rpc.SignDocument(service.sign_request(
        contract, service.org_signer(), "ct_flow", service.claims("ct_flow", contract, signer_id="sg_lender",
                                                                 token_id="tok_flow_org", subject_id="sub_org"),
        [service.keyword(ORG_KEYWORD)], seal_id=seal_id, reason="签署借款合同"))
    after_org = org.pdf.data
    person = signing_rpc.SignDocument(service.sign_request(
        after_org, service.person_signer(), "ct_flow",
        service.claims("ct_flow", after_org, signer_id="sg_borrower", token_id="tok_flow_person",
                       subject_id="sub_person"),
        [service.point(3, 400, 120)], handwriting_image=service.handwriting_image()))
    stamp = signing_rpc.TimestampDocument(pb.TimestampDocumentRequest(pdf=person.pdf))
    return ServiceSignedContract(contract, after_org, person.pdf.data, stamp.pdf.data, org, person, stamp, seal_id)


@pytest.fixture(scope="session")
def mesh_pdfsig(rest_root_pem, tmp_path_factory) -> PdfSig:
    """pdfsig with an NSS database trusting only the root served by GET /v1/trust/roots."""
    require_pdfsig()
    return PdfSig(nss_database(tmp_path_factory.mktemp("mesh-nss"), [rest_root_pem]))
