"""Protobuf ↔ domain for the contract service's RPCs (the only place that knows both)."""
from __future__ import annotations

from datetime import datetime, timezone

from google.protobuf import json_format, struct_pb2, timestamp_pb2

from core.errors import invalid
from econtract.common.v1 import common_pb2
from econtract.contract.v1 import contract_pb2 as pb
from services.contract.audit import Event
from services.contract.create import CreateInput, ExtraInput, SignerInput
from services.contract.delivery_log import DeliveryState
from services.contract.model import Contract, ContractStatus, Document, Signer, SubjectRef
from services.contract.queries import ContractFilter
from services.contract.signing_client import Appearance, ClientEvidence
from services.contract.signing_context import SigningContext

_UNSET_KIND = common_pb2.SignerKind.Name(common_pb2.SIGNER_KIND_UNSPECIFIED)


def timestamp(moment: datetime | None) -> timestamp_pb2.Timestamp | None:
    if moment is None:
        return None
    message = timestamp_pb2.Timestamp()
    message.FromDatetime(moment)
    return message


def when(message, field: str) -> datetime | None:
    return getattr(message, field).ToDatetime(tzinfo=timezone.utc) if message.HasField(field) else None


def _struct(data: dict) -> struct_pb2.Struct:
    message = struct_pb2.Struct()
    message.update(data)
    return message


def _plain(message: struct_pb2.Struct) -> dict:
    return json_format.MessageToDict(message)


# --- in -----------------------------------------------------------------------------


def _signer_in(message: pb.Signer) -> SignerInput:
    kind = common_pb2.SignerKind.Name(message.kind) if message.kind in common_pb2.SignerKind.values() else ""
    mode = message.sign_mode or pb.Signer.E_SIGN
    return SignerInput(
        role=message.role.strip(),
        kind="" if kind == _UNSET_KIND else kind,
        name=message.name,
        subject=SubjectRef(message.subject.id_type.strip(), message.subject.id.strip()),
        mobile=message.mobile.strip(),
        email=message.email.strip(),
        sign_mode=pb.Signer.SignMode.Name(mode) if mode in pb.Signer.SignMode.values() else "",
        order=message.order,
    )


def create_input(request: pb.CreateContractRequest) -> CreateInput:
    return CreateInput(
        template_id=request.template_id.strip(),
        title=request.title,
        signers=tuple(_signer_in(s) for s in request.signers),
        data=_plain(request.data),
        biz_no=request.biz_no.strip(),
        expire_at=when(request, "expire_time"),
        group_id=request.group_id.strip(),
        extras=tuple(
            ExtraInput(
                name=e.name,
                file_name=e.file_name.strip(),
                data=e.data,
                template_id=e.template_id.strip(),
                fill_data=_plain(e.fill_data) if e.HasField("fill_data") else None,
            )
            for e in request.extra_documents
        ),
        amount=request.amount.strip(),
    )


def contract_filter(request: pb.ListContractsRequest) -> ContractFilter:
    signer = None
    if request.HasField("signer") and (request.signer.id_type or request.signer.id):
        signer = SubjectRef(request.signer.id_type.strip(), request.signer.id.strip())
    status = None
    if request.status:
        if request.status not in pb.Contract.Status.values():
            raise invalid("status", "must be SIGNING, COMPLETED, REJECTED, EXPIRED or REVOKED")
        status = ContractStatus(pb.Contract.Status.Name(request.status))
    return ContractFilter(
        status=status,
        signer=signer,
        template_id=request.template_id.strip(),
        group_id=request.group_id.strip(),
        biz_no=request.biz_no.strip(),
        created_from=when(request, "create_time_start"),
        created_before=when(request, "create_time_end"),
    )


def appearance(request) -> Appearance:
    which = request.WhichOneof("appearance")
    if which == "seal_id":
        return Appearance(seal_id=request.seal_id)
    if which == "handwriting_image":
        return Appearance(handwriting=request.handwriting_image)
    return Appearance()


def evidence(message: common_pb2.ClientEvidence) -> ClientEvidence:
    return ClientEvidence(message.ip, message.user_agent, message.device_id, message.checkbox_text, message.page_url)


# --- out ----------------------------------------------------------------------------


def signer_message(signer: Signer) -> pb.Signer:
    return pb.Signer(
        signer_id=signer.signer_id,
        role=signer.role,
        kind=common_pb2.SignerKind.Value(signer.kind.value),
        name=signer.name,
        subject=common_pb2.SubjectRef(id_type=signer.subject.id_type, id=signer.subject.id),
        mobile=signer.mobile,
        email=signer.email,
        sign_mode=pb.Signer.SignMode.Value(signer.sign_mode.value),
        order=signer.order,
        status=pb.Signer.Status.Value(signer.status.value),
        action_time=timestamp(signer.action_at),
        reject_reason=signer.reject_reason,
        subject_id=signer.subject_id,
    )


def document_message(document: Document) -> pb.Document:
    return pb.Document(
        document_id=document.document_id,
        name=document.name,
        kind=pb.Document.Kind.Value(document.kind.value),
        sha256=document.sha256,
        pages=document.pages,
        revision=document.revision,
    )


def contract_message(contract: Contract) -> pb.Contract:
    return pb.Contract(
        contract_id=contract.contract_id,
        title=contract.title,
        biz_no=contract.biz_no,
        status=pb.Contract.Status.Value(contract.status.value),
        template_id=contract.template_id,
        template_version=contract.template_version,
        group_id=contract.group_id,
        documents=[document_message(d) for d in contract.documents],
        signers=[signer_message(s) for s in contract.signers],
        data=_struct(contract.data) if contract.data else None,
        amount=contract.amount,
        expire_time=timestamp(contract.expire_at),
        create_time=timestamp(contract.created_at),
        update_time=timestamp(contract.updated_at),
        finish_time=timestamp(contract.finished_at),
        status_reason=contract.status_reason,
    )


def mirrored(contract: Contract, response_type):
    """A response whose fields mirror ``Contract`` (same names and numbers), filled from it."""
    response = response_type()
    response.MergeFromString(contract_message(contract).SerializeToString())
    return response


def event_message(event: Event) -> pb.ContractEvent:
    details = struct_pb2.Struct()
    details.update(event.details)
    return pb.ContractEvent(
        seq=event.seq,
        type=event.type,
        actor=event.actor,
        time=timestamp(event.time),
        ip=event.ip,
        user_agent=event.user_agent,
        trace_id=event.trace_id,
        prev_hash=event.prev_hash,
        hash=event.hash,
        details=details,
        signer_id=event.signer_id,
    )


def signing_context_message(context: SigningContext) -> pb.GetSigningContextResponse:
    return pb.GetSigningContextResponse(
        signer=signer_message(context.signer),
        app_id=context.app_id,
        contracts=[
            pb.SigningContextContract(
                contract_id=c.contract_id,
                title=c.title,
                status=pb.Contract.Status.Value(c.status.value),
                document_sha256=list(c.document_sha256),
                amount=c.amount,
                signer_status=pb.Signer.Status.Value(c.signer_status.value),
                signer_turn=c.signer_turn,
            )
            for c in context.contracts
        ],
        consent_time=timestamp(context.consented_at),
    )


def delivery_message(state: DeliveryState) -> pb.WebhookDelivery:
    return pb.WebhookDelivery(
        event_id=state.event_id,
        type=state.type,
        contract_id=state.contract_id,
        attempt_count=state.attempts,
        last_status_code=state.last_status_code,
        last_error=state.last_error,
        state=pb.WebhookDelivery.State.Value("STATE_" + state.status),
        next_attempt_time=timestamp(state.next_attempt_at),
        create_time=timestamp(state.created_at),
        last_attempt_time=timestamp(state.last_attempt_at),
        finish_time=timestamp(state.finished_at),
    )
