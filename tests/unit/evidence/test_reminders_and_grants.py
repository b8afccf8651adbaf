"""Which reminder is due, and which contracts a signing grant covers: pure rules."""
from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta, timezone

import pytest

from services.contract.delegation import ACTIVE, REVOKED, Grant
from services.contract.model import (
    Contract,
    ContractStatus,
    Signer,
    SignerKind,
    SignerStatus,
    SignMode,
    SubjectRef,
)
from services.contract.reminders import due_reminder, turn_started

T0 = datetime(2026, 1, 1, 8, 0, tzinfo=timezone.utc)
DAY = timedelta(days=1)


def _signer(signer_id: str, order: int, *, kind=SignerKind.PERSON, status=SignerStatus.PENDING, action_at=None,
            subject_id: str = "") -> Signer:
    return Signer(signer_id=signer_id, role=signer_id, kind=kind, name=signer_id, subject=SubjectRef("USCC", "x"),
                  subject_id=subject_id, mobile="13800000000", email="", sign_mode=SignMode.E_SIGN, order=order,
                  status=status, action_at=action_at)


def _contract(*signers: Signer, status=ContractStatus.SIGNING, expire_at=None, amount="", template="tpl_1") -> Contract:
    return Contract(contract_id="ct_1", app_id="app_1", title="借款合同", biz_no="", status=status, template_id=template,
                    template_version=1, template_docx_sha256="", group_id="", documents=(), signers=signers, data={},
                    amount=amount, expire_at=expire_at, created_at=T0, updated_at=T0, finished_at=None,
                    status_reason="", version=1)


def test_the_first_reminder_comes_one_cadence_after_the_turn_starts_and_the_newest_due_is_sent():
    first = _signer("a", 1)
    contract = _contract(first, _signer("b", 2))
    assert due_reminder(contract, first, T0 + DAY - timedelta(seconds=1), DAY, 3) == 0
    assert due_reminder(contract, first, T0 + DAY, DAY, 3) == 1
    assert due_reminder(contract, first, T0 + 2 * DAY + timedelta(hours=1), DAY, 3) == 2
    assert due_reminder(contract, first, T0 + 10 * DAY, DAY, 3) == 3  # capped: never a fourth


def test_a_later_signer_is_reminded_from_when_the_earlier_ones_signed():
    signed_at = T0 + 5 * DAY
    first = _signer("a", 1, status=SignerStatus.SIGNED, action_at=signed_at)
    second = _signer("b", 2)
    contract = _contract(first, second)
    assert turn_started(contract, second) == signed_at
    assert due_reminder(contract, second, signed_at + DAY - timedelta(minutes=1), DAY, 3) == 0
    assert due_reminder(contract, second, signed_at + DAY, DAY, 3) == 1
    assert due_reminder(contract, first, T0 + 9 * DAY, DAY, 3) == 0  # signed: no more reminders


@pytest.mark.parametrize("change", [
    {"status": ContractStatus.REVOKED},
    {"status": ContractStatus.COMPLETED},
    {"expire_at": T0 + DAY},  # overdue: closing, not to be signed
])
def test_no_reminder_for_a_closed_or_overdue_contract(change):
    first = _signer("a", 1)
    contract = replace(_contract(first), **change)
    assert due_reminder(contract, first, T0 + 3 * DAY, DAY, 3) == 0


def test_a_signer_waiting_for_their_turn_is_not_reminded():
    contract = _contract(_signer("a", 1), _signer("b", 2))
    assert due_reminder(contract, contract.signers[1], T0 + 3 * DAY, DAY, 3) == 0


def _grant(**change) -> Grant:
    grant = Grant(grant_id="dg_1", app_id="app_1", organisation_name="某某科技有限公司",
                  organisation=SubjectRef("USCC", "x"), subject_id="sub_org", template_ids=("tpl_1",),
                  amount_limit="1000", valid_from=T0, valid_until=T0 + 30 * DAY, seal_id="", status=ACTIVE,
                  created_at=T0, created_by="app:app_1", revoked_at=None, revoke_reason="", use_count=0, sha256="0" * 64)
    return replace(grant, **change)


ORG = _signer("org", 1, kind=SignerKind.ORG, subject_id="sub_org")


@pytest.mark.parametrize(("grant", "contract", "refusal"), [
    (_grant(), _contract(ORG, amount="999.99"), ""),
    (_grant(amount_limit=""), _contract(ORG), ""),
    (_grant(status=REVOKED), _contract(ORG, amount="1"), "REVOKED"),
    (_grant(valid_from=T0 + 2 * DAY), _contract(ORG, amount="1"), "valid from"),
    (_grant(), _contract(ORG, amount="1000.01"), "above the limit"),
    (_grant(), _contract(ORG), "no amount"),
    (_grant(), _contract(ORG, amount="1", template="tpl_2"), "not covered"),
    (_grant(subject_id="sub_other"), _contract(ORG, amount="1"), "another organisation"),
    (_grant(), _contract(_signer("p", 1), replace(ORG, order=2), amount="1"), "not the signer's turn"),
    (_grant(), _contract(ORG, amount="1", status=ContractStatus.REVOKED), "not open"),
])
def test_what_a_grant_covers(grant, contract, refusal):
    signer = next(s for s in contract.signers if s.signer_id == "org")
    found = grant.refusal(contract, signer, T0 + DAY)
    assert (found == "") if not refusal else (refusal in found), found


def test_a_person_or_agreement_signer_is_never_signed_for():
    person = _signer("org", 1, subject_id="sub_org")
    assert "organisation's E_SIGN" in _grant().refusal(_contract(person, amount="1"), person, T0 + DAY)
    agreeing = replace(ORG, sign_mode=SignMode.AGREEMENT)
    assert "organisation's E_SIGN" in _grant().refusal(_contract(agreeing, amount="1"), agreeing, T0 + DAY)
