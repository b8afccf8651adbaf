"""A client-side signer's certificate chain: read it, check it, check a signature by its key.

The chain comes from the signer (a USB key, a browser) and names a CA the platform did not
run, so everything is checked here rather than trusted:
- the signer's certificate is an end-entity certificate for signing (key usage
  digitalSignature or nonRepudiation) with an EC P-256 or RSA 2048–4096 key, and names
  the signer (common name, or organisation for an organisation);
- the chain leads to a root the business line trusts (its registered trust anchors) or
  to the platform's own roots: a signature under an unknown CA would be embedded in the
  contract while every verifier calls it untrusted;
- validity, CA constraints and signatures along the path (pyhanko-certvalidator), and
  the revocation status wherever a certificate says where to find it (its OCSP
  responder or CRL distribution point, fetched over HTTP with a timeout): "hard-fail",
  so a status that cannot be fetched refuses the signing instead of passing silently.
The CRLs and OCSP answers fetched are returned, to be embedded as validation data.
"""
from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass

from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from cryptography.x509.oid import NameOID
from pyhanko_certvalidator import CertificateValidator, ValidationContext
from pyhanko_certvalidator.errors import (
    ExpiredError,
    InsufficientRevinfoError,
    NotYetValidError,
    PathBuildingError,
    PathValidationError,
    RevokedError,
)
from pyhanko_certvalidator.fetchers.aiohttp_fetchers import AIOHttpFetcherBackend

from core.errors import FailedPrecondition, invalid
from services.signing.pki import RevocationInfo

MAX_CERTIFICATES = 10
MAX_ENTRY_BYTES = 64 * 1024
_FIELD = "certificateChain"


@dataclass(frozen=True)
class ClientChain:
    """The signer's certificate and the CA certificates sent with it, in order."""

    leaf: x509.Certificate
    cas: tuple[x509.Certificate, ...]

    @property
    def serial(self) -> str:
        return format(self.leaf.serial_number, "x")

    def pem(self) -> str:
        return "".join(c.public_bytes(serialization.Encoding.PEM).decode() for c in (self.leaf, *self.cas))


def parse_chain(entries: Sequence[str]) -> ClientChain:
    """The chain from PEM entries (each one or more certificates), signer's certificate first."""
    certs: list[x509.Certificate] = []
    for entry in entries:
        if len(entry) > MAX_ENTRY_BYTES:
            raise invalid(_FIELD, f"an entry is larger than {MAX_ENTRY_BYTES} bytes")
        try:
            certs.extend(x509.load_pem_x509_certificates(entry.encode()))
        except ValueError:
            raise invalid(_FIELD, "each entry must hold PEM certificates") from None
    if not certs:
        raise invalid(_FIELD, "the signer's certificate (PEM) is required, followed by its CA certificates")
    if len(certs) > MAX_CERTIFICATES:
        raise invalid(_FIELD, f"at most {MAX_CERTIFICATES} certificates")
    leaf = certs[0]
    _check_key(leaf.public_key())
    try:
        constraints = leaf.extensions.get_extension_for_class(x509.BasicConstraints).value
        if constraints.ca:
            raise invalid(_FIELD, "the first certificate must be the signer's, not a CA certificate")
    except x509.ExtensionNotFound:
        pass
    try:
        usage = leaf.extensions.get_extension_for_class(x509.KeyUsage).value
        if not (usage.digital_signature or usage.content_commitment):
            raise invalid(_FIELD, "the signer's certificate does not allow signing (key usage)")
    except x509.ExtensionNotFound:
        pass
    return ClientChain(leaf, tuple(certs[1:]))


def check_names(chain: ClientChain, name: str, organisation: bool) -> None:
    """The certificate must name the signer: its common name (or, for an organisation,
    its organisation name) equals the signer's name."""
    wanted = name.strip()
    oids = (NameOID.COMMON_NAME, NameOID.ORGANIZATION_NAME) if organisation else (NameOID.COMMON_NAME,)
    found = {str(a.value).strip() for oid in oids for a in chain.leaf.subject.get_attributes_for_oid(oid)}
    if wanted not in found:
        raise invalid(_FIELD, f"the signer's certificate names {', '.join(sorted(found)) or 'nobody'}, "
                              f"not the signer {wanted}")


def verified_signature(cert: x509.Certificate, data: bytes, signature: bytes) -> bytes | None:
    """The signature as CMS carries it, when it is the certificate key's SHA-256 signature
    of ``data`` (ECDSA in DER or as the 64-byte r‖s WebCrypto returns, or RSA PKCS#1
    v1.5); None when it is not."""
    key = cert.public_key()
    if isinstance(key, ec.EllipticCurvePublicKey):
        candidates = [signature] + ([_raw_to_der(signature)] if len(signature) == 64 else [])
        for candidate in candidates:
            try:
                key.verify(candidate, data, ec.ECDSA(hashes.SHA256()))
                return candidate
            except (InvalidSignature, ValueError):
                continue
        return None
    if isinstance(key, rsa.RSAPublicKey):
        try:
            key.verify(signature, data, padding.PKCS1v15(), hashes.SHA256())
            return signature
        except (InvalidSignature, ValueError):
            return None
    return None


def check_chain(chain: ClientChain, anchors: Sequence[x509.Certificate], *, fetch_timeout: float,
                known: RevocationInfo = RevocationInfo()) -> RevocationInfo:
    """Validate the chain up to one of ``anchors`` now, with revocation checks; returns the
    revocation data used (``known`` plus what was fetched). Refusals are FAILED_PRECONDITION."""
    return asyncio.run(_check(chain, anchors, fetch_timeout, known))


async def _check(chain: ClientChain, anchors: Sequence[x509.Certificate], fetch_timeout: float,
                 known: RevocationInfo) -> RevocationInfo:
    backend = AIOHttpFetcherBackend(per_request_timeout=fetch_timeout)
    serial = format(chain.leaf.serial_number, "x")
    try:
        context = ValidationContext(
            trust_roots=[_asn1(c) for c in as_trust_roots(anchors)],
            other_certs=[_asn1(c) for c in chain.cas],
            crls=list(known.crls), ocsps=list(known.ocsps),
            allow_fetching=True, revocation_mode="hard-fail", fetcher_backend=backend,
        )
        validator = CertificateValidator(_asn1(chain.leaf), intermediate_certs=[_asn1(c) for c in chain.cas],
                                         validation_context=context)
        try:
            await validator.async_validate_usage(set())
        except RevokedError:
            raise FailedPrecondition(f"the signer's certificate {serial} is revoked (per its CA's revocation "
                                     "data): it can no longer sign") from None
        except PathBuildingError:
            raise FailedPrecondition(
                f"the signer's certificate {serial} does not chain to a CA this business line trusts: register "
                "the CA's root certificate in trustAnchors (PATCH /v1/apps/self) or send the full chain") from None
        except (ExpiredError, NotYetValidError):
            raise FailedPrecondition(f"the signer's certificate chain is outside its validity period "
                                     f"(certificate {serial})") from None
        except InsufficientRevinfoError as exc:
            raise FailedPrecondition(f"the revocation status of the signer's certificate {serial} could not be "
                                     f"checked: {exc}") from None
        except PathValidationError as exc:
            raise FailedPrecondition(f"the signer's certificate chain is not valid: {exc}") from None
        return RevocationInfo(crls=tuple(c.dump() for c in context.crls),
                              ocsps=tuple(o.dump() for o in context.ocsps))
    finally:
        await backend.close()


def as_trust_roots(anchors: Sequence[x509.Certificate]) -> list[x509.Certificate]:
    """``anchors`` as pyhanko-certvalidator trust roots.

    An anchor is a name and a key (RFC 5280 §6.1.1 d), so a business line may register an
    intermediate CA alone. But when such an anchor signed the CRL of a certificate below
    it, the validator looks for the anchor's own issuer in the path, finds nothing above
    the anchor, and gives up on the CRL. An anchor that is not self-issued is therefore
    handed over as a self-issued stand-in with the same name, key, key identifier and
    constraints; validators never check a trust root's own signature, so the throwaway
    key that signs the stand-in plays no part, and nothing above the anchor is trusted."""
    return [cert if cert.issuer == cert.subject else _stand_in(cert) for cert in anchors]


def _stand_in(anchor: x509.Certificate) -> x509.Certificate:
    builder = (x509.CertificateBuilder().subject_name(anchor.subject).issuer_name(anchor.subject)
               .public_key(anchor.public_key()).serial_number(anchor.serial_number)
               .not_valid_before(anchor.not_valid_before_utc).not_valid_after(anchor.not_valid_after_utc))
    for extension in anchor.extensions:
        if isinstance(extension.value, _KEPT_BY_STAND_INS):
            builder = builder.add_extension(extension.value, extension.critical)
    return builder.sign(ec.generate_private_key(ec.SECP256R1()), hashes.SHA256())


_KEPT_BY_STAND_INS = (x509.BasicConstraints, x509.KeyUsage, x509.SubjectKeyIdentifier, x509.NameConstraints,
                      x509.PolicyConstraints, x509.CertificatePolicies, x509.ExtendedKeyUsage)


def _check_key(key: object) -> None:
    if isinstance(key, ec.EllipticCurvePublicKey):
        if not isinstance(key.curve, ec.SECP256R1):
            raise invalid(_FIELD, "an EC signer key must be on P-256")
        return
    if isinstance(key, rsa.RSAPublicKey):
        if not 2048 <= key.key_size <= 4096:
            raise invalid(_FIELD, "an RSA signer key must have 2048 to 4096 bits")
        return
    raise invalid(_FIELD, "the signer's key must be EC P-256 or RSA")


def _raw_to_der(signature: bytes) -> bytes:
    return encode_dss_signature(int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big"))


def _asn1(cert: x509.Certificate) -> asn1_x509.Certificate:
    return asn1_x509.Certificate.load(cert.public_bytes(serialization.Encoding.DER))
