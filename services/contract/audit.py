"""The hash-chained audit trail of a contract.

Each event's hash is SHA-256 over the previous event's hash (64 zeros for the first)
followed by the event's canonical JSON (see ``canonical``; documented for outside
verifiers on ``ContractEvent`` in contract.proto). Changing, removing or reordering any
event breaks its own hash or the next one's ``prev_hash``, which ``verify`` finds.

Appends lock the contract row (``UPDATE … SET event_seq = event_seq + 1 … RETURNING``),
so concurrent appends queue up and the chain never forks; the lock lasts only until the
caller's transaction commits.
"""
from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from core.errors import NotFound
from core.tracing import current_trace_id
from services.contract.model import Actor
from services.contract.store import ContractRow, EventRow
from services.contract.times import as_utc, rfc3339, utcnow

GENESIS = "0" * 64


@dataclass(frozen=True)
class Event:
    contract_id: str
    seq: int
    type: str
    actor: str
    time: datetime
    ip: str
    user_agent: str
    trace_id: str
    signer_id: str
    details: dict[str, Any]
    prev_hash: str
    hash: str


@dataclass(frozen=True)
class ChainCheck:
    ok: bool
    checked: int
    broken_at: int | None = None  # seq of the first event that does not verify
    reason: str = ""


def plain_details(value: Any) -> Any:
    """Details as strings (in lists and objects), so every verifier renders them alike:
    a JSON number could come back as 1 or 1.0 depending on the client."""
    if isinstance(value, Mapping):
        return {str(k): plain_details(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain_details(v) for v in value]
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def canonical(event: Event) -> bytes:
    body = {
        "actor": event.actor,
        "contractId": event.contract_id,
        "details": event.details,
        "ip": event.ip,
        "seq": event.seq,
        "signerId": event.signer_id,
        "time": rfc3339(event.time),
        "traceId": event.trace_id,
        "type": event.type,
        "userAgent": event.user_agent,
    }
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def event_hash(prev_hash: str, event: Event) -> str:
    return hashlib.sha256(prev_hash.encode("ascii") + canonical(event)).hexdigest()


def append(
    session: Session,
    contract_id: str,
    type: str,
    actor: Actor,
    *,
    signer_id: str = "",
    details: Mapping[str, Any] | None = None,
    now: datetime | None = None,
) -> Event:
    """Add an event inside the caller's transaction (it commits with the state change)."""
    head = session.execute(
        sa.update(ContractRow)
        .where(ContractRow.contract_id == contract_id)
        .values(event_seq=ContractRow.event_seq + 1)
        .returning(ContractRow.event_seq, ContractRow.last_event_hash)
        .execution_options(synchronize_session=False)
    ).one_or_none()
    if head is None:
        raise NotFound(f"contract {contract_id} not found")
    seq, prev_hash = head
    draft = Event(
        contract_id=contract_id,
        seq=seq,
        type=type,
        actor=actor.name,
        time=as_utc(now or utcnow()),
        ip=actor.ip[:64],
        user_agent=actor.user_agent[:512],
        trace_id=current_trace_id(),
        signer_id=signer_id,
        details=plain_details(dict(details or {})),
        prev_hash=prev_hash,
        hash="",
    )
    event = replace(draft, hash=event_hash(prev_hash, draft))
    session.add(
        EventRow(
            contract_id=contract_id,
            seq=seq,
            type=event.type,
            actor=event.actor,
            signer_id=event.signer_id,
            occurred_at=event.time,
            ip=event.ip,
            user_agent=event.user_agent,
            trace_id=event.trace_id,
            details_json=json.dumps(event.details, ensure_ascii=False, sort_keys=True),
            prev_hash=prev_hash,
            hash=event.hash,
        )
    )
    session.execute(
        sa.update(ContractRow)
        .where(ContractRow.contract_id == contract_id)
        .values(last_event_hash=event.hash)
        .execution_options(synchronize_session=False)
    )
    return event


def event_from_row(row: EventRow) -> Event:
    return Event(
        contract_id=row.contract_id,
        seq=row.seq,
        type=row.type,
        actor=row.actor,
        time=as_utc(row.occurred_at),
        ip=row.ip,
        user_agent=row.user_agent,
        trace_id=row.trace_id,
        signer_id=row.signer_id,
        details=json.loads(row.details_json),
        prev_hash=row.prev_hash,
        hash=row.hash,
    )


def load(session: Session, contract_id: str, *, after_seq: int = 0, limit: int | None = None) -> list[Event]:
    query = (
        sa.select(EventRow)
        .where(EventRow.contract_id == contract_id, EventRow.seq > after_seq)
        .order_by(EventRow.seq)
    )
    if limit is not None:
        query = query.limit(limit)
    return [event_from_row(row) for row in session.scalars(query)]


def verify(events: Sequence[Event]) -> ChainCheck:
    """Recompute a whole chain (oldest first, from seq 1)."""
    prev = GENESIS
    for expected_seq, event in enumerate(events, start=1):
        if event.seq != expected_seq:
            return ChainCheck(False, expected_seq - 1, event.seq, f"event {expected_seq} is missing")
        if event.prev_hash != prev:
            return ChainCheck(False, expected_seq - 1, event.seq, f"event {event.seq} does not follow event {event.seq - 1}")
        if event_hash(prev, event) != event.hash:
            return ChainCheck(False, expected_seq - 1, event.seq, f"event {event.seq} was changed after it was recorded")
        prev = event.hash
    return ChainCheck(True, len(events))


def verify_stored(session: Session, contract_id: str) -> ChainCheck:
    """Recompute the stored chain and check that it ends at the contract's recorded head."""
    events = load(session, contract_id)
    check = verify(events)
    if not check.ok:
        return check
    head = session.execute(
        sa.select(ContractRow.event_seq, ContractRow.last_event_hash).where(ContractRow.contract_id == contract_id)
    ).one_or_none()
    if head is None:
        raise NotFound(f"contract {contract_id} not found")
    last = events[-1].hash if events else GENESIS
    if head.event_seq != len(events) or head.last_event_hash != last:
        return ChainCheck(False, len(events), len(events), "the newest events were removed")
    return check
