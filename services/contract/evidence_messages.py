"""Protobuf ↔ domain for the signing-grant and evidence-log RPCs."""
from __future__ import annotations

from econtract.common.v1 import common_pb2
from econtract.contract.v1 import contract_pb2 as pb
from services.contract.delegation import Grant, GrantInput
from services.contract.messages import timestamp, when
from services.contract.model import SubjectRef
from services.contract.tree_heads import TreeHead
from services.contract.times import as_utc


def grant_input(request: pb.CreateSigningGrantRequest) -> GrantInput:
    grant = request.grant
    return GrantInput(
        organisation_name=grant.organisation_name.strip(),
        organisation=SubjectRef(grant.organisation.id_type.strip(), grant.organisation.id.strip()),
        template_ids=tuple(t.strip() for t in grant.template_ids),
        amount_limit=grant.amount_limit.strip(),
        start=when(grant, "start_time"),
        end=when(grant, "end_time"),
        seal_id=grant.seal_id.strip(),
    )


def grant_message(grant: Grant) -> pb.SigningGrant:
    return pb.SigningGrant(
        grant_id=grant.grant_id,
        organisation_name=grant.organisation_name,
        organisation=common_pb2.SubjectRef(id_type=grant.organisation.id_type, id=grant.organisation.id),
        template_ids=list(grant.template_ids),
        amount_limit=grant.amount_limit,
        start_time=timestamp(grant.valid_from),
        end_time=timestamp(grant.valid_until),
        seal_id=grant.seal_id,
        status=pb.SigningGrant.Status.Value(grant.status),
        subject_id=grant.subject_id,
        create_time=timestamp(grant.created_at),
        revoke_time=timestamp(grant.revoked_at),
        revoke_reason=grant.revoke_reason,
        sha256=grant.sha256,
        use_count=grant.use_count,
    )


def tree_head_message(head: TreeHead) -> pb.EvidenceTreeHead:
    from services.contract.evidence_formats import parse_tree_head

    signed = parse_tree_head(head.head_json)
    return pb.EvidenceTreeHead(
        tree_size=head.tree_size, root_hash=head.root_hash, timestamp=timestamp(as_utc(head.issued_at)),
        log_id=signed.log_id, tree_head_json=head.head_json, timestamp_token=head.timestamp_token,
    )
