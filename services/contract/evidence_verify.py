"""Offline verification of an evidence bundle (``econtract evidence verify BUNDLE.zip``).

Needs nothing but the ZIP (and, to be sure of whose log it is, the platform's root
certificate obtained independently, e.g. from ``GET /v1/trust/roots``). Each check
below either passes or says exactly which part failed and how; the verdict is VERIFIED
only when every check passes:

1. the ZIP reads, holds exactly the expected parts, and every JSON or PEM part is in
   the canonical form the platform writes (so no byte of it can change unnoticed);
2. each document's SHA-256 is the one in the log leaf;
3. the certificate of completion's SHA-256 is the one in the log leaf, and the hashes
   it prints are those of the documents and of the audit trail's head;
4. the audit trail recomputes (each event's hash, each link) and ends at the head the
   log leaf records;
5. the inclusion proof leads from the leaf's hash to the signed tree head's root (RFC
   9162 verification);
6. the tree head's RFC 3161 timestamp token is over the SHA-256 of its exact bytes,
   signed by the TSA certificate of the bundle, every field checked;
7. the TSA certificate (timeStamping, valid at the token's time) chains through the
   issuing CA to the root CA of the bundle, or to the root given to pin.
"""
from __future__ import annotations

import hashlib
import io
import re
import zipfile
import zlib
from dataclasses import dataclass, field
from datetime import datetime, timezone

from asn1crypto import cms, tsp  # noqa: F401 - importing tsp teaches cms the TSTInfo content type
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID

from services.contract import audit, merkle
from services.contract import evidence_formats as formats


@dataclass(frozen=True)
class Finding:
    part: str
    ok: bool
    message: str


@dataclass
class Report:
    findings: list[Finding] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return bool(self.findings) and all(f.ok for f in self.findings)

    @property
    def failures(self) -> list[Finding]:
        return [f for f in self.findings if not f.ok]

    def passed(self, part: str, message: str) -> None:
        self.findings.append(Finding(part, True, message))

    def failed(self, part: str, message: str) -> None:
        self.findings.append(Finding(part, False, message))

    def text(self) -> str:
        lines = [f"{'ok  ' if f.ok else 'FAIL'} {f.part}: {f.message}" for f in self.findings]
        verdict = "VERIFIED" if self.ok else f"NOT VERIFIED: {len(self.failures)} check(s) failed"
        return "\n".join([*lines, verdict])


class _Stop(Exception):
    """A part every later check depends on is unusable."""


def verify_bundle(data: bytes, *, trusted_root_pem: bytes | None = None) -> Report:
    report = Report()
    try:
        _Verifier(report, trusted_root_pem).run(data)
    except _Stop:
        pass
    return report


class _Verifier:
    def __init__(self, report: Report, trusted_root_pem: bytes | None):
        self.report = report
        self.trusted_root_pem = trusted_root_pem
        self.parts: dict[str, bytes] = {}

    def run(self, data: bytes) -> None:
        self._read_zip(data)
        leaf = self._leaf()
        self._documents(leaf)
        self._audit_trail(leaf)
        self._certificate(leaf)
        head = self._tree_head()
        self._inclusion(head)
        tsa_chain, root = self._certificates()
        self._token(head, tsa_chain, root)

    # -- the container ----------------------------------------------------------------------

    def _read_zip(self, data: bytes) -> None:
        try:
            archive = zipfile.ZipFile(io.BytesIO(data))
            names = archive.namelist()
            for name in names:
                self.parts[name] = archive.read(name)  # checks each entry's CRC-32
        except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError, ValueError, zlib.error,
                NotImplementedError) as exc:
            # A damaged compressed entry fails in zlib before its CRC-32 is checked; a damaged
            # compression method names one zipfile does not know (NotImplementedError).
            self.report.failed("bundle", f"the ZIP cannot be read: {exc}")
            raise _Stop from None
        if len(set(names)) != len(names):
            self.report.failed("bundle", "the ZIP holds the same part twice")
            raise _Stop
        missing = [p for p in formats.FIXED_PARTS if p not in self.parts]
        if missing:
            self.report.failed("bundle", f"missing parts: {', '.join(missing)}")
            raise _Stop
        self.report.passed("bundle", f"the ZIP reads ({len(names)} parts)")

    def _part(self, name: str) -> bytes:
        return self.parts[name]

    # -- the log leaf and what it commits ---------------------------------------------------------

    def _leaf(self) -> formats.LeafData:
        try:
            leaf = formats.parse_leaf(self._part(formats.LEAF))
        except ValueError as exc:
            self.report.failed(formats.LEAF, str(exc))
            raise _Stop from None
        expected = set(formats.FIXED_PARTS) | {formats.document_part(d.document_id) for d in leaf.documents}
        extra = sorted(set(self.parts) - expected)
        if extra:
            self.report.failed("bundle", f"parts the log leaf does not account for: {', '.join(extra)}")
        self.report.passed(formats.LEAF, f"contract {leaf.contract_id}, {len(leaf.documents)} document(s), "
                                         f"audit head at event {leaf.audit_seq}")
        return leaf

    def _documents(self, leaf: formats.LeafData) -> None:
        for document in leaf.documents:
            name = formats.document_part(document.document_id)
            if name not in self.parts:
                self.report.failed(name, "missing: the log leaf names this document")
                continue
            actual = hashlib.sha256(self.parts[name]).hexdigest()
            if actual != document.sha256:
                self.report.failed(name, f"its SHA-256 {actual} is not the one in the log leaf ({document.sha256}): "
                                         "the document was changed")
            else:
                self.report.passed(name, f"SHA-256 {actual} matches the log leaf")

    def _audit_trail(self, leaf: formats.LeafData) -> None:
        try:
            events = formats.parse_audit_trail(self._part(formats.AUDIT_TRAIL))
        except ValueError as exc:
            self.report.failed(formats.AUDIT_TRAIL, str(exc))
            return
        check = audit.verify(events)
        if not check.ok:
            self.report.failed(formats.AUDIT_TRAIL, f"the hash chain does not recompute: {check.reason}")
            return
        if any(e.contract_id != leaf.contract_id for e in events):
            self.report.failed(formats.AUDIT_TRAIL, "it holds events of another contract than the log leaf's")
            return
        if not events or events[-1].seq != leaf.audit_seq or events[-1].hash != leaf.audit_head:
            self.report.failed(formats.AUDIT_TRAIL, f"it does not end at the head the log leaf records (event "
                                                    f"{leaf.audit_seq}, {leaf.audit_head})")
            return
        self.report.passed(formats.AUDIT_TRAIL, f"{len(events)} events recompute and end at the logged head")

    def _certificate(self, leaf: formats.LeafData) -> None:
        pdf = self._part(formats.CERTIFICATE)
        actual = hashlib.sha256(pdf).hexdigest()
        if actual != leaf.certificate_sha256:
            self.report.failed(formats.CERTIFICATE, f"its SHA-256 {actual} is not the one in the log leaf "
                                                    f"({leaf.certificate_sha256}): the certificate was changed")
            return
        try:
            text = _pdf_text(pdf)
        except Exception as exc:  # noqa: BLE001 - any unreadable PDF is a finding, not a crash
            self.report.failed(formats.CERTIFICATE, f"its text cannot be read: {exc}")
            return
        printed = set(re.findall(r"[0-9a-f]{64}", text))
        wanted = {d.sha256: f"document {d.document_id}" for d in leaf.documents}
        wanted[leaf.audit_head] = "the audit trail's head"
        absent = [what for digest, what in wanted.items() if digest not in printed]
        if leaf.contract_id not in text:
            absent.append(f"contract id {leaf.contract_id}")
        if absent:
            self.report.failed(formats.CERTIFICATE, f"it does not state the hash of {', '.join(absent)}")
            return
        self.report.passed(formats.CERTIFICATE, "SHA-256 matches the log leaf; the hashes it states match the "
                                                "documents and the audit head")

    # -- the log ----------------------------------------------------------------------------------

    def _tree_head(self) -> formats.TreeHeadData | None:
        try:
            head = formats.parse_tree_head(self._part(formats.TREE_HEAD))
        except ValueError as exc:
            self.report.failed(formats.TREE_HEAD, str(exc))
            return None
        self.report.passed(formats.TREE_HEAD, f"log {head.log_id}, size {head.tree_size}, root {head.root_hash}")
        return head

    def _inclusion(self, head: formats.TreeHeadData | None) -> None:
        name = formats.INCLUSION_PROOF
        try:
            proof = formats.parse_inclusion(self._part(name))
        except ValueError as exc:
            self.report.failed(name, str(exc))
            return
        if head is None:
            self.report.failed(name, "there is no readable signed tree head to prove against")
            return
        if proof.tree_size != head.tree_size:
            self.report.failed(name, f"it is for a tree of {proof.tree_size}, the signed tree head is of "
                                     f"{head.tree_size}")
            return
        path = [bytes.fromhex(h) for h in proof.audit_path]
        root = bytes.fromhex(head.root_hash)
        actual = merkle.leaf_hash(self._part(formats.LEAF))
        try:
            merkle.verify_inclusion(actual, proof.leaf_index, proof.tree_size, path, root)
        except merkle.ProofError as exc:
            if proof.leaf_hash != actual.hex() and _leads(bytes.fromhex(proof.leaf_hash), proof, path, root):
                # The proof holds for the hash it states: it is the leaf that changed since.
                self.report.failed(formats.LEAF, f"its hash {actual.hex()} is not the logged leaf hash "
                                                 f"{proof.leaf_hash}: the leaf was changed after it was logged")
            else:
                self.report.failed(name, f"{exc} (leaf {proof.leaf_index} of {proof.tree_size})")
            return
        if proof.leaf_hash != actual.hex():
            self.report.failed(name, f"it states leaf hash {proof.leaf_hash}, not the log leaf's {actual.hex()}")
            return
        self.report.passed(name, f"leaf {proof.leaf_index} leads to the root of the signed tree head of "
                                 f"{proof.tree_size}")

    # -- the timestamp and its certificates -----------------------------------------------------------

    def _certificates(self) -> tuple[list[x509.Certificate] | None, x509.Certificate | None]:
        chain = _canonical_pem(self.report, formats.TSA_CHAIN, self._part(formats.TSA_CHAIN))
        roots = _canonical_pem(self.report, formats.ROOT_CA, self._part(formats.ROOT_CA))
        if chain is not None and len(chain) < 1:
            self.report.failed(formats.TSA_CHAIN, "holds no certificate")
            chain = None
        root = None
        if roots is not None:
            if len(roots) != 1:
                self.report.failed(formats.ROOT_CA, f"holds {len(roots)} certificates, not one")
            elif not _self_signed(roots[0]):
                self.report.failed(formats.ROOT_CA, "the root certificate's self-signature does not verify: it was changed")
            else:
                root = roots[0]
                fingerprint = root.fingerprint(hashes.SHA256()).hex()
                if self.trusted_root_pem is not None:
                    pinned = x509.load_pem_x509_certificates(self.trusted_root_pem)
                    if all(p.fingerprint(hashes.SHA256()) != root.fingerprint(hashes.SHA256()) for p in pinned):
                        self.report.failed(formats.ROOT_CA, f"root {fingerprint} is not the trusted root given")
                        root = None
                    else:
                        self.report.passed(formats.ROOT_CA, f"root {fingerprint} is the trusted root given")
                else:
                    self.report.passed(formats.ROOT_CA, f"root {fingerprint} (taken from the bundle: compare it with "
                                                        "the platform's published root, or pass --trust-root)")
        return chain, root

    def _token(self, head: formats.TreeHeadData | None, chain: list[x509.Certificate] | None,
               root: x509.Certificate | None) -> None:
        name = formats.TREE_HEAD_TOKEN
        if chain is None:
            self.report.failed(name, "cannot be checked without a readable TSA certificate")
            return
        try:
            gen_time = check_token(self._part(name), self._part(formats.TREE_HEAD), chain[0])
        except TreeHeadChanged as exc:
            self.report.failed(formats.TREE_HEAD, str(exc))
            return
        except ValueError as exc:
            self.report.failed(name, str(exc))
            return
        self.report.passed(name, f"RFC 3161 token of {gen_time.isoformat()} over the tree head, signed by "
                                 f"{chain[0].subject.rfc4514_string()}")
        if root is None:
            self.report.failed(formats.TSA_CHAIN, "cannot be chained without a usable root certificate")
            return
        try:
            _check_chain(chain, root, gen_time)
        except ValueError as exc:
            self.report.failed(formats.TSA_CHAIN, str(exc))
            return
        self.report.passed(formats.TSA_CHAIN, "the TSA certificate chains to the root and was valid at the token's time")


def _leads(leaf_hash: bytes, proof: formats.InclusionData, path: list[bytes], root: bytes) -> bool:
    try:
        merkle.verify_inclusion(leaf_hash, proof.leaf_index, proof.tree_size, path, root)
    except merkle.ProofError:
        return False
    return True


def _self_signed(certificate: x509.Certificate) -> bool:
    try:
        certificate.verify_directly_issued_by(certificate)
    except (ValueError, TypeError, InvalidSignature):
        return False
    return True


def _pdf_text(pdf: bytes) -> str:
    import pypdfium2

    document = pypdfium2.PdfDocument(pdf)
    try:
        pages = []
        for index in range(len(document)):
            page = document[index]
            textpage = page.get_textpage()
            pages.append(textpage.get_text_range())
            textpage.close()
            page.close()
        return "\n".join(pages)
    finally:
        document.close()


def _canonical_pem(report: Report, name: str, data: bytes) -> list[x509.Certificate] | None:
    try:
        certificates = x509.load_pem_x509_certificates(data)
    except ValueError as exc:
        report.failed(name, f"is not PEM certificates: {exc}")
        return None
    again = b"".join(c.public_bytes(serialization.Encoding.PEM) for c in certificates)
    if again != data:
        report.failed(name, "is not in the canonical PEM form the platform writes (its bytes were changed)")
        return None
    return certificates


class TreeHeadChanged(ValueError):
    """The token is sound but is not over these bytes."""


def check_token(token_der: bytes, signed: bytes, tsa: x509.Certificate) -> datetime:
    """The token's time, if it is a complete, exact RFC 3161 token over ``signed`` by ``tsa``;
    ValueError saying what is wrong otherwise."""
    try:
        token = cms.ContentInfo.load(token_der, strict=True)
        if token.dump(force=True) != token_der:
            raise ValueError("it is not DER-encoded as the TSA wrote it")
        if token["content_type"].native != "signed_data":
            raise ValueError("it is not a CMS SignedData")
        content = token["content"]
        if content["version"].native != "v3" or [a["algorithm"].native for a in content["digest_algorithms"]] != ["sha256"]:
            raise ValueError("its SignedData version or digest algorithms are not the TSA's")
        if content["certificates"].native is not None or content["crls"].native is not None:
            raise ValueError("it carries certificates or CRLs the TSA does not put in")
        encapsulated = content["encap_content_info"]
        if encapsulated["content_type"].native != "tst_info":
            raise ValueError("it does not hold a TSTInfo")
        tst_der = encapsulated["content"].contents
        info = encapsulated["content"].parsed
        imprint = info["message_imprint"]
        if imprint["hash_algorithm"]["algorithm"].native != "sha256":
            raise ValueError("its message imprint is not SHA-256")
        if imprint["hashed_message"].native != hashlib.sha256(signed).digest():
            raise TreeHeadChanged("its SHA-256 is not the message imprint of the timestamp token: the tree head "
                                  "was changed after it was timestamped")
        gen_time = info["gen_time"].native
        infos = content["signer_infos"]
        if len(infos) != 1:
            raise ValueError("it does not have exactly one signer")
        signer = infos[0]
        if signer["version"].native != "v1" or signer["digest_algorithm"]["algorithm"].native != "sha256" \
                or signer["unsigned_attrs"].native is not None:
            raise ValueError("its SignerInfo version, digest algorithm or attributes are not the TSA's")
        sid = signer["sid"]
        if sid.name != "issuer_and_serial_number" or sid.chosen["serial_number"].native != tsa.serial_number \
                or sid.chosen["issuer"].dump() != tsa.issuer.public_bytes():
            raise ValueError("it was not signed by the TSA certificate of the bundle")
        attributes = {a["type"].native: a["values"] for a in signer["signed_attrs"]}
        if [v.native for v in attributes.get("content_type", [])] != ["tst_info"]:
            raise ValueError("its signed content type is not TSTInfo")
        if [v.native for v in attributes.get("message_digest", [])] != [hashlib.sha256(tst_der).digest()]:
            raise ValueError("its TSTInfo was changed after it was signed")
        signed_attrs = signer["signed_attrs"].dump()
        signed_attrs = b"\x31" + signed_attrs[1:]  # signed as a SET OF, not as the [0] it is stored as
        algorithm = signer["signature_algorithm"]["algorithm"].native
        signature = signer["signature"].native
    except (KeyError, TypeError, AttributeError) as exc:
        raise ValueError(f"it is not a well-formed timestamp token ({exc.__class__.__name__})") from None
    key = tsa.public_key()
    try:
        if algorithm == "sha256_ecdsa" and isinstance(key, ec.EllipticCurvePublicKey):
            key.verify(signature, signed_attrs, ec.ECDSA(hashes.SHA256()))
        elif algorithm in ("sha256_rsa", "rsassa_pkcs1v15") and isinstance(key, rsa.RSAPublicKey):
            key.verify(signature, signed_attrs, padding.PKCS1v15(), hashes.SHA256())
        else:
            raise ValueError(f"its signature algorithm {algorithm} does not fit the TSA's key")
    except InvalidSignature:
        raise ValueError("its signature does not verify with the TSA certificate of the bundle") from None
    return gen_time if gen_time.tzinfo else gen_time.replace(tzinfo=timezone.utc)


def _check_chain(chain: list[x509.Certificate], root: x509.Certificate, at: datetime) -> None:
    tsa = chain[0]
    try:
        usage = tsa.extensions.get_extension_for_class(x509.ExtendedKeyUsage)
    except x509.ExtensionNotFound:
        raise ValueError("the TSA certificate has no extended key usage") from None
    if not usage.critical or list(usage.value) != [ExtendedKeyUsageOID.TIME_STAMPING]:
        raise ValueError("the TSA certificate is not for timestamping only (critical timeStamping usage)")
    path = [*chain, root] if chain[-1].fingerprint(hashes.SHA256()) != root.fingerprint(hashes.SHA256()) else chain
    for child, parent in zip(path, path[1:]):
        try:
            child.verify_directly_issued_by(parent)
        except (ValueError, TypeError, InvalidSignature):
            raise ValueError(f"{child.subject.rfc4514_string()} is not issued by "
                             f"{parent.subject.rfc4514_string()}") from None
        try:
            constraints = parent.extensions.get_extension_for_class(x509.BasicConstraints).value
        except x509.ExtensionNotFound:
            raise ValueError(f"{parent.subject.rfc4514_string()} is not a CA") from None
        if not constraints.ca:
            raise ValueError(f"{parent.subject.rfc4514_string()} is not a CA")
    for certificate in path:
        if not certificate.not_valid_before_utc <= at <= certificate.not_valid_after_utc:
            raise ValueError(f"{certificate.subject.rfc4514_string()} was not valid at the token's time {at.isoformat()}")
