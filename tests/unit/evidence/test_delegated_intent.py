"""The intent a signing grant stands in for: method DELEGATION end to end, from the claims
the contract service builds to the signing service's check, which takes them only where
a grant may sign (an organisation's cloud signature) and only when they name the grant."""
from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta, timezone

import pytest

from core.errors import FailedPrecondition, PermissionDenied
from services.contract.delegated_intent import grant_claims
from services.contract.model import (
    Contract,
    ContractStatus,
    Document,
    DocumentKind,
    Signer,
    SignerKind,
    SignerStatus,
    SignMode,
    SubjectRef,
)
from services.signing.intent import check_intent

NOW = datetime(2026, 3, 1, 8, 0, tzinfo=timezone.utc)
SHA = "ab" * 32


def _org() -> Signer:
    return Signer(signer_id="sg_org", role="lender", kind=SignerKind.ORG, name="某某科技有限公司",
                  subject=SubjectRef("USCC", "91350100M000100Y43"), subject_id="sub_org", mobile="", email="",
                  sign_mode=SignMode.E_SIGN, order=1, status=SignerStatus.PENDING, action_at=None)


def _contract(signer: Signer) -> Contract:
    document = Document(document_id="doc_1", name="借款合同", kind=DocumentKind.MAIN, sha256=SHA, pages=3, revision=1,
                        blob_ref="sha256:" + SHA)
    return Contract(contract_id="ct_1", app_id="app_1", title="借款合同", biz_no="", status=ContractStatus.SIGNING,
                    template_id="tpl_1", template_version=1, template_docx_sha256="", group_id="",
                    documents=(document,), signers=(signer,), data={}, amount="1", expire_at=None, created_at=NOW,
                    updated_at=NOW, finished_at=None, status_reason="", version=1)


def _as_signing_reads_them(raw: bytes):
    """The claims as the signing service's RPC layer turns them into its domain type."""
    from econtract.common.v1 import common_pb2
    from services.signing.api import _claims

    return _claims(common_pb2.IntentClaims.FromString(raw))


def test_grant_claims_carry_the_delegation_method_and_name_the_grant():
    from econtract.common.v1 import common_pb2

    signer = _org()
    claims = grant_claims("dg_1", _contract(signer), signer, NOW)
    message = common_pb2.IntentClaims.FromString(claims.raw)
    assert message.method == common_pb2.DELEGATION != common_pb2.INTENT_METHOD_UNSPECIFIED
    assert (message.token_id, message.challenge_id) == ("grant:dg_1:sg_org", "dg_1")
    assert list(message.document_hashes["ct_1"].sha256) == [SHA]
    assert claims.method == "DELEGATION" and _as_signing_reads_them(claims.raw).method == "DELEGATION"


def test_signing_takes_delegated_claims_only_where_a_grant_may_sign():
    signer = _org()
    claims = _as_signing_reads_them(grant_claims("dg_1", _contract(signer), signer, NOW).raw)
    check = dict(contract_id="ct_1", document_sha256=SHA, signer_id="sg_org", subject_id="sub_org",
                 now=NOW + timedelta(minutes=1))

    assert check_intent(claims, **check, delegable=True) is claims
    with pytest.raises(PermissionDenied, match="is a signing grant, which signs only an organisation's cloud signature"):
        check_intent(claims, **check)  # e.g. a person's signature, a client-side signature, an agreement
    with pytest.raises(PermissionDenied, match="does not name its signing grant"):
        check_intent(replace(claims, token_id="tok_guessed"), **check, delegable=True)
    with pytest.raises(PermissionDenied, match="does not name its signing grant"):
        check_intent(replace(claims, challenge_id=""), **check, delegable=True)
    # The usual checks still hold for a grant: e.g. the documents it was made for.
    with pytest.raises(FailedPrecondition, match="document changed after the intent was confirmed"):
        check_intent(claims, **{**check, "document_sha256": "cd" * 32}, delegable=True)


def test_other_methods_are_checked_as_before_wherever_they_are_used():
    signer = _org()
    claims = replace(_as_signing_reads_them(grant_claims("dg_1", _contract(signer), signer, NOW).raw),
                     method="SMS", token_id="tok_1", challenge_id="ch_1")
    check = dict(contract_id="ct_1", document_sha256=SHA, signer_id="sg_org", now=NOW + timedelta(minutes=1))
    assert check_intent(claims, **check) is claims
    assert check_intent(claims, **check, delegable=True) is claims
