"""Contracts: search, detail with each signer's status and the audit trail, download, revoke."""
from __future__ import annotations

from urllib.parse import quote

from starlette.responses import Response

from econtract.common.v1 import common_pb2
from econtract.contract.v1 import contract_pb2 as pb
from gateway.console.display import as_json, enum_name
from gateway.console.forms import day_start
from gateway.console.pipeline import PREFIX, Ctx

STATUSES = ("SIGNING", "COMPLETED", "REJECTED", "EXPIRED", "REVOKED")
EVENTS_PAGE = 100


def _contract_id(ctx: Ctx) -> str:
    return ctx.request.path_params["contract_id"]


async def list_contracts(ctx: Ctx) -> Response:
    zone = ctx.parts.zone
    request = pb.ListContractsRequest(
        biz_no=ctx.query("biz_no"), template_id=ctx.query("template_id"), group_id=ctx.query("group_id"),
        page_size=20, page_token=ctx.query("page"),
    )
    if ctx.query("status") in STATUSES:
        request.status = pb.Contract.Status.Value(ctx.query("status"))
    if ctx.query("signer_id"):
        request.signer.CopyFrom(common_pb2.SubjectRef(id_type=ctx.query("signer_type"), id=ctx.query("signer_id")))
    start = day_start(ctx.query("from"), zone, "from")
    end = day_start(ctx.query("to"), zone, "to", next_day=True)
    if start is not None:
        request.create_time_start.CopyFrom(start)
    if end is not None:
        request.create_time_end.CopyFrom(end)
    reply = await ctx.rpc.call("contract", "ListContracts", request)
    return ctx.render("contracts.html", contracts=reply.contracts, next_page=reply.next_page_token,
                      statuses=STATUSES, id_types=ctx.parts.config.id_types, enum_name=enum_name)


async def show_contract(ctx: Ctx) -> Response:
    contract_id = _contract_id(ctx)
    contract = await ctx.rpc.call("contract", "GetContract", pb.GetContractRequest(contract_id=contract_id))
    events = await ctx.rpc.call(
        "contract", "ListContractEvents",
        pb.ListContractEventsRequest(contract_id=contract_id, page_size=EVENTS_PAGE, page_token=ctx.query("events")),
    )
    who = await ctx.labels({e.actor for e in events.events})
    return ctx.render("contract.html", contract=contract, events=events, who=who, enum_name=enum_name,
                      as_json=as_json, open=contract.status == pb.Contract.SIGNING)


async def download_document(ctx: Ctx) -> Response:
    reply = await ctx.rpc.call(
        "contract", "GetContractDocument",
        pb.GetContractDocumentRequest(contract_id=_contract_id(ctx), document_id=ctx.query("document")),
    )
    name = reply.file_name or f"{reply.contract_id}.pdf"
    return Response(
        reply.data,
        media_type=reply.content_type or "application/pdf",
        headers={"Content-Disposition": f"attachment; filename=\"{reply.contract_id}.pdf\"; "
                                        f"filename*=UTF-8''{quote(name)}"},
    )


async def revoke_contract(ctx: Ctx) -> Response:
    reply = await ctx.rpc.call(
        "contract", "RevokeContract",
        pb.RevokeContractRequest(contract_id=_contract_id(ctx), reason=ctx.text("reason")), read=False,
    )
    return ctx.done(f"{PREFIX}/contracts/{quote(reply.contract_id)}", "contracts.revoked")
