"""The signing state machine and the signing-order rules, as pure functions.

A contract is SIGNING until every signer signed (COMPLETED), a signer declined
(REJECTED), its expiry passed (EXPIRED) or its business line revoked it (REVOKED); the
last four are final. Signers with the same order sign in parallel; a signer may sign
only when every signer of a lower order has signed.
"""
from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from core.errors import FailedPrecondition
from services.contract.model import Contract, ContractStatus, Signer, SignerStatus, SignMode
from services.contract.times import as_utc, rfc3339


def is_overdue(contract: Contract, now: datetime) -> bool:
    """Still SIGNING although its expiry passed (the sweeper has not caught it yet)."""
    return (
        contract.status is ContractStatus.SIGNING
        and contract.expire_at is not None
        and as_utc(contract.expire_at) <= now
    )


def ensure_open(contract: Contract) -> None:
    if contract.status is not ContractStatus.SIGNING:
        reason = f" ({contract.status_reason})" if contract.status_reason else ""
        raise FailedPrecondition(
            f"contract {contract.contract_id} is {contract.status.value}{reason}; only a SIGNING contract can change"
        )


def waiting_for(signers: Sequence[Signer], signer: Signer) -> list[Signer]:
    """The signers of a lower order who have not signed yet: ``signer`` waits for them."""
    return [s for s in signers if s.order < signer.order and s.status is not SignerStatus.SIGNED]


def is_turn(signers: Sequence[Signer], signer: Signer) -> bool:
    return signer.status is SignerStatus.PENDING and not waiting_for(signers, signer)


def _ensure_pending(contract: Contract, signer: Signer) -> None:
    if signer.status is SignerStatus.SIGNED:
        raise FailedPrecondition(f"signer {signer.signer_id} has already signed contract {contract.contract_id}")
    if signer.status is SignerStatus.REJECTED:
        raise FailedPrecondition(f"signer {signer.signer_id} has declined contract {contract.contract_id}")


def ensure_can_sign(contract: Contract, signer: Signer, mode: SignMode) -> None:
    """Refuse a closed contract, a second signature, the wrong mode and out-of-turn signing."""
    ensure_open(contract)
    _ensure_pending(contract, signer)
    if signer.sign_mode is not mode:
        how = ":agree (checkbox agreement)" if signer.sign_mode is SignMode.AGREEMENT else ":sign (digital signature)"
        raise FailedPrecondition(f"signer {signer.signer_id} signs in {signer.sign_mode.value} mode; use {how}")
    earlier = waiting_for(contract.signers, signer)
    if earlier:
        first = min(s.order for s in earlier)
        roles = ", ".join(sorted({s.role for s in earlier if s.order == first}))
        raise FailedPrecondition(
            f"it is not signer {signer.signer_id}'s turn on contract {contract.contract_id}: "
            f"the signers of order {first} ({roles}) must sign first"
        )


def ensure_can_reject(contract: Contract, signer: Signer) -> None:
    """A pending signer may decline at any time while the contract is open, turn or not."""
    ensure_open(contract)
    _ensure_pending(contract, signer)


def status_after_signature(contract: Contract, signer_id: str) -> ContractStatus:
    """COMPLETED when ``signer_id`` is the last one to sign, else still SIGNING."""
    others = [s for s in contract.signers if s.signer_id != signer_id]
    if all(s.status is SignerStatus.SIGNED for s in others):
        return ContractStatus.COMPLETED
    return ContractStatus.SIGNING


def expiry_message(contract: Contract) -> str:
    assert contract.expire_at is not None
    return f"contract {contract.contract_id} expired at {rfc3339(contract.expire_at)}"
