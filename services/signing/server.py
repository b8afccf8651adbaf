"""Wiring of the signing service: its configuration, the platform CA and TSA, its servicer.

The CA is opened when the service starts (``register``), never at import: the first
start creates the root, issuing CA, TSA and platform-seal keys, encrypted under the PKI
directory with a secret wrapped by the master key (``pki_secrets``), or inside a PKCS#11
token when configured (``hsm``); later starts load them and renew the TSA and seal
certificates when near expiry or revoked.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

import grpc

from core.masterkey import load_master_key
from core.service import ServiceContext
from services.signing.config import SigningConfig, load_config

if TYPE_CHECKING:
    from services.signing.certificates import Certificates
    from services.signing.client_signing import ClientSignatures
    from services.signing.pki import PlatformCa
    from services.signing.seal_library import SealLibrary
    from services.signing.signatures import Signatures
    from services.signing.tsa import TimestampAuthority


@dataclass(frozen=True)
class SigningParts:
    """The service's domain objects, built once at start-up."""

    ca: PlatformCa
    tsa: TimestampAuthority
    seals: SealLibrary
    signatures: Signatures
    certificates: Certificates
    client: ClientSignatures


def build_parts(ctx: ServiceContext, config: SigningConfig) -> SigningParts:
    from core.redis import key as redis_key
    from services.signing.app_ca import AppCaProviders
    from services.signing.app_seal_styles import AppSealStyles
    from services.signing.certificates import Certificates
    from services.signing.client_signing import ClientSignatures
    from services.signing.identity_client import AppTrustAnchors
    from services.signing.pki import PkiSettings, PlatformCa
    from services.signing.pki_secrets import open_pki_secrets
    from services.signing.revocation_epoch import RedisRevocationEpoch
    from services.signing.seal_library import SealLibrary
    from services.signing.signatures import Signatures
    from services.signing.store import EvidenceStore, PreparationStore, SealStore, SqlCertificateRegistry
    from services.signing.tsa import TimestampAuthority

    secrets = open_pki_secrets(config.pki_dir, load_master_key(ctx.settings))
    registry = SqlCertificateRegistry(ctx.sessions)
    keys = None
    if config.token is not None:
        from services.signing.hsm import open_keystore

        keys = open_keystore(config.token, config.pki_dir)
        ctx.on_close(keys.close)
    ca = PlatformCa.open(PkiSettings(
        master_key=secrets.key_password,
        id_hash_salt=secrets.id_hash_salt,
        directory=config.pki_dir,
        public_base_url=ctx.settings.public_url,
        platform_name=config.platform_name,
        signer_cert_lifetime=config.signer_cert_lifetime,
        status_cache_ttl=config.status_cache_ttl,
    ), registry, keys, RedisRevocationEpoch(ctx.redis, redis_key(ctx.settings, "signing", "revocation-epoch")))
    tsa = TimestampAuthority(ca.tsa_material())
    seals = SealLibrary(SealStore(ctx.sessions), ctx.blobs, secrets, font=config.seal_font,
                        limits=config.upload_limits, styles=AppSealStyles(ctx.peers).for_app)
    tracer = ctx.tracer_provider.get_tracer("econtract.signing.outside_ca") if ctx.tracer_provider else None
    providers = AppCaProviders(ctx.peers, ca, secrets.id_hash_salt, timeout=config.revocation_fetch_timeout,
                               allow_private=config.outside_ca_allow_private, tracer=tracer)
    signatures = Signatures(ca, tsa, seals, EvidenceStore(ctx.sessions), ctx.blobs, providers=providers.for_app)
    client = ClientSignatures(signatures, ca, tsa, PreparationStore(ctx.sessions), AppTrustAnchors(ctx.peers).for_app,
                              ttl=config.preparation_ttl, fetch_timeout=config.revocation_fetch_timeout)
    return SigningParts(ca, tsa, seals, signatures, Certificates(ca, registry), client)


def build_api(ctx: ServiceContext, parts: SigningParts):
    from services.signing.api import SigningApi
    from services.signing.identity_client import AppTrustAnchors

    return SigningApi(ca=parts.ca, tsa=parts.tsa, seals=parts.seals, signatures=parts.signatures,
                      certificates=parts.certificates, anchors=AppTrustAnchors(ctx.peers), blobs=ctx.blobs,
                      client=parts.client)


def quiet_pyhanko() -> None:
    """pyHanko warns on every signature that fetching is off (on purpose: revocation data
    is passed in) and logs every validation finding with a traceback, findings that our
    verification reports already carry; at ERROR level the logs keep what needs a look."""
    for name in ("pyhanko.sign.signers.pdf_signer", "pyhanko.sign.validation.generic_cms",
                 "pyhanko.sign.validation.ades"):
        logging.getLogger(name).setLevel(logging.ERROR)


def register(server: grpc.Server, ctx: ServiceContext) -> list[str]:
    from econtract.signing.v1 import signing_pb2, signing_pb2_grpc

    quiet_pyhanko()
    parts = build_parts(ctx, load_config(ctx.settings))  # fails fast on bad config or a wrong master key
    signing_pb2_grpc.add_SigningServiceServicer_to_server(build_api(ctx, parts), server)
    return [signing_pb2.DESCRIPTOR.services_by_name["SigningService"].full_name]
