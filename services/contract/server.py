"""Wiring of the contract service: configuration, domain objects, servicer, the
webhook delivery thread and the scheduler of recurring jobs (expiry, B-LTA retries,
reminders and notices, delegated signing, the evidence log and its tree heads)."""
from __future__ import annotations

from functools import cached_property

import grpc

from core.service import ServiceContext
from services.contract.config import ContractConfig, load_config
from services.contract.schedule_config import ScheduleConfig, load_schedule_config


class ContractParts:
    """The service's domain objects, each made on first use (nothing connects at start-up)."""

    def __init__(self, ctx: ServiceContext, config: ContractConfig, schedule: ScheduleConfig):
        self.ctx = ctx
        self.config = config
        self.schedule = schedule

    @cached_property
    def identity(self):
        from services.contract.identity_client import Identity

        return Identity(self.ctx.peers)

    @cached_property
    def signing(self):
        from services.contract.signing_client import Signing

        return Signing(self.ctx.peers)

    @cached_property
    def creation(self):
        from services.contract.create import Creation
        from services.contract.filegen_client import Filegen
        from services.contract.template_client import Templates

        return Creation(self.ctx.sessions, Templates(self.ctx.peers), Filegen(self.ctx.peers), self.identity, self.ctx.blobs)

    @cached_property
    def lifecycle(self):
        from services.contract.lifecycle import Lifecycle

        return Lifecycle(self.ctx.sessions, self.identity, self.signing)

    @cached_property
    def queries(self):
        from services.contract.queries import Queries

        return Queries(self.ctx.sessions, self.ctx.blobs, self.identity)

    @cached_property
    def sign_urls(self):
        from services.contract.sign_urls import SignUrls

        return SignUrls(self.ctx.sessions, self.ctx.settings.public_url, self.config.sign_url_ttl)

    @cached_property
    def signing_contexts(self):
        from services.contract.signing_context import SigningContexts

        return SigningContexts(self.ctx.sessions)

    @cached_property
    def consents(self):
        from services.contract.consents import Consents

        return Consents(self.ctx.sessions, self.signing_contexts)

    @cached_property
    def deliveries(self):
        from services.contract.webhooks import Deliveries

        provider = self.ctx.tracer_provider
        tracer = provider.get_tracer("econtract.contract.webhooks") if provider is not None else None
        return Deliveries(self.ctx.sessions, self.identity, self.config, tracer=tracer)


    @cached_property
    def notices(self):
        from services.contract.notice_client import NoticeSender
        from services.contract.notices import NoticeDeliveries, NoticeTexts

        return NoticeDeliveries(self.ctx.sessions, NoticeSender(self.ctx.peers), self.sign_urls,
                                NoticeTexts(self.schedule.notice_timezone))

    @cached_property
    def reminders(self):
        from services.contract.reminders import Reminders

        return Reminders(self.ctx.sessions, self.schedule.reminder_seconds, self.schedule.reminder_max)

    @cached_property
    def expiry(self):
        from services.contract.expiry import Expiry

        return Expiry(self.ctx.sessions, self.lifecycle)

    @cached_property
    def grants(self):
        from services.contract.delegation import Grants

        return Grants(self.ctx.sessions, self.identity)

    @cached_property
    def delegated_signing(self):
        from services.contract.delegation import DelegatedSigning

        return DelegatedSigning(self.ctx.sessions, self.grants, self.signing, self.lifecycle,
                                lease_seconds=self.schedule.lease_seconds)

    @cached_property
    def evidence_log(self):
        from services.contract.completion_certificate import CertificateRenderer
        from services.contract.evidence_log import EvidenceLog

        renderer = CertificateRenderer(self.schedule.certificate_font, self.schedule.notice_timezone,
                                       self.ctx.settings.var_dir / "cache" / "fonts")
        return EvidenceLog(self.ctx.sessions, self.ctx.blobs, renderer)

    @cached_property
    def tree_heads(self):
        from services.contract.ledger import ledger_for
        from services.contract.timestamp_client import TimestampClient
        from services.contract.tree_heads import TreeHeads

        provider = self.ctx.tracer_provider
        tracer = provider.get_tracer("econtract.contract.ledger") if provider is not None else None
        return TreeHeads(self.ctx.sessions, self.evidence_log, TimestampClient(self.ctx.peers),
                         ledger_for(self.schedule, tracer=tracer), self.schedule.evidence_log_id)

    @cached_property
    def evidence(self):
        from services.contract.evidence_bundle import EvidenceBundles

        return EvidenceBundles(self.ctx.sessions, self.ctx.blobs, self.evidence_log, self.tree_heads)

    @cached_property
    def scheduler(self):
        from services.contract.scheduler import Job, Scheduler

        sweep, schedule = self.config.sweep_seconds, self.schedule
        jobs = [
            Job("contract.expire", sweep, lambda: self.expiry.run_once()),
            Job("contract.lta", sweep, lambda: self.lifecycle.retry_lta(older_than=sweep * 2)),
            Job("contract.reminders", min(schedule.reminder_seconds / 4, 60.0), lambda: self.reminders.run_once()),
            Job("contract.notices", schedule.notice_poll_seconds, lambda: self.notices.run_once()),
            Job("contract.delegation", schedule.delegation_seconds, lambda: self.delegated_signing.run_once()),
            Job("evidence.log", schedule.evidence_log_seconds, lambda: self.evidence_log.append_due()),
            Job("evidence.tree_heads", schedule.evidence_sth_seconds, lambda: self.tree_heads.run_once()),
        ]
        return Scheduler(self.ctx.sessions, jobs, tick_seconds=schedule.tick_seconds,
                         lease_seconds=schedule.lease_seconds)


def register_with(server: grpc.Server, ctx: ServiceContext, config: ContractConfig,
                  schedule: ScheduleConfig | None = None) -> list[str]:
    """Add the servicer to ``server``, start the webhook thread and the scheduler (tests
    pass their own ``config`` and ``schedule``)."""
    from econtract.contract.v1 import contract_pb2, contract_pb2_grpc
    from services.contract.api import ContractApi
    from services.contract.log_masking import mask_logs
    from services.contract.worker import BackgroundWork

    mask_logs()  # signers' mobiles, e-mails and ID numbers never reach the logs in full
    parts = ContractParts(ctx, config, schedule or load_schedule_config(ctx.settings.var_dir))
    contract_pb2_grpc.add_ContractServiceServicer_to_server(ContractApi(parts), server)
    # Made now so that they close after the thread stops (closers run newest first).
    _ = (ctx.sessions, ctx.peers)
    work = BackgroundWork(parts.deliveries, config)
    work.start()
    ctx.on_close(work.stop)
    parts.scheduler.start()
    ctx.on_close(parts.scheduler.stop)
    return [contract_pb2.DESCRIPTOR.services_by_name["ContractService"].full_name]


def register(server: grpc.Server, ctx: ServiceContext) -> list[str]:
    # Both fail fast on a bad variable.
    return register_with(server, ctx, load_config(dev=ctx.settings.dev), load_schedule_config(ctx.settings.var_dir))
