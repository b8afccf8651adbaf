"""What intent verification needs about a signer and the contracts to sign together
(``GetSigningContext``, called by identity's CreateIntent and the signing pages).

The signer id names one signer of one contract; for combined signing it also names the
same person (same subject) on the business line's other contracts. Contracts the signer
is not on answer NOT_FOUND, closed ones FAILED_PRECONDITION; whether it is the signer's
turn and whether they signed already is reported for identity to judge.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import sessionmaker

from core.errors import FailedPrecondition, FieldViolation, InvalidArgument, NotFound
from services.contract import consents, records, states
from services.contract.model import ContractStatus, Signer, SignerStatus
from services.contract.times import utcnow

MAX_CONTRACTS = 50


@dataclass(frozen=True)
class ContractForSigning:
    contract_id: str
    title: str
    status: ContractStatus
    document_sha256: tuple[str, ...]
    amount: str
    signer_status: SignerStatus
    signer_turn: bool


@dataclass(frozen=True)
class SigningContext:
    signer: Signer
    app_id: str
    contracts: tuple[ContractForSigning, ...]
    consented_at: datetime | None = None  # when the signer's subject first consented to cloud signing


class SigningContexts:
    def __init__(self, sessions: sessionmaker, *, clock: Callable[[], datetime] = utcnow):
        self._sessions = sessions
        self._clock = clock

    def get(self, signer_id: str, contract_ids: Sequence[str]) -> SigningContext:
        bad = []
        if not signer_id:
            bad.append(FieldViolation("signerId", "is required"))
        if not contract_ids or len(contract_ids) > MAX_CONTRACTS or len(set(contract_ids)) != len(contract_ids):
            bad.append(FieldViolation("contractIds", f"1 to {MAX_CONTRACTS} distinct contract ids are required"))
        if bad:
            raise InvalidArgument("; ".join(f"{v.field}: {v.description}" for v in bad), bad)
        now = self._clock()
        with self._sessions() as session:
            row = records.signer_row(session, signer_id)
            if row is None:
                raise NotFound(f"signer {signer_id} not found")
            home = records.find(session, row.contract_id)
            assert home is not None
            found = []
            for contract_id in contract_ids:
                contract = records.find(session, contract_id)
                if contract is None or contract.app_id != home.app_id:
                    raise NotFound(f"contract {contract_id} not found")
                signer = records.resolve_signer(session, contract, signer_id)
                if states.is_overdue(contract, now):
                    raise FailedPrecondition(states.expiry_message(contract))
                states.ensure_open(contract)
                found.append(
                    ContractForSigning(
                        contract_id=contract.contract_id,
                        title=contract.title,
                        status=contract.status,
                        document_sha256=contract.document_hashes,
                        amount=contract.amount,
                        signer_status=signer.status,
                        signer_turn=states.is_turn(contract.signers, signer),
                    )
                )
            signer = home.signer(signer_id)
            return SigningContext(signer, home.app_id, tuple(found), consents.first_consent(session, signer.subject_id))
