"""The claims of a consumed intent token, and the checks a signing makes against them.

Identity issues the token and the contract service consumes it (one use); what reaches
signing is the claims. Signing still checks them, because they are what makes the
signature the signer's: the claims must name the contract being signed, the exact
document bytes (their SHA-256 as recorded when the signer confirmed), the same signer,
and must not have expired. Each refusal says which of these failed.

Claims of method DELEGATION come from the contract service, an organisation's signing
grant standing in for a person's confirmation; they are taken only where the caller says
a grant may sign (the platform's own signature for an organisation), and must name it.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass

from core.errors import FailedPrecondition, PermissionDenied, invalid


@dataclass(frozen=True)
class IntentClaims:
    token_id: str
    app_id: str
    signer_id: str
    subject_id: str
    contract_ids: tuple[str, ...]
    document_hashes: Mapping[str, tuple[str, ...]]
    method: str
    expire_time: dt.datetime | None
    issue_time: dt.datetime | None = None
    challenge_id: str = ""
    recipient: str = ""
    face_reference: str = ""

    def to_json(self) -> dict[str, object]:
        def when(value: dt.datetime | None) -> str | None:
            return value.astimezone(dt.timezone.utc).isoformat() if value is not None else None

        return {
            "tokenId": self.token_id, "challengeId": self.challenge_id, "appId": self.app_id,
            "signerId": self.signer_id, "subjectId": self.subject_id, "contractIds": list(self.contract_ids),
            "documentHashes": {k: list(v) for k, v in self.document_hashes.items()},
            "method": self.method, "recipient": self.recipient, "faceReference": self.face_reference,
            "issueTime": when(self.issue_time), "expireTime": when(self.expire_time),
        }

    def digest(self) -> str:
        canonical = json.dumps(self.to_json(), ensure_ascii=False, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


DELEGATION = "DELEGATION"


def check_intent(claims: IntentClaims | None, *, contract_id: str, document_sha256: str,
                 signer_id: str = "", subject_id: str = "", now: dt.datetime | None = None,
                 delegable: bool = False) -> IntentClaims:
    """The claims, if they allow signing ``document_sha256`` of ``contract_id`` now; else the refusal.

    ``delegable``: whether an organisation's signing grant (method DELEGATION) may stand in here.
    """
    if not contract_id:
        raise invalid("contractId", "is required to check the signer's intent")
    if claims is None or not claims.token_id:
        raise PermissionDenied("signing needs the claims of a consumed intent token, and none were given")
    if contract_id not in claims.contract_ids:
        raise PermissionDenied(f"the intent token {claims.token_id} does not cover contract {contract_id}")
    if signer_id and claims.signer_id and claims.signer_id != signer_id:
        raise PermissionDenied(f"the intent token {claims.token_id} was confirmed by another signer")
    if subject_id and claims.subject_id and claims.subject_id != subject_id:
        raise PermissionDenied(f"the intent token {claims.token_id} was confirmed for another subject")
    if claims.method == DELEGATION:
        if not delegable:
            raise PermissionDenied(
                f"the intent {claims.token_id} is a signing grant, which signs only an organisation's cloud signature")
        if not claims.challenge_id or claims.token_id != f"grant:{claims.challenge_id}:{claims.signer_id}":
            raise PermissionDenied(f"the delegated intent {claims.token_id} does not name its signing grant")
    now = now or dt.datetime.now(dt.timezone.utc)
    if claims.expire_time is None or claims.expire_time <= now:
        expired = claims.expire_time.isoformat() if claims.expire_time else "an unknown time"
        raise FailedPrecondition(
            f"the intent token {claims.token_id} expired at {expired}: the signer must confirm again")
    if document_sha256.lower() not in {h.lower() for h in claims.document_hashes.get(contract_id, ())}:
        raise FailedPrecondition(
            f"the document's SHA-256 {document_sha256} is not one the signer confirmed for contract "
            f"{contract_id}: the document changed after the intent was confirmed")
    return claims
