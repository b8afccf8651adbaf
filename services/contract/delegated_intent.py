"""The intent claims a signing grant stands in for, in the form the signing service takes.

A delegated signature has no person confirming a code; the organisation's grant is the
intent, so its method is DELEGATION, which identity never issues and signing accepts
only for an organisation's cloud signature. The claims name the grant (token id
``grant:<grantId>:<signerId>``, challenge id the grant id), so the signing service's
evidence record cites it, and they are bound to the exact documents being signed, as
any intent is. The token id is the same on every attempt, so a retried signing returns
the signature already made instead of a second.

The outgoing half of the RPC layer: protobuf is built only here.
"""
from __future__ import annotations

from datetime import datetime, timedelta

from services.contract.identity_client import IntentClaims
from services.contract.model import Contract, Signer

DELEGATION = "DELEGATION"
_VALID = timedelta(minutes=10)


def grant_claims(grant_id: str, contract: Contract, signer: Signer, now: datetime) -> IntentClaims:
    from econtract.common.v1 import common_pb2

    token_id = f"grant:{grant_id}:{signer.signer_id}"
    message = common_pb2.IntentClaims(
        token_id=token_id, challenge_id=grant_id, app_id=contract.app_id, signer_id=signer.signer_id,
        subject_id=signer.subject_id, contract_ids=[contract.contract_id],
        method=common_pb2.DELEGATION,
    )
    message.document_hashes[contract.contract_id].sha256.extend(contract.document_hashes)
    message.issue_time.FromDatetime(now)
    message.expire_time.FromDatetime(now + _VALID)
    return IntentClaims(token_id=token_id, challenge_id=grant_id, signer_id=signer.signer_id,
                        subject_id=signer.subject_id, method=DELEGATION, recipient="",
                        raw=message.SerializeToString())
