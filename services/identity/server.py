"""Wiring of the identity service: its configuration, domain objects and servicer."""
from __future__ import annotations

from functools import cached_property

import grpc

from core.masking import install_masking
from core.masterkey import MasterKey, load_master_key
from core.service import ServiceContext
from services.identity.config import FORMAT_ONLY, IdentityConfig, load_config

__all__ = ["IdentityParts", "build_api", "install_masking", "register"]


class IdentityParts:
    """The service's domain objects, each made on first use (the database and Redis are
    touched only when a request needs them, never at start-up or import)."""

    def __init__(self, ctx: ServiceContext, config: IdentityConfig, master_key: MasterKey):
        self.ctx = ctx
        self.config = config
        self.master_key = master_key

    @property
    def dev(self) -> bool:
        return self.ctx.settings.dev

    @property
    def namespace(self) -> str:
        return self.ctx.settings.redis_prefix.rstrip(":") + ":identity"

    @cached_property
    def keys(self):
        from services.identity.keys import ServiceKeys

        return ServiceKeys(self.ctx.sessions, self.master_key)

    @cached_property
    def subjects(self):
        from services.identity.keys import SUBJECT_LOOKUP
        from services.identity.subjects import Subjects

        return Subjects(self.ctx.sessions, self.master_key, self.keys.get(SUBJECT_LOOKUP), self.config.id_types)

    @cached_property
    def realname(self):
        from services.identity.realname import FormatOnlyProvider, HttpRealNameProvider
        from services.identity.verification import RealNameVerification

        providers = {FORMAT_ONLY: FormatOnlyProvider()}
        for name, endpoint in self.config.realname_providers.items():
            providers[name] = HttpRealNameProvider(endpoint, name=name)
        return RealNameVerification(self.subjects, providers, self.config.realname_default)

    @cached_property
    def outbox(self):
        from services.identity.senders import DevOutboxSender

        return DevOutboxSender(self.ctx.redis, dev_mode=True, namespace=self.namespace) if self.dev else None

    @cached_property
    def intents(self):
        from services.identity.api import intent_policy
        from services.identity.code_delivery import CodeDelivery
        from services.identity.face import FakeFaceVerifier
        from services.identity.face_challenges import FaceChallenges
        from services.identity.intent_tokens import IntentTokens
        from services.identity.intents import Intents
        from services.identity.keys import INTENT_TOKENS, OTP_CODES
        from services.identity.otp import IntentChallenges, OtpSettings
        from services.identity.signing_context import ContractSigningContexts

        otp = OtpSettings(namespace=self.namespace, code_ttl_seconds=self.config.otp_ttl_seconds,
                          resend_cooldown_seconds=self.config.otp_resend_cooldown_seconds)
        return Intents(
            subjects=self.subjects,
            challenges=IntentChallenges(self.ctx.redis, self.keys.get(OTP_CODES), otp),
            face_challenges=FaceChallenges(self.ctx.redis, self.namespace, ttl_seconds=otp.code_ttl_seconds),
            tokens=IntentTokens({"k1": self.keys.get(INTENT_TOKENS)}, "k1", redis=self.ctx.redis, namespace=self.namespace),
            # The message says whole minutes: a shorter lifetime still reads "1 minute".
            delivery=CodeDelivery(self._senders(), code_minutes=max(1, int(otp.code_ttl_seconds // 60))),
            face_verifier=FakeFaceVerifier(dev_mode=True) if self.dev else None,
            signing_contexts=ContractSigningContexts(self.ctx.peers),
            policies=lambda app_id: intent_policy(self.apps.get(app_id)),
            token_ttl=self.config.intent_token_ttl,
        )

    @cached_property
    def notices(self):
        from services.identity.notices import NoticeDelivery

        return NoticeDelivery(self._senders())

    @cached_property
    def apps(self):
        from services.identity.apps import Apps

        return Apps(self.ctx.sessions, self.master_key)

    def _senders(self) -> dict:
        from services.identity.senders import Channel, HttpSmsSender, SmtpEmailSender

        # A configured real sender wins; dev mode falls back to the outbox; otherwise none.
        senders = {}
        if self.config.smtp is not None:
            smtp = self.config.smtp
            senders[Channel.EMAIL] = SmtpEmailSender(
                smtp.host, smtp.port, smtp.from_address, security=smtp.security,
                username=smtp.username, password=smtp.password, timeout=smtp.timeout,
            )
        if self.config.sms is not None:
            senders[Channel.SMS] = HttpSmsSender(self.config.sms)
        if self.outbox is not None:
            for channel in Channel:
                senders.setdefault(channel, self.outbox)
        return senders


def build_api(ctx: ServiceContext, config: IdentityConfig):
    """The servicer for ``ctx`` with ``config`` (tests pass their own configuration)."""
    from services.identity.api import IdentityApi

    parts = IdentityParts(ctx, config, load_master_key(ctx.settings))
    return IdentityApi(parts.apps, parts)


def register(server: grpc.Server, ctx: ServiceContext) -> list[str]:
    from econtract.identity.v1 import identity_pb2, identity_pb2_grpc

    config = load_config(dev=ctx.settings.dev)  # fail fast on a bad variable
    install_masking()
    identity_pb2_grpc.add_IdentityServiceServicer_to_server(build_api(ctx, config), server)
    return [identity_pb2.DESCRIPTOR.services_by_name["IdentityService"].full_name]
