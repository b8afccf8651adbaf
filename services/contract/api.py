"""Thin gRPC handlers of the contract service: proto → domain call → proto.

External RPCs act for the calling business line (the gateway forwards its app id, the
client's IP and user agent); a contract of another app answers NOT_FOUND.
"""
from __future__ import annotations

from functools import cached_property
from typing import Protocol

from core.errors import invalid
from core.rpc.caller import caller, calling_app
from core.service import ServiceContext
from econtract.contract.v1 import contract_pb2 as pb
from econtract.contract.v1 import contract_pb2_grpc
from services.contract import evidence_messages, messages
from services.contract.client_sign import ClientSigning, Preparations
from services.contract.consents import Consents
from services.contract.create import Creation
from services.contract.delegation import Grants
from services.contract.delivery_log import list_deliveries
from services.contract.evidence_bundle import EvidenceBundles
from services.contract.evidence_log import EvidenceLog
from services.contract.identity_client import Identity
from services.contract.lifecycle import Lifecycle
from services.contract.model import Actor
from services.contract.queries import Queries
from services.contract.sign_urls import SignUrls
from services.contract.signing_client import Signing
from services.contract.signing_context import SigningContexts
from services.contract.tree_heads import TreeHeads


class ContractParts(Protocol):
    """The domain objects the handlers call, built by the wiring."""

    consents: Consents
    creation: Creation
    lifecycle: Lifecycle
    queries: Queries
    sign_urls: SignUrls
    signing_contexts: SigningContexts
    grants: Grants
    evidence_log: EvidenceLog
    tree_heads: TreeHeads
    evidence: EvidenceBundles
    ctx: ServiceContext
    identity: Identity
    signing: Signing


CONSOLE = "console:"


def _owner(context) -> str:
    """Whose contracts the caller may see: its own, or (console users) every business line's.

    Only the gateway sets the caller metadata, and it names apps ``app_…``, so an app cannot
    pass itself off as a console user."""
    app_id = calling_app(context)
    return "" if app_id.startswith(CONSOLE) else app_id


def _app_actor(context) -> tuple[str, Actor]:
    app_id = calling_app(context)
    who = caller(context)
    actor = app_id if app_id.startswith(CONSOLE) else f"app:{app_id}"
    return app_id, Actor(actor, who.client_ip, who.user_agent)


def _source(value: int) -> str:
    return "PC" if value == pb.SIGN_PAGE_SOURCE_UNSPECIFIED else pb.SignPageSource.Name(value)


def _scene(value: int) -> str:
    return "NORMAL" if value == pb.SIGN_PAGE_SCENE_UNSPECIFIED else pb.SignPageScene.Name(value)


class ContractApi(contract_pb2_grpc.ContractServiceServicer):
    def __init__(self, parts: ContractParts):
        self.parts = parts

    @cached_property
    def client_signing(self) -> ClientSigning:
        parts = self.parts
        return ClientSigning(parts.ctx.sessions, parts.identity, parts.signing, Preparations(parts.ctx.peers))

    def CreateContract(self, request, context):
        app_id, actor = _app_actor(context)
        contract, _created = self.parts.creation.create(app_id, messages.create_input(request), actor)
        return messages.mirrored(contract, pb.CreateContractResponse)

    def GetContract(self, request, context):
        contract = self.parts.queries.get(_owner(context), request.contract_id)
        return messages.mirrored(contract, pb.GetContractResponse)

    def ListContracts(self, request, context):
        page = self.parts.queries.list(
            _owner(context), messages.contract_filter(request), request.page_size, request.page_token
        )
        return pb.ListContractsResponse(
            contracts=[messages.contract_message(c) for c in page.contracts], next_page_token=page.next_token
        )

    def GetContractDocument(self, request, context):
        _app_id, actor = _app_actor(context)
        revision = request.revision if request.HasField("revision") else None
        file = self.parts.queries.document(_owner(context), request.contract_id, request.document_id, revision, actor)
        return pb.GetContractDocumentResponse(
            contract_id=file.contract_id, document_id=file.document_id, revision=file.revision, sha256=file.sha256,
            content_type=file.content_type, data=file.data, file_name=file.file_name,
        )

    def CreateSignUrl(self, request, context):
        app_id, actor = _app_actor(context)
        link = self.parts.sign_urls.create(
            app_id, request.contract_id, request.signer_id, source=_source(request.source), scene=_scene(request.scene),
            redirect_url=request.redirect_url.strip(), actor=actor,
        )
        return pb.CreateSignUrlResponse(url=link.url, expire_time=messages.timestamp(link.expires_at))

    def RevokeContract(self, request, context):
        _app_id, actor = _app_actor(context)
        contract = self.parts.lifecycle.revoke(_owner(context), request.contract_id, request.reason.strip(), actor)
        return pb.RevokeContractResponse(contract_id=contract.contract_id, status=pb.Contract.Status.Value(contract.status.value))

    def ListContractEvents(self, request, context):
        page = self.parts.queries.events(_owner(context), request.contract_id, request.page_size, request.page_token)
        return pb.ListContractEventsResponse(
            events=[messages.event_message(e) for e in page.events],
            next_page_token=page.next_token,
            chain_verified=page.chain.ok,
        )

    def SignContract(self, request, context):
        app_id, actor = _app_actor(context)
        contract = self.parts.lifecycle.sign(
            app_id, request.contract_id, request.signer_id.strip(), request.intent_token.strip(),
            messages.appearance(request), actor,
        )
        return pb.SignContractResponse(
            contract_id=contract.contract_id,
            status=pb.Contract.Status.Value(contract.status.value),
            documents=[messages.document_message(d) for d in contract.documents],
        )

    def PrepareSignContract(self, request, context):
        app_id, actor = _app_actor(context)
        prepared = self.client_signing.prepare(
            app_id, request.contract_id, request.signer_id.strip(), request.intent_token.strip(),
            list(request.certificate_chain), messages.appearance(request), actor,
        )
        first = prepared.documents[0]
        return pb.PrepareSignContractResponse(
            preparation_id=first.preparation_id, to_be_signed=first.to_be_signed, digest=first.digest,
            expire_time=messages.timestamp(prepared.expires_at),
            documents=[pb.DocumentPreparation(document_id=d.document_id, preparation_id=d.preparation_id,
                                              to_be_signed=d.to_be_signed, digest=d.digest) for d in prepared.documents],
        )

    def CompleteSignContract(self, request, context):
        app_id, actor = _app_actor(context)
        signatures = [(s.preparation_id.strip(), s.signature) for s in request.signatures] or [
            (request.preparation_id.strip(), request.signature)]
        contract = self.client_signing.complete(app_id, request.contract_id, signatures, actor)
        return pb.CompleteSignContractResponse(
            contract_id=contract.contract_id,
            status=pb.Contract.Status.Value(contract.status.value),
            documents=[messages.document_message(d) for d in contract.documents],
        )

    def AgreeContract(self, request, context):
        app_id, actor = _app_actor(context)
        contract = self.parts.lifecycle.agree(
            app_id, request.contract_id, request.signer_id.strip(), reading_seconds=request.reading_seconds,
            evidence=messages.evidence(request.client_evidence), intent_token=request.intent_token.strip(), actor=actor,
        )
        return pb.AgreeContractResponse(
            contract_id=contract.contract_id,
            status=pb.Contract.Status.Value(contract.status.value),
            documents=[messages.document_message(d) for d in contract.documents],
        )

    def RejectContract(self, request, context):
        app_id, actor = _app_actor(context)
        contract = self.parts.lifecycle.reject(app_id, request.contract_id, request.signer_id.strip(),
                                               request.reason.strip(), actor)
        return pb.RejectContractResponse(contract_id=contract.contract_id, status=pb.Contract.Status.Value(contract.status.value))

    def GetContractEvidence(self, request, context):
        app_id, actor = _app_actor(context)
        bundle = self.parts.evidence.build(app_id, request.contract_id.strip(), actor)
        return pb.GetContractEvidenceResponse(contract_id=bundle.contract_id, content_type="application/zip",
                                              data=bundle.data, file_name=bundle.file_name, sha256=bundle.sha256)

    def CreateSigningGrant(self, request, context):
        app_id, actor = _app_actor(context)
        grant = self.parts.grants.create(app_id, evidence_messages.grant_input(request), actor)
        return pb.CreateSigningGrantResponse(grant=evidence_messages.grant_message(grant))

    def GetSigningGrant(self, request, context):
        grant = self.parts.grants.get(calling_app(context), request.grant_id.strip())
        return pb.GetSigningGrantResponse(grant=evidence_messages.grant_message(grant))

    def ListSigningGrants(self, request, context):
        grants, next_token = self.parts.grants.list(calling_app(context), request.page_size, request.page_token)
        return pb.ListSigningGrantsResponse(grants=[evidence_messages.grant_message(g) for g in grants],
                                            next_page_token=next_token)

    def RevokeSigningGrant(self, request, context):
        app_id, actor = _app_actor(context)
        grant = self.parts.grants.revoke(app_id, request.grant_id.strip(), request.reason.strip(), actor)
        return pb.RevokeSigningGrantResponse(grant=evidence_messages.grant_message(grant))

    def GetEvidenceTreeHead(self, request, context):
        head = self.parts.tree_heads.get(request.tree_size)
        return pb.GetEvidenceTreeHeadResponse(tree_head=evidence_messages.tree_head_message(head))

    def GetEvidenceInclusionProof(self, request, context):
        found = self.parts.evidence.inclusion(calling_app(context), request.contract_id.strip(), request.tree_size)
        return pb.GetEvidenceInclusionProofResponse(
            contract_id=found.leaf.contract_id, leaf_index=found.leaf.index, leaf=found.leaf.data,
            leaf_hash=found.leaf.hash, audit_path=[h.hex() for h in found.audit_path],
            tree_head=evidence_messages.tree_head_message(found.tree_head),
        )

    def GetEvidenceConsistencyProof(self, request, context):
        second = self.parts.tree_heads.get(request.second_tree_size)
        first = self.parts.tree_heads.at(request.first_tree_size) if request.first_tree_size > 0 else None
        if first is None:
            raise invalid("firstTreeSize", "must be the size of a signed tree head (at least 1)")
        proof = self.parts.evidence_log.consistency_proof(first.tree_size, second.tree_size)
        return pb.GetEvidenceConsistencyProofResponse(
            first_tree_head=evidence_messages.tree_head_message(first),
            second_tree_head=evidence_messages.tree_head_message(second), proof=[h.hex() for h in proof],
        )

    def GetSigningContext(self, request, context):
        found = self.parts.signing_contexts.get(request.signer_id.strip(), [c.strip() for c in request.contract_ids])
        return messages.signing_context_message(found)

    def ResolveSignUrl(self, request, context):
        who = caller(context)
        link = self.parts.sign_urls.resolve(request.token.strip(), Actor("", who.client_ip, who.user_agent))
        return pb.ResolveSignUrlResponse(
            contract_id=link.contract_id, signer_id=link.signer_id, app_id=link.app_id,
            source=pb.SignPageSource.Value(link.source), scene=pb.SignPageScene.Value(link.scene),
            redirect_url=link.redirect_url, expire_time=messages.timestamp(link.expires_at),
        )

    def RecordSigningConsent(self, request, context):
        who = caller(context)
        consented_at = self.parts.consents.record(
            request.signer_id.strip(), [c.strip() for c in request.contract_ids], request.text.strip(),
            Actor("", who.client_ip, who.user_agent), app_id=who.app_id,
        )
        return pb.RecordSigningConsentResponse(consent_time=messages.timestamp(consented_at))

    def ListWebhookDeliveries(self, request, context):
        states, next_token = list_deliveries(self.parts.ctx.sessions, _owner(context) or request.app_id.strip(),
                                             request.page_size, request.page_token)
        return pb.ListWebhookDeliveriesResponse(deliveries=[messages.delivery_message(s) for s in states],
                                                next_page_token=next_token)
