"""The evidence bundle of a completed contract: one ZIP that stands on its own.

| part | what | committed by |
|---|---|---|
| ``documents/<documentId>.pdf`` | each signed document, final revision | its SHA-256 in the log leaf |
| ``certificate-of-completion.pdf`` | signers, methods, times, hashes (Chinese) | its SHA-256 in the log leaf |
| ``audit-trail.json`` | the audit events up to the logged head | the hash chain, ending at the leaf's head |
| ``evidence-log/leaf.json`` | the contract's log leaf | the inclusion proof |
| ``evidence-log/inclusion-proof.json`` | leaf index, tree size, audit path | the signed tree head's root |
| ``evidence-log/tree-head.json`` | the signed tree head | the timestamp token's imprint |
| ``evidence-log/tree-head.tst`` | RFC 3161 token of the platform TSA | the TSA certificate |
| ``trust/tsa-chain.pem``, ``trust/root-ca.pem`` | TSA certificate, issuing CA, root CA | the root (pin it with ``--trust-root``) |

Every byte of every part is covered by a check of ``econtract evidence verify``
(evidence_verify.py), which needs nothing but the ZIP. Entries carry a fixed date, so
the same evidence gives the same ZIP.
"""
from __future__ import annotations

import hashlib
import io
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import sessionmaker

from core.blobs import BlobStore
from core.errors import FailedPrecondition
from services.contract import audit, records
from services.contract import evidence_formats as formats
from services.contract.evidence_log import EvidenceLog, Leaf
from services.contract.model import Actor, ContractStatus
from services.contract.tree_heads import TreeHead, TreeHeads
from services.contract.times import utcnow

ZIP = "application/zip"
_ENTRY_DATE = (2000, 1, 1, 0, 0, 0)


@dataclass(frozen=True)
class Bundle:
    contract_id: str
    data: bytes
    file_name: str
    sha256: str


@dataclass(frozen=True)
class Inclusion:
    leaf: Leaf
    audit_path: list[bytes]
    tree_head: TreeHead


class EvidenceBundles:
    def __init__(self, sessions: sessionmaker, blobs: BlobStore, log: EvidenceLog, heads: TreeHeads, *,
                 clock: Callable[[], datetime] = utcnow):
        self._sessions = sessions
        self._blobs = blobs
        self._log = log
        self._heads = heads
        self._clock = clock

    def inclusion(self, app_id: str, contract_id: str, tree_size: int = 0) -> Inclusion:
        """The contract's leaf and its audit path to a signed tree head (the newest for 0),
        logging the contract and signing a tree head first when that has not happened yet."""
        with self._sessions() as session:
            contract = records.load_owned(session, app_id, contract_id)
        if contract.status is not ContractStatus.COMPLETED:
            raise FailedPrecondition(f"contract {contract_id} is {contract.status.value}; only a COMPLETED contract "
                                     "has evidence in the log")
        if contract.lta_pending:
            raise FailedPrecondition(f"contract {contract_id} is still being timestamped; try again in a few seconds")
        leaf = self._log.append(contract_id)
        head = self._heads.at(tree_size) if tree_size else self._heads.covering(leaf.index)
        return Inclusion(leaf, self._log.inclusion_proof(leaf, head.tree_size), head)

    def build(self, app_id: str, contract_id: str, actor: Actor) -> Bundle:
        proof = self.inclusion(app_id, contract_id)
        leaf = formats.parse_leaf(proof.leaf.data)
        with self._sessions.begin() as session:
            # Only the logged prefix: every event in the bundle is then anchored in the log.
            events = audit.load(session, contract_id, limit=leaf.audit_seq)
            audit.append(session, contract_id, "evidence.downloaded", actor,
                         details={"leafIndex": proof.leaf.index, "treeSize": proof.tree_head.tree_size},
                         now=self._clock())
        parts: dict[str, bytes] = {
            formats.document_part(d.document_id): self._blobs.get("sha256:" + d.sha256) for d in leaf.documents
        }
        parts.update({
            formats.CERTIFICATE: self._blobs.get(proof.leaf.certificate_ref),
            formats.AUDIT_TRAIL: formats.audit_trail_bytes(events),
            formats.LEAF: proof.leaf.data,
            formats.INCLUSION_PROOF: formats.inclusion_bytes(formats.InclusionData(
                proof.leaf.index, proof.tree_head.tree_size, proof.leaf.hash,
                tuple(h.hex() for h in proof.audit_path))),
            formats.TREE_HEAD: proof.tree_head.head_json,
            formats.TREE_HEAD_TOKEN: proof.tree_head.timestamp_token,
            formats.TSA_CHAIN: proof.tree_head.tsa_chain_pem,
            formats.ROOT_CA: proof.tree_head.root_pem,
        })
        out = io.BytesIO()
        with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
            for name in sorted(parts):
                archive.writestr(zipfile.ZipInfo(name, _ENTRY_DATE), parts[name], zipfile.ZIP_DEFLATED)
        data = out.getvalue()
        return Bundle(contract_id, data, f"{contract_id}-evidence.zip", hashlib.sha256(data).hexdigest())
