"""The signing state machine and signing-order rules."""
from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta, timezone

import pytest

from core.errors import FailedPrecondition
from services.contract import states
from services.contract.model import (
    Contract,
    ContractStatus,
    Signer,
    SignerKind,
    SignerStatus,
    SignMode,
    SubjectRef,
)

NOW = datetime(2026, 1, 1, 8, 0, tzinfo=timezone.utc)


def signer(signer_id: str, order: int, role: str = "", status: SignerStatus = SignerStatus.PENDING,
           mode: SignMode = SignMode.E_SIGN) -> Signer:
    return Signer(signer_id, role or signer_id, SignerKind.PERSON, "张三", SubjectRef("ID_CARD", signer_id), "",
                  "", "", mode, order, status)


def contract(*signers: Signer, status: ContractStatus = ContractStatus.SIGNING, expire_at=None) -> Contract:
    return Contract("ct_1", "app_1", "合同", "", status, "tpl_1", 1, "0" * 64, "", (), tuple(signers), {}, "",
                    expire_at, NOW, NOW, None, "", 1)


def test_lower_orders_first_then_same_order_in_parallel():
    a, b, c = signer("a", 1), signer("b", 2), signer("c", 2)
    deal = contract(a, b, c)
    assert states.is_turn(deal.signers, a) and not states.is_turn(deal.signers, b)
    with pytest.raises(FailedPrecondition, match=r"not signer b's turn.*order 1 \(a\)"):
        states.ensure_can_sign(deal, b, SignMode.E_SIGN)
    states.ensure_can_sign(deal, a, SignMode.E_SIGN)

    signed_a = replace(a, status=SignerStatus.SIGNED)
    deal = contract(signed_a, b, c)
    states.ensure_can_sign(deal, b, SignMode.E_SIGN)
    states.ensure_can_sign(deal, c, SignMode.E_SIGN)
    assert states.status_after_signature(deal, "b") is ContractStatus.SIGNING
    deal = contract(signed_a, replace(b, status=SignerStatus.SIGNED), c)
    assert states.status_after_signature(deal, "c") is ContractStatus.COMPLETED


def test_the_first_waiting_order_is_named():
    a, b, c = signer("a", 1, "lender"), signer("b", 2, "guarantor"), signer("c", 3, "borrower")
    with pytest.raises(FailedPrecondition, match=r"order 1 \(lender\)"):
        states.ensure_can_sign(contract(a, b, c), c, SignMode.E_SIGN)


def test_signing_twice_or_after_declining_is_refused():
    done = signer("a", 1, status=SignerStatus.SIGNED)
    with pytest.raises(FailedPrecondition, match="already signed"):
        states.ensure_can_sign(contract(done), done, SignMode.E_SIGN)
    declined = signer("a", 1, status=SignerStatus.REJECTED)
    with pytest.raises(FailedPrecondition, match="declined"):
        states.ensure_can_sign(contract(declined), declined, SignMode.E_SIGN)


@pytest.mark.parametrize("status", [s for s in ContractStatus if s is not ContractStatus.SIGNING])
def test_closed_contracts_do_not_change(status):
    a = signer("a", 1)
    with pytest.raises(FailedPrecondition, match=status.value):
        states.ensure_can_sign(contract(a, status=status), a, SignMode.E_SIGN)
    with pytest.raises(FailedPrecondition):
        states.ensure_can_reject(contract(a, status=status), a)
    with pytest.raises(FailedPrecondition):
        states.ensure_open(contract(a, status=status))


def test_the_sign_mode_must_match():
    agreeing = signer("a", 1, mode=SignMode.AGREEMENT)
    with pytest.raises(FailedPrecondition, match=":agree"):
        states.ensure_can_sign(contract(agreeing), agreeing, SignMode.E_SIGN)
    signing = signer("b", 1)
    with pytest.raises(FailedPrecondition, match=":sign"):
        states.ensure_can_sign(contract(signing), signing, SignMode.AGREEMENT)


def test_rejecting_does_not_wait_for_the_turn():
    a, b = signer("a", 1), signer("b", 2)
    states.ensure_can_reject(contract(a, b), b)


def test_overdue_only_while_signing():
    a = signer("a", 1)
    past = NOW - timedelta(seconds=1)
    assert states.is_overdue(contract(a, expire_at=past), NOW)
    assert not states.is_overdue(contract(a, expire_at=NOW + timedelta(seconds=1)), NOW)
    assert not states.is_overdue(contract(a), NOW)
    assert not states.is_overdue(contract(a, status=ContractStatus.COMPLETED, expire_at=past), NOW)
    # SQLite hands back naive datetimes; they are UTC.
    assert states.is_overdue(contract(a, expire_at=past.replace(tzinfo=None)), NOW)
