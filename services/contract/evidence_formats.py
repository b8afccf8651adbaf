"""The exact bytes of the evidence log and of an evidence bundle, shared by the platform
that writes them and the offline verifier that reads them.

Every JSON part is canonical (keys sorted, no whitespace, UTF-8, non-ASCII as is), so
that its bytes follow from its content alone: a verifier re-encodes what it parsed and
refuses a file whose bytes differ, and hashes are taken over these very bytes.

Leaf (version 1)::

    {"auditTrail": {"head": <hex>, "seq": <n>}, "certificateSha256": <hex>,
     "completedAt": <RFC 3339>, "contractId": "ct_…",
     "documents": [{"documentId": "…", "sha256": <hex>}, …], "version": 1}

Signed tree head (version 1)::

    {"logId": "…", "rootHash": <hex>, "timestamp": <RFC 3339>, "treeSize": <n>, "version": 1}
"""
from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from services.contract.audit import Event
from services.contract.times import rfc3339

VERSION = 1

AUDIT_TRAIL = "audit-trail.json"
LEAF = "evidence-log/leaf.json"
INCLUSION_PROOF = "evidence-log/inclusion-proof.json"
TREE_HEAD = "evidence-log/tree-head.json"
TREE_HEAD_TOKEN = "evidence-log/tree-head.tst"
TSA_CHAIN = "trust/tsa-chain.pem"
ROOT_CA = "trust/root-ca.pem"
CERTIFICATE = "certificate-of-completion.pdf"
FIXED_PARTS = (AUDIT_TRAIL, LEAF, INCLUSION_PROOF, TREE_HEAD, TREE_HEAD_TOKEN, TSA_CHAIN, ROOT_CA, CERTIFICATE)


def document_part(document_id: str) -> str:
    return f"documents/{document_id}.pdf"


def canonical_json(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


@dataclass(frozen=True)
class LeafDocument:
    document_id: str
    sha256: str


@dataclass(frozen=True)
class LeafData:
    contract_id: str
    completed_at: str
    documents: tuple[LeafDocument, ...]
    audit_seq: int
    audit_head: str
    certificate_sha256: str


def leaf_bytes(leaf: LeafData) -> bytes:
    return canonical_json({
        "version": VERSION,
        "contractId": leaf.contract_id,
        "completedAt": leaf.completed_at,
        "documents": [{"documentId": d.document_id, "sha256": d.sha256} for d in leaf.documents],
        "auditTrail": {"seq": leaf.audit_seq, "head": leaf.audit_head},
        "certificateSha256": leaf.certificate_sha256,
    })


def parse_leaf(data: bytes) -> LeafData:
    """The leaf in ``data``; ValueError naming what is wrong."""
    value = _canonical_object(data, "the log leaf")
    try:
        if value["version"] != VERSION:
            raise ValueError(f"the log leaf has version {value['version']!r}, not {VERSION}")
        return LeafData(
            contract_id=_text(value["contractId"]),
            completed_at=_text(value["completedAt"]),
            documents=tuple(LeafDocument(_text(d["documentId"]), _hex(d["sha256"])) for d in value["documents"]),
            audit_seq=_count(value["auditTrail"]["seq"]),
            audit_head=_hex(value["auditTrail"]["head"]),
            certificate_sha256=_hex(value["certificateSha256"]),
        )
    except (KeyError, TypeError) as exc:
        raise ValueError(f"the log leaf lacks or mistypes {exc}") from None


@dataclass(frozen=True)
class TreeHeadData:
    log_id: str
    tree_size: int
    root_hash: str
    timestamp: str


def tree_head_bytes(log_id: str, tree_size: int, root_hash: str, timestamp: datetime) -> bytes:
    return canonical_json({"version": VERSION, "logId": log_id, "treeSize": tree_size, "rootHash": root_hash,
                           "timestamp": rfc3339(timestamp)})


def parse_tree_head(data: bytes) -> TreeHeadData:
    value = _canonical_object(data, "the signed tree head")
    try:
        if value["version"] != VERSION:
            raise ValueError(f"the signed tree head has version {value['version']!r}, not {VERSION}")
        return TreeHeadData(_text(value["logId"]), _count(value["treeSize"]), _hex(value["rootHash"]),
                            _text(value["timestamp"]))
    except (KeyError, TypeError) as exc:
        raise ValueError(f"the signed tree head lacks or mistypes {exc}") from None


@dataclass(frozen=True)
class InclusionData:
    leaf_index: int
    tree_size: int
    leaf_hash: str
    audit_path: tuple[str, ...]


def inclusion_bytes(proof: InclusionData) -> bytes:
    return canonical_json({"leafIndex": proof.leaf_index, "treeSize": proof.tree_size, "leafHash": proof.leaf_hash,
                           "auditPath": list(proof.audit_path)})


def parse_inclusion(data: bytes) -> InclusionData:
    value = _canonical_object(data, "the inclusion proof")
    try:
        return InclusionData(_count(value["leafIndex"]), _count(value["treeSize"]), _hex(value["leafHash"]),
                             tuple(_hex(h) for h in value["auditPath"]))
    except (KeyError, TypeError) as exc:
        raise ValueError(f"the inclusion proof lacks or mistypes {exc}") from None


def event_json(event: Event) -> dict[str, Any]:
    return {
        "seq": event.seq, "type": event.type, "actor": event.actor, "time": rfc3339(event.time), "ip": event.ip,
        "userAgent": event.user_agent, "traceId": event.trace_id, "signerId": event.signer_id,
        "details": event.details, "prevHash": event.prev_hash, "hash": event.hash, "contractId": event.contract_id,
    }


def audit_trail_bytes(events: Sequence[Event]) -> bytes:
    return canonical_json({"version": VERSION, "events": [event_json(e) for e in events]})


def parse_audit_trail(data: bytes) -> list[Event]:
    value = _canonical_object(data, "the audit trail")
    try:
        return [
            Event(contract_id=_text(e["contractId"]), seq=_count(e["seq"]), type=_text(e["type"]),
                  actor=_text(e["actor"]), time=datetime.fromisoformat(_text(e["time"]).replace("Z", "+00:00")),
                  ip=_text(e["ip"]), user_agent=_text(e["userAgent"]), trace_id=_text(e["traceId"]),
                  signer_id=_text(e["signerId"]), details=dict(e["details"]), prev_hash=_text(e["prevHash"]),
                  hash=_text(e["hash"]))
            for e in value["events"]
        ]
    except (KeyError, TypeError) as exc:
        raise ValueError(f"an event of the audit trail lacks or mistypes {exc}") from None


def _canonical_object(data: bytes, what: str) -> dict[str, Any]:
    try:
        value = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise ValueError(f"{what} is not JSON ({exc})") from None
    if not isinstance(value, dict):
        raise ValueError(f"{what} is not a JSON object")
    if canonical_json(value) != data:
        raise ValueError(f"{what} is not in the canonical form the platform writes (its bytes were changed)")
    return value


def _text(value: Any) -> str:
    if not isinstance(value, str):
        raise TypeError(repr(value))
    return value


def _count(value: Any) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise TypeError(repr(value))
    return value


def _hex(value: Any) -> str:
    text = _text(value)
    if len(text) != 64 or any(c not in "0123456789abcdef" for c in text):
        raise TypeError(f"{text!r} (not a lowercase hex SHA-256)")
    return text
