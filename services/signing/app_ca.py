"""Which CA certifies a business line's signer keys: the built-in CA, or the outside CA it
chose in its app settings (``ca_provider``), read from the identity service.

The outgoing half of the RPC layer: protobuf messages are built and read only here. The
EST password comes from identity's internal ``GetAppCaProvider`` and lives only in the
provider object (never logged, never in an error). Providers are kept per app and
settings, so an outside CA's certificates (``/cacerts``) are fetched once, not per signing;
a change of the settings makes a new provider.
"""
from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict

import grpc

from core.errors import Unavailable
from core.rpc.client import Peers
from services.signing import pki
from services.signing.outside_ca import EstCaProvider, EstClient, EstSettings

_KEPT = 64  # providers kept (one per business line with an outside CA)


class AppCaProviders:
    def __init__(self, peers: Peers, built_in: pki.PlatformCa, id_hash_salt: bytes, *, timeout: float = 10.0,
                 allow_private: bool = False, tracer=None):
        self._peers = peers
        self._built_in = built_in
        self._salt = id_hash_salt
        self._timeout = timeout
        self._allow_private = allow_private
        self._tracer = tracer
        self._kept: OrderedDict[str, EstCaProvider] = OrderedDict()
        self._lock = threading.Lock()

    def for_app(self, app_id: str) -> pki.CaProvider:
        from econtract.identity.v1 import identity_pb2, identity_pb2_grpc

        if not app_id:
            return self._built_in
        stub = identity_pb2_grpc.IdentityServiceStub(self._peers.channel("identity"))
        try:
            reply = self._peers.call(stub.GetAppCaProvider, identity_pb2.GetAppCaProviderRequest(app_id=app_id))
        except grpc.RpcError as exc:
            if exc.code() == grpc.StatusCode.NOT_FOUND:
                return self._built_in
            raise Unavailable("cannot read the app's CA provider from the identity service") from exc
        chosen = reply.ca_provider
        if chosen.kind != identity_pb2.CaProvider.EST:
            return self._built_in
        settings = EstSettings(chosen.est_url, chosen.est_username, reply.est_password,
                               ca_pem=chosen.est_tls_roots, timeout=self._timeout, allow_private=self._allow_private)
        return self._provider(app_id, settings)

    def _provider(self, app_id: str, settings: EstSettings) -> EstCaProvider:
        fingerprint = hashlib.sha256("\0".join(
            (app_id, settings.base_url, settings.ca_pem, settings.username, settings.password)).encode()).hexdigest()
        with self._lock:
            provider = self._kept.get(fingerprint)
            if provider is not None:
                self._kept.move_to_end(fingerprint)
                return provider
        provider = EstCaProvider(EstClient(settings, self._tracer), self._salt, crl_timeout=self._timeout)
        with self._lock:
            self._kept[fingerprint] = provider
            while len(self._kept) > _KEPT:
                self._kept.popitem(last=False)
        return provider
