"""The platform PKI: root and issuing CA, signer certificates, CRLs and OCSP.

Key algorithm: every key here is EC P-256 (ECDSA with SHA-256). It is accepted by
pyHanko, poppler/NSS, Adobe and the PAdES baseline profiles, and a P-256 key pair
plus a certificate costs about a millisecond, which is what makes a fresh key per
signing affordable (an RSA-2048 key pair alone takes ~60 ms here, and varies widely).

Signer keys are one-time. For each signing the signing service generates a new
key pair in memory, the CA certifies it for a few minutes (``signer_cert_lifetime``)
for the verified subject, the key signs exactly one document and is then dropped
without ever being written anywhere. Why:
- sole control: the key exists only inside the request that the signer
  authorised with a fresh intent token, so nobody (operators included) can
  reuse it later to sign something else in the signer's name;
- no key storage: nothing to encrypt, back up, rotate or leak, and a stolen
  database holds no signing keys;
- revocation almost never matters: the certificate expires minutes after use,
  while the signature stays verifiable through its timestamp and the embedded
  validation data (PAdES B-LT/B-LTA).
The cost is one certificate per signature, which the issued-certificate
registry records (serial, subject, validity, status) as the audit trail.

Long-lived keys exist only for platform roles: the root and issuing CA, the
timestamp authority and the platform seal (which locks checkbox agreements).
A key store keeps them (``keystore``): by default as encrypted PKCS#8
(``BestAvailableEncryption`` with the master key from configuration) in
``PkiSettings.directory``; or generated inside a PKCS#11 token, non-extractable,
with only the certificates in the directory (``hsm``). The first process to find
the directory empty creates them under an exclusive file lock, so replicas that
share the directory agree on one root.

Status: OCSP responses are signed by the issuing CA itself (no delegated
responder certificate, so no ``ocsp-nocheck`` exception is needed) and CRLs are
signed by the CA that issued the listed certificates. Both are built from the
registry, the single source of revocation truth. Built responses are cached for
``status_cache_ttl`` (60 s), each stamped with the revocation epoch it was built at: every
revocation advances a counter the replicas share (``RevocationEpoch``, in Redis for the
service), and a cached answer is served only while the counter has not moved, so a
revocation shows at once on every replica. Without a shared counter (tools, tests) only
the replica that revoked drops its cache.

The service keeps the registry in its database (``store.SqlCertificateRegistry``);
``FileCertificateRegistry`` remains for tools and tests on one host (its revoke is
a read-modify-write without cross-process locking).
"""
from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import hashlib
import hmac
import json
import os
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from enum import StrEnum
from pathlib import Path
from typing import Protocol, runtime_checkable

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.types import CertificatePublicKeyTypes, PrivateKeyTypes
from cryptography.x509 import ocsp
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from core.errors import InvalidArgument, NotFound, invalid
from services.signing.keystore import HeldKey, KeyStore, SoftwareKeyStore, atomic_write

# URL paths under PkiSettings.public_base_url; the HTTP layer serves these.
OCSP_PATH = "/pki/ocsp"
ROOT_CRL_PATH = "/pki/crl/root.crl"
ISSUING_CRL_PATH = "/pki/crl/issuing.crl"
ROOT_CERT_PATH = "/pki/certs/root.cer"
ISSUING_CERT_PATH = "/pki/certs/issuing.cer"
TSA_PATH = "/pki/tsa"  # RFC 3161 over HTTP (tsa.TimestampAuthority.respond)

# RFC 9336 id-kp-documentSigning.
DOCUMENT_SIGNING_EKU = x509.ObjectIdentifier("1.3.6.1.5.5.7.3.36")

_CLOCK_SKEW = dt.timedelta(minutes=1)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


@dataclass(frozen=True)
class PkiSettings:
    """Configuration of the built-in CA; invalid values fail at construction."""

    master_key: bytes
    id_hash_salt: bytes
    directory: Path = Path("var/pki")
    public_base_url: str = "http://127.0.0.1:8080"
    platform_name: str = "E-Contract Platform"
    signer_cert_lifetime: dt.timedelta = dt.timedelta(minutes=10)
    seal_cert_lifetime: dt.timedelta = dt.timedelta(days=365)
    tsa_cert_lifetime: dt.timedelta = dt.timedelta(days=5 * 365)
    crl_lifetime: dt.timedelta = dt.timedelta(days=1)
    ocsp_lifetime: dt.timedelta = dt.timedelta(hours=12)
    status_cache_ttl: dt.timedelta = dt.timedelta(seconds=60)

    def __post_init__(self) -> None:
        if len(self.master_key) < 16:
            raise invalid("masterKey", "must be at least 16 bytes")
        if len(self.id_hash_salt) < 16:
            raise invalid("idHashSalt", "must be at least 16 bytes")
        if not self.public_base_url.startswith(("http://", "https://")):
            raise invalid("publicBaseUrl", "must be an http(s) URL")
        object.__setattr__(self, "directory", Path(self.directory))
        object.__setattr__(self, "public_base_url", self.public_base_url.rstrip("/"))
        for name in ("signer_cert_lifetime", "seal_cert_lifetime", "tsa_cert_lifetime",
                     "crl_lifetime", "ocsp_lifetime"):
            if getattr(self, name) <= dt.timedelta(0):
                raise invalid(name, "must be positive")

    def url(self, path: str) -> str:
        return self.public_base_url + path


# ---------------------------------------------------------------- subjects


@dataclass(frozen=True)
class PersonSubject:
    """A verified natural person. The ID number never leaves this object in clear."""

    name: str
    id_number: str


@dataclass(frozen=True)
class OrgSubject:
    """A verified organisation with its unified social credit code."""

    name: str
    credit_code: str


Subject = PersonSubject | OrgSubject


def hash_id_number(id_number: str, salt: bytes) -> str:
    """HMAC-SHA256 of the normalised ID number, as 64 hex characters.

    Keyed with a platform secret so the certificate's serialNumber cannot be
    reversed by hashing all plausible ID numbers (there are only ~10^10).
    """
    normalised = id_number.strip().upper()
    if not normalised:
        raise invalid("idNumber", "must not be empty")
    return hmac.new(salt, normalised.encode("utf-8"), hashlib.sha256).hexdigest()


def subject_name(subject: Subject, salt: bytes) -> x509.Name:
    """The X.509 subject for a signer: person (CN, hashed ID) or organisation (O, CN, USCC)."""
    if isinstance(subject, PersonSubject):
        if not subject.name.strip():
            raise invalid("name", "must not be empty")
        return x509.Name([
            x509.NameAttribute(NameOID.COUNTRY_NAME, "CN"),
            x509.NameAttribute(NameOID.COMMON_NAME, subject.name.strip()),
            x509.NameAttribute(NameOID.SERIAL_NUMBER, hash_id_number(subject.id_number, salt)),
        ])
    name = subject.name.strip()
    code = subject.credit_code.strip().upper()
    if not name:
        raise invalid("name", "must not be empty")
    if len(code) != 18 or not code.isalnum():
        raise invalid("creditCode", "must be an 18-character unified social credit code")
    return x509.Name([
        x509.NameAttribute(NameOID.COUNTRY_NAME, "CN"),
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, name),
        x509.NameAttribute(NameOID.COMMON_NAME, name),
        # ETSI EN 319 412-1 semantics identifier: national trade register, China.
        x509.NameAttribute(NameOID.ORGANIZATION_IDENTIFIER, f"NTRCN-{code}"),
    ])


# ------------------------------------------------------------ the registry


class CertStatus(StrEnum):
    GOOD = "good"
    REVOKED = "revoked"


class CertRole(StrEnum):
    ISSUING_CA = "issuing_ca"
    SIGNER = "signer"
    PLATFORM_SEAL = "platform_seal"
    TSA = "tsa"


@dataclass(frozen=True)
class IssuedCertificate:
    """One certificate the platform CA issued, as the registry keeps it."""

    serial: int
    issuer: str  # "root" or "issuing": which of our CAs signed it
    role: CertRole
    subject: str  # RFC 4514
    not_before: dt.datetime
    not_after: dt.datetime
    cert_der: bytes
    status: CertStatus = CertStatus.GOOD
    revoked_at: dt.datetime | None = None
    revocation_reason: str | None = None
    subject_id: str | None = None  # platform id of the signer's subject, when known

    def to_json(self) -> dict[str, object]:
        return {
            "serial": format(self.serial, "x"),
            "issuer": self.issuer,
            "role": self.role.value,
            "subject": self.subject,
            "notBefore": self.not_before.isoformat(),
            "notAfter": self.not_after.isoformat(),
            "certDer": self.cert_der.hex(),
            "status": self.status.value,
            "revokedAt": self.revoked_at.isoformat() if self.revoked_at else None,
            "revocationReason": self.revocation_reason,
            "subjectId": self.subject_id,
        }

    @classmethod
    def from_json(cls, data: dict[str, object]) -> IssuedCertificate:
        revoked_at = data.get("revokedAt")
        return cls(
            serial=int(str(data["serial"]), 16),
            issuer=str(data["issuer"]),
            role=CertRole(str(data["role"])),
            subject=str(data["subject"]),
            not_before=dt.datetime.fromisoformat(str(data["notBefore"])),
            not_after=dt.datetime.fromisoformat(str(data["notAfter"])),
            cert_der=bytes.fromhex(str(data["certDer"])),
            status=CertStatus(str(data["status"])),
            revoked_at=dt.datetime.fromisoformat(str(revoked_at)) if revoked_at else None,
            revocation_reason=(str(data["revocationReason"]) if data.get("revocationReason") else None),
            subject_id=(str(data["subjectId"]) if data.get("subjectId") else None),
        )


@runtime_checkable
class CertificateRegistry(Protocol):
    """Where issued certificates and their status live (SQL in the service)."""

    def add(self, record: IssuedCertificate) -> None: ...

    def get(self, serial: int) -> IssuedCertificate | None: ...

    def revoke(self, serial: int, when: dt.datetime, reason: str) -> IssuedCertificate: ...

    def revoked(self, issuer: str) -> list[IssuedCertificate]: ...


class FileCertificateRegistry:
    """One JSON file per certificate; enough for a single host until the SQL store."""

    def __init__(self, directory: Path):
        self._dir = Path(directory)

    def _path(self, serial: int) -> Path:
        return self._dir / f"{serial:x}.json"

    def add(self, record: IssuedCertificate) -> None:
        self._dir.mkdir(parents=True, exist_ok=True)
        atomic_write(self._path(record.serial), json.dumps(record.to_json()).encode())

    def get(self, serial: int) -> IssuedCertificate | None:
        try:
            data = json.loads(self._path(serial).read_bytes())
        except FileNotFoundError:
            return None
        return IssuedCertificate.from_json(data)

    def revoke(self, serial: int, when: dt.datetime, reason: str) -> IssuedCertificate:
        record = self.get(serial)
        if record is None:
            raise NotFound(f"certificate {serial:x} was not issued here")
        if record.status is CertStatus.REVOKED:
            return record
        record = replace(record, status=CertStatus.REVOKED, revoked_at=when, revocation_reason=reason)
        atomic_write(self._path(serial), json.dumps(record.to_json()).encode())
        return record

    def revoked(self, issuer: str) -> list[IssuedCertificate]:
        if not self._dir.is_dir():
            return []
        out = []
        for path in self._dir.glob("*.json"):
            data = json.loads(path.read_bytes())
            if data.get("status") == CertStatus.REVOKED.value and data.get("issuer") == issuer:
                out.append(IssuedCertificate.from_json(data))
        return out


# ------------------------------------------------------------ CA interface


@dataclass(frozen=True)
class CertificateChain:
    """A certificate and the CA certificates up to (and including) its root."""

    cert: x509.Certificate
    chain: tuple[x509.Certificate, ...]


@dataclass(frozen=True)
class SignerMaterial:
    """What pades.sign needs: a private key, its certificate, and the CA chain."""

    key: PrivateKeyTypes
    cert: x509.Certificate
    chain: tuple[x509.Certificate, ...] = ()


@dataclass(frozen=True)
class RevocationInfo:
    """DER-encoded CRLs and OCSP responses to embed as validation data."""

    crls: tuple[bytes, ...] = ()
    ocsps: tuple[bytes, ...] = ()


class RevocationReason(StrEnum):
    UNSPECIFIED = "unspecified"
    KEY_COMPROMISE = "key_compromise"
    AFFILIATION_CHANGED = "affiliation_changed"
    SUPERSEDED = "superseded"
    CESSATION_OF_OPERATION = "cessation_of_operation"


_REASON_FLAGS = {
    RevocationReason.UNSPECIFIED: x509.ReasonFlags.unspecified,
    RevocationReason.KEY_COMPROMISE: x509.ReasonFlags.key_compromise,
    RevocationReason.AFFILIATION_CHANGED: x509.ReasonFlags.affiliation_changed,
    RevocationReason.SUPERSEDED: x509.ReasonFlags.superseded,
    RevocationReason.CESSATION_OF_OPERATION: x509.ReasonFlags.cessation_of_operation,
}


@runtime_checkable
class CaProvider(Protocol):
    """A CA that certifies signer keys; the built-in one or a licensed external CA."""

    def trust_roots(self) -> list[x509.Certificate]: ...

    def issue_signer_certificate(self, subject: Subject, public_key: CertificatePublicKeyTypes, *,
                                 subject_id: str | None = None) -> CertificateChain: ...

    def revocation_info(self, certs: Sequence[x509.Certificate]) -> RevocationInfo: ...

    def revoke(self, serial: int,
               reason: RevocationReason = RevocationReason.UNSPECIFIED) -> IssuedCertificate | None: ...


@runtime_checkable
class EnrollingCa(Protocol):
    """A CA that certifies a key only against a request signed by it (proof of possession),
    as outside CAs do (``outside_ca.EstCaProvider``)."""

    def enroll(self, subject: Subject, key: PrivateKeyTypes, *,
               subject_id: str | None = None) -> CertificateChain: ...


def new_signer(ca: CaProvider, subject: Subject, *, subject_id: str | None = None) -> SignerMaterial:
    """A one-time key pair certified for ``subject``; the caller signs once and drops it.

    The key lives only in this object: never serialised, never stored. (Python
    cannot wipe memory; dropping the last reference lets OpenSSL free it.)
    ``subject_id`` (the platform's id of the subject) goes into the registry record.
    """
    key = ec.generate_private_key(ec.SECP256R1())
    if isinstance(ca, EnrollingCa):
        issued = ca.enroll(subject, key, subject_id=subject_id)
    else:
        issued = ca.issue_signer_certificate(subject, key.public_key(), subject_id=subject_id)
    return SignerMaterial(key=key, cert=issued.cert, chain=issued.chain)


# ---------------------------------------------------------- the built-in CA


class RevocationEpoch(Protocol):
    """A counter shared by the replicas that every revocation advances; ``current`` is
    None when it cannot be read (then nothing cached is trusted)."""

    def current(self) -> str | None: ...

    def advance(self) -> None: ...


@dataclass
class _Cached:
    der: bytes
    made: float
    epoch: str | None = None


@dataclass
class _Caches:
    crl: dict[str, _Cached] = field(default_factory=dict)
    ocsp: dict[int, _Cached] = field(default_factory=dict)


class PlatformCa:
    """The built-in CA: root → issuing CA → signer, TSA and platform seal certificates.

    Use :meth:`open`; it creates the hierarchy on first use and loads it afterwards.
    """

    def __init__(self, settings: PkiSettings, registry: CertificateRegistry,
                 root: HeldKey, issuing: HeldKey, tsa: HeldKey, seal: HeldKey,
                 epoch: RevocationEpoch | None = None):
        self.settings = settings
        self.registry = registry
        self._epoch = epoch
        self._root = root
        self._issuing = issuing
        self._tsa = tsa
        self._seal = seal
        self._caches = _Caches()
        self._lock = threading.Lock()

    # --- bootstrap

    @classmethod
    def open(cls, settings: PkiSettings, registry: CertificateRegistry | None = None,
             keys: KeyStore | None = None, epoch: RevocationEpoch | None = None) -> PlatformCa:
        """``keys`` holds the role keys; None = encrypted files in the PKI directory.
        ``epoch`` is the revocation counter the replicas share (None: this process only)."""
        directory = settings.directory
        directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        registry = registry if registry is not None else FileCertificateRegistry(directory / "issued")
        with _exclusive(directory / ".lock"):
            store = keys if keys is not None else SoftwareKeyStore(directory, settings.master_key)
            root = store.load("root")
            if root is None:
                key = store.generate("root")
                root = store.save("root", key, _make_root(settings, key))
            issuing = store.load("issuing")
            if issuing is None:
                key = store.generate("issuing")
                issuing = store.save("issuing", key, _make_issuing(settings, root, key))
            # Also after a registry was lost or replaced: status answers need every record.
            _ensure_recorded(registry, issuing.cert, "root", CertRole.ISSUING_CA)
            # Renewed here when near expiry or revoked: replicas restart well within the
            # 30-day renewal window, and the old certificate stays valid meanwhile.
            tsa = _load_or_renew(store, settings, issuing, registry, "tsa", CertRole.TSA)
            seal = _load_or_renew(store, settings, issuing, registry, "seal", CertRole.PLATFORM_SEAL)
        return cls(settings, registry, root, issuing, tsa, seal, epoch)

    # --- accessors

    @property
    def root_cert(self) -> x509.Certificate:
        return self._root.cert

    @property
    def issuing_cert(self) -> x509.Certificate:
        return self._issuing.cert

    def trust_roots(self) -> list[x509.Certificate]:
        return [self._root.cert]

    def chain(self) -> tuple[x509.Certificate, ...]:
        """CA certificates above a leaf issued by the issuing CA (issuing first)."""
        return (self._issuing.cert, self._root.cert)

    def tsa_material(self) -> SignerMaterial:
        """Key and certificate of the timestamp authority (EKU timeStamping, critical)."""
        return SignerMaterial(self._tsa.key, self._tsa.cert, self.chain())

    def platform_seal(self) -> SignerMaterial:
        """Key and certificate the platform signs AGREEMENT locks with."""
        return SignerMaterial(self._seal.key, self._seal.cert, self.chain())

    # --- issuance

    def issue_signer_certificate(self, subject: Subject, public_key: CertificatePublicKeyTypes, *,
                                 subject_id: str | None = None) -> CertificateChain:
        name = subject_name(subject, self.settings.id_hash_salt)
        cert = _issue(self.settings, self._issuing, self.registry, name, public_key,
                      self.settings.signer_cert_lifetime, CertRole.SIGNER, subject_id=subject_id)
        return CertificateChain(cert, self.chain())

    # --- revocation

    def revoke(self, serial: int, reason: RevocationReason = RevocationReason.UNSPECIFIED,
               when: dt.datetime | None = None) -> IssuedCertificate:
        record = self.registry.revoke(serial, when or _now(), reason.value)
        if self._epoch is not None:
            self._epoch.advance()  # the other replicas' cached answers stop being served
        with self._lock:
            self._caches.crl.pop(record.issuer, None)
            self._caches.ocsp.pop(serial, None)
        return record

    def certificate_status(self, serial: int) -> IssuedCertificate:
        record = self.registry.get(serial)
        if record is None:
            raise NotFound(f"certificate {serial:x} was not issued here")
        return record

    def build_crl(self, issuer: str = "issuing") -> bytes:
        """A fresh DER CRL of ``issuer`` ("issuing" or "root"), cached for a few seconds."""
        ca = {"issuing": self._issuing, "root": self._root}.get(issuer)
        if ca is None:
            raise invalid("issuer", "must be 'issuing' or 'root'")
        epoch = self._current_epoch()
        with self._lock:
            hit = self._caches.crl.get(issuer)
            if self._fresh(hit, epoch):
                return hit.der
        now = _now()
        builder = (
            x509.CertificateRevocationListBuilder()
            .issuer_name(ca.cert.subject)
            .last_update(now - _CLOCK_SKEW)
            .next_update(now + self.settings.crl_lifetime)
            # Millisecond clock: increases across restarts and replicas without shared state.
            .add_extension(x509.CRLNumber(time.time_ns() // 1_000_000), critical=False)
            .add_extension(_aki(ca.cert), critical=False)
        )
        for record in self.registry.revoked(issuer):
            assert record.revoked_at is not None
            entry = (
                x509.RevokedCertificateBuilder()
                .serial_number(record.serial)
                .revocation_date(record.revoked_at)
            )
            reason = _REASON_FLAGS.get(RevocationReason(record.revocation_reason or "unspecified"))
            if reason is not None and reason is not x509.ReasonFlags.unspecified:
                entry = entry.add_extension(x509.CRLReason(reason), critical=False)
            builder = builder.add_revoked_certificate(entry.build())
        der = builder.sign(ca.key, hashes.SHA256()).public_bytes(serialization.Encoding.DER)
        with self._lock:
            self._caches.crl[issuer] = _Cached(der, time.monotonic(), epoch)
        return der

    def ocsp_response(self, request_der: bytes) -> bytes:
        """Answer a DER OCSP request about a certificate of the issuing CA (RFC 6960)."""
        try:
            request = ocsp.load_der_ocsp_request(request_der)
            algorithm = request.hash_algorithm
            name_hash, key_hash, serial = request.issuer_name_hash, request.issuer_key_hash, request.serial_number
        except (ValueError, TypeError):
            return _unsuccessful(ocsp.OCSPResponseStatus.MALFORMED_REQUEST)
        if not isinstance(algorithm, (hashes.SHA1, hashes.SHA256, hashes.SHA384, hashes.SHA512)):
            return _unsuccessful(ocsp.OCSPResponseStatus.MALFORMED_REQUEST)
        if (name_hash, key_hash) != _issuer_hashes(self._issuing.cert, algorithm):
            return _unsuccessful(ocsp.OCSPResponseStatus.UNAUTHORIZED)
        nonce = None
        with contextlib.suppress(x509.ExtensionNotFound):
            nonce = request.extensions.get_extension_for_class(x509.OCSPNonce).value.nonce
        return self._ocsp_single(serial, name_hash, key_hash, algorithm, nonce)

    def ocsp_for(self, cert: x509.Certificate) -> bytes:
        """The current OCSP response for one of our leaf certificates (no nonce, cached)."""
        serial = cert.serial_number
        epoch = self._current_epoch()
        with self._lock:
            hit = self._caches.ocsp.get(serial)
            if self._fresh(hit, epoch):
                return hit.der
        algorithm = hashes.SHA1()  # the CertID hash every OCSP client understands
        name_hash, key_hash = _issuer_hashes(self._issuing.cert, algorithm)
        der = self._ocsp_single(serial, name_hash, key_hash, algorithm, None)
        with self._lock:
            self._caches.ocsp[serial] = _Cached(der, time.monotonic(), epoch)
        return der

    def _current_epoch(self) -> str | None:
        # Read before building, so an answer is never stamped newer than the data it saw.
        return self._epoch.current() if self._epoch is not None else None

    def _fresh(self, hit: _Cached | None, epoch: str | None) -> bool:
        if hit is None or time.monotonic() - hit.made >= self.settings.status_cache_ttl.total_seconds():
            return False
        return self._epoch is None or (epoch is not None and hit.epoch == epoch)

    def _ocsp_single(self, serial: int, name_hash: bytes, key_hash: bytes,
                     algorithm: hashes.HashAlgorithm, nonce: bytes | None) -> bytes:
        record = self.registry.get(serial)
        now = _now()
        if record is None or record.issuer != "issuing":
            status, revoked_at, reason = ocsp.OCSPCertStatus.UNKNOWN, None, None
        elif record.status is CertStatus.REVOKED:
            status, revoked_at = ocsp.OCSPCertStatus.REVOKED, record.revoked_at
            reason = _REASON_FLAGS.get(RevocationReason(record.revocation_reason or "unspecified"))
        else:
            status, revoked_at, reason = ocsp.OCSPCertStatus.GOOD, None, None
        builder = ocsp.OCSPResponseBuilder().add_response_by_hash(
            issuer_name_hash=name_hash, issuer_key_hash=key_hash, serial_number=serial,
            algorithm=algorithm, cert_status=status,
            this_update=now - _CLOCK_SKEW, next_update=now + self.settings.ocsp_lifetime,
            revocation_time=revoked_at, revocation_reason=reason,
        ).responder_id(ocsp.OCSPResponderEncoding.HASH, self._issuing.cert)
        if nonce is not None:
            builder = builder.add_extension(x509.OCSPNonce(nonce), critical=False)
        response = builder.sign(self._issuing.key, hashes.SHA256())
        return response.public_bytes(serialization.Encoding.DER)

    def revocation_info(self, certs: Sequence[x509.Certificate]) -> RevocationInfo:
        """OCSP for each of our leaves in ``certs`` plus the root's CRL (for the issuing CA)."""
        ocsps = tuple(
            self.ocsp_for(c) for c in certs
            if c.issuer == self._issuing.cert.subject and c != self._issuing.cert
        )
        return RevocationInfo(crls=(self.build_crl("root"),), ocsps=ocsps)


# ------------------------------------------------------------------ helpers


@contextlib.contextmanager
def _exclusive(path: Path) -> Iterator[None]:
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


def _issue(settings: PkiSettings, issuing: HeldKey, registry: CertificateRegistry, name: x509.Name,
           public_key: CertificatePublicKeyTypes, lifetime: dt.timedelta, role: CertRole, *,
           subject_id: str | None = None) -> x509.Certificate:
    """An end-entity certificate from the issuing CA, recorded in the registry."""
    now = _now()
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(issuing.cert.subject)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - _CLOCK_SKEW)
        .not_valid_after(now + lifetime)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(
            digital_signature=True, content_commitment=True, key_encipherment=False,
            data_encipherment=False, key_agreement=False, key_cert_sign=False,
            crl_sign=False, encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
        .add_extension(_aki(issuing.cert), critical=False)
        .add_extension(x509.AuthorityInformationAccess([
            x509.AccessDescription(x509.AuthorityInformationAccessOID.OCSP,
                                   x509.UniformResourceIdentifier(settings.url(OCSP_PATH))),
            x509.AccessDescription(x509.AuthorityInformationAccessOID.CA_ISSUERS,
                                   x509.UniformResourceIdentifier(settings.url(ISSUING_CERT_PATH))),
        ]), critical=False)
        .add_extension(_crl_dp(settings.url(ISSUING_CRL_PATH)), critical=False)
    )
    if role is CertRole.TSA:
        # RFC 3161 §2.3: the TSA certificate has exactly this EKU, marked critical.
        builder = builder.add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.TIME_STAMPING]), critical=True)
    else:
        # Document signing (RFC 9336) plus emailProtection, which NSS-based
        # validators (poppler's pdfsig, Firefox) require for CMS signers.
        builder = builder.add_extension(
            x509.ExtendedKeyUsage([DOCUMENT_SIGNING_EKU, ExtendedKeyUsageOID.EMAIL_PROTECTION]),
            critical=False)
    cert = builder.sign(issuing.key, hashes.SHA256())
    registry.add(_record(cert, "issuing", role, subject_id))
    return cert


def _load_or_renew(store: KeyStore, settings: PkiSettings, issuing: HeldKey, registry: CertificateRegistry,
                   name: str, role: CertRole) -> HeldKey:
    """A platform role key (TSA or seal): kept while fresh and not revoked, else replaced."""
    held = store.load(name)
    lifetime = settings.tsa_cert_lifetime if role is CertRole.TSA else settings.seal_cert_lifetime
    renew_before = min(lifetime / 10, dt.timedelta(days=30))
    if held is not None:
        record = registry.get(held.cert.serial_number)
        fresh = held.cert.not_valid_after_utc - _now() > renew_before
        if fresh and (record is None or record.status is CertStatus.GOOD):
            if record is None:
                _ensure_recorded(registry, held.cert, "issuing", role)
            return held
    key = store.generate(name)
    common_name = f"{settings.platform_name} TSA" if role is CertRole.TSA else f"{settings.platform_name} Seal"
    subject = _ca_name(settings, common_name)
    return store.save(name, key, _issue(settings, issuing, registry, subject, key.public_key(), lifetime, role))


def _ca_name(settings: PkiSettings, cn: str) -> x509.Name:
    return x509.Name([
        x509.NameAttribute(NameOID.COUNTRY_NAME, "CN"),
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, settings.platform_name),
        x509.NameAttribute(NameOID.COMMON_NAME, cn),
    ])


def _ca_key_usage() -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=True, content_commitment=False, key_encipherment=False,
        data_encipherment=False, key_agreement=False, key_cert_sign=True, crl_sign=True,
        encipher_only=False, decipher_only=False)


def _make_root(settings: PkiSettings, key: ec.EllipticCurvePrivateKey) -> x509.Certificate:
    name = _ca_name(settings, f"{settings.platform_name} Root CA")
    now = _now()
    cert = (
        x509.CertificateBuilder()
        .subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - _CLOCK_SKEW).not_valid_after(now + dt.timedelta(days=20 * 365))
        .add_extension(x509.BasicConstraints(ca=True, path_length=1), critical=True)
        .add_extension(_ca_key_usage(), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    return cert


def _make_issuing(settings: PkiSettings, root: HeldKey, key: ec.EllipticCurvePrivateKey) -> x509.Certificate:
    now = _now()
    cert = (
        x509.CertificateBuilder()
        .subject_name(_ca_name(settings, f"{settings.platform_name} Issuing CA"))
        .issuer_name(root.cert.subject).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - _CLOCK_SKEW).not_valid_after(now + dt.timedelta(days=10 * 365))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_ca_key_usage(), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(_aki(root.cert), critical=False)
        .add_extension(x509.AuthorityInformationAccess([
            x509.AccessDescription(x509.AuthorityInformationAccessOID.CA_ISSUERS,
                                   x509.UniformResourceIdentifier(settings.url(ROOT_CERT_PATH))),
        ]), critical=False)
        .add_extension(_crl_dp(settings.url(ROOT_CRL_PATH)), critical=False)
        .sign(root.key, hashes.SHA256())
    )
    return cert


def _aki(issuer: x509.Certificate) -> x509.AuthorityKeyIdentifier:
    ski = issuer.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    return x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski)


def _crl_dp(url: str) -> x509.CRLDistributionPoints:
    return x509.CRLDistributionPoints([x509.DistributionPoint(
        full_name=[x509.UniformResourceIdentifier(url)], relative_name=None, reasons=None, crl_issuer=None)])


def _record(cert: x509.Certificate, issuer: str, role: CertRole,
            subject_id: str | None = None) -> IssuedCertificate:
    return IssuedCertificate(
        serial=cert.serial_number, issuer=issuer, role=role, subject=cert.subject.rfc4514_string(),
        not_before=cert.not_valid_before_utc, not_after=cert.not_valid_after_utc,
        cert_der=cert.public_bytes(serialization.Encoding.DER), subject_id=subject_id)


def _ensure_recorded(registry: CertificateRegistry, cert: x509.Certificate, issuer: str, role: CertRole) -> None:
    if registry.get(cert.serial_number) is None:
        registry.add(_record(cert, issuer, role))


def _issuer_hashes(issuer: x509.Certificate, algorithm: hashes.HashAlgorithm) -> tuple[bytes, bytes]:
    """CertID issuerNameHash and issuerKeyHash (RFC 6960 §4.1.1)."""
    name_digest = hashes.Hash(algorithm)
    name_digest.update(issuer.subject.public_bytes())
    key_bits = issuer.public_key().public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
    key_digest = hashes.Hash(algorithm)
    key_digest.update(key_bits)
    return name_digest.finalize(), key_digest.finalize()


def _unsuccessful(status: ocsp.OCSPResponseStatus) -> bytes:
    return ocsp.OCSPResponseBuilder.build_unsuccessful(status).public_bytes(serialization.Encoding.DER)


def load_certificate(data: bytes) -> x509.Certificate:
    """A certificate from PEM or DER bytes; bad input is InvalidArgument."""
    try:
        if data.lstrip().startswith(b"-----BEGIN"):
            return x509.load_pem_x509_certificate(data)
        return x509.load_der_x509_certificate(data)
    except ValueError as exc:
        raise InvalidArgument(f"not a certificate: {exc}") from exc
