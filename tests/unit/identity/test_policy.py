from decimal import Decimal

import pytest

from core.errors import FailedPrecondition, InvalidArgument, PermissionDenied
from services.identity.policy import (
    IntentMethod,
    IntentPolicy,
    MethodRequirement,
    SignerKind,
    check_method,
    check_methods,
    check_start,
    missing_methods,
    required_methods,
)
from services.identity.realname import RealNameLevel

SMS, EMAIL, FACE = IntentMethod.SMS, IntentMethod.EMAIL, IntentMethod.FACE
PERSON, ORG = SignerKind.PERSON, SignerKind.ORG
ALL = frozenset({SMS, EMAIL, FACE})

LOANS = IntentPolicy(
    allowed_methods=frozenset({SMS, FACE}),
    face_above_amount=Decimal("50000"),
    face_for_orgs=True,
    required_real_name_level=RealNameLevel.IDENTITY_MATCH,
)


def test_default_policy_allows_any_one_method_and_needs_no_real_name():
    policy = IntentPolicy()
    assert required_methods(policy, PERSON, 10**9) == MethodRequirement(frozenset(), ALL)
    check_method(policy, ORG, None, EMAIL, RealNameLevel.NONE)
    check_method(policy, ORG, None, FACE, RealNameLevel.NONE)


def test_face_required_strictly_above_amount():
    assert required_methods(LOANS, PERSON, Decimal("50000")).all_of == frozenset()
    assert required_methods(LOANS, PERSON, Decimal("50000.01")).all_of == {FACE}
    assert required_methods(LOANS, PERSON, None).all_of == {FACE}  # unknown amount: be safe


def test_face_required_for_orgs():
    assert required_methods(LOANS, ORG, 1).all_of == {FACE}


def test_required_methods_must_all_be_passed():
    policy = IntentPolicy(required_methods=frozenset({SMS, FACE}))
    requirement = required_methods(policy, PERSON, 1)
    assert requirement.all_of == {SMS, FACE}
    assert not requirement.satisfied_by({SMS})
    assert requirement.satisfied_by({SMS, FACE, EMAIL})
    with pytest.raises(PermissionDenied, match="requires every one of FACE, SMS; missing FACE"):
        check_method(policy, PERSON, 1, SMS, RealNameLevel.NONE)
    check_method(policy, PERSON, 1, [SMS, FACE], RealNameLevel.NONE)


def test_check_method_refusals():
    with pytest.raises(PermissionDenied, match="EMAIL is not allowed"):
        check_method(LOANS, PERSON, 100, EMAIL, RealNameLevel.IDENTITY_MATCH)
    with pytest.raises(PermissionDenied, match="requires FACE above an amount of 50000"):
        check_method(LOANS, PERSON, 60000, SMS, RealNameLevel.IDENTITY_MATCH)
    with pytest.raises(PermissionDenied, match="requires FACE when the contract amount is unknown"):
        check_method(LOANS, PERSON, None, SMS, RealNameLevel.IDENTITY_MATCH)
    with pytest.raises(PermissionDenied, match="requires FACE for organisations"):
        check_method(LOANS, ORG, 1, SMS, RealNameLevel.IDENTITY_MATCH)
    with pytest.raises(FailedPrecondition, match="needs real-name level IDENTITY_MATCH; the signer has FORMAT_ONLY"):
        check_method(LOANS, PERSON, 100, SMS, RealNameLevel.FORMAT_ONLY)
    with pytest.raises(PermissionDenied, match="no intent verification"):
        check_method(LOANS, PERSON, 100, [], RealNameLevel.IDENTITY_MATCH)


def test_check_method_accepts():
    check_method(LOANS, PERSON, 100, SMS, RealNameLevel.IDENTITY_MATCH)
    check_method(LOANS, ORG, 10**7, FACE, RealNameLevel.IDENTITY_MOBILE_MATCH)


def test_inconsistent_policy_is_refused():
    with pytest.raises(InvalidArgument, match="FACE is required by the policy but not allowed"):
        IntentPolicy(allowed_methods=frozenset({SMS}), face_for_orgs=True)
    with pytest.raises(InvalidArgument, match="EMAIL required but not allowed"):
        IntentPolicy(allowed_methods=frozenset({SMS}), required_methods=frozenset({EMAIL}))
    with pytest.raises(InvalidArgument, match="non-negative"):
        IntentPolicy(face_above_amount=Decimal("-1"))


def test_mapping_round_trip_and_validation():
    data = LOANS.to_mapping()
    assert data == {
        "allowedMethods": ["FACE", "SMS"],
        "requiredMethods": [],
        "faceAboveAmount": "50000",
        "faceForOrgs": True,
        "requiredRealNameLevel": "IDENTITY_MATCH",
    }
    assert IntentPolicy.from_mapping(data) == LOANS
    assert IntentPolicy.from_mapping({}) == IntentPolicy()  # MessageToDict of an empty policy
    with pytest.raises(InvalidArgument) as err:
        IntentPolicy.from_mapping(
            {"allowedMethods": ["SMS", "PIGEON"], "faceAboveAmount": "lots", "requiredRealNameLevel": "GOLD", "colour": 1}
        )
    fields = sorted(v.field for v in err.value.violations)
    assert fields == [
        "intentPolicy.allowedMethods",
        "intentPolicy.colour",
        "intentPolicy.faceAboveAmount",
        "intentPolicy.requiredRealNameLevel",
    ]


def test_levels_are_ordered():
    assert RealNameLevel.IDENTITY_MOBILE_MATCH.satisfies(RealNameLevel.IDENTITY_MATCH)
    assert not RealNameLevel.FORMAT_ONLY.satisfies(RealNameLevel.IDENTITY_MATCH)
    assert not RealNameLevel.NONE.satisfies(RealNameLevel.FORMAT_ONLY)
    assert RealNameLevel.NONE.satisfies(RealNameLevel.NONE)


def test_several_methods_are_started_one_by_one_and_checked_together():
    both = IntentPolicy(required_methods=frozenset({SMS, FACE}))
    check_start(both, PERSON, 1, SMS, RealNameLevel.NONE)
    check_start(both, PERSON, 1, FACE, RealNameLevel.NONE)
    with pytest.raises(PermissionDenied, match="requires every one of FACE, SMS; missing FACE, SMS$"):
        check_start(both, PERSON, 1, EMAIL, RealNameLevel.NONE)
    assert missing_methods(both, PERSON, 1, [SMS]) == (FACE,)
    assert missing_methods(both, PERSON, 1, [FACE, SMS]) == ()
    with pytest.raises(PermissionDenied, match="requires every one of FACE, SMS; missing FACE$"):
        check_methods(both, PERSON, 1, [SMS])
    check_methods(both, PERSON, 1, [SMS, FACE])


def test_required_sms_plus_face_above_an_amount():
    policy = IntentPolicy(required_methods=frozenset({SMS}), face_above_amount=Decimal("50000"))
    assert missing_methods(policy, PERSON, Decimal("100"), [SMS]) == ()
    assert missing_methods(policy, PERSON, Decimal("60000"), [SMS]) == (FACE,)
    assert missing_methods(policy, PERSON, Decimal("60000"), [FACE]) == (SMS,)
    with pytest.raises(PermissionDenied, match="SMS is not enough: this business line requires FACE above an amount of 50000"):
        check_methods(policy, PERSON, Decimal("60000"), [SMS])
    with pytest.raises(PermissionDenied, match="missing SMS"):
        check_methods(policy, PERSON, Decimal("60000"), [FACE])
    with pytest.raises(PermissionDenied, match="not allowed"):
        check_start(IntentPolicy(allowed_methods=frozenset({SMS})), PERSON, 1, EMAIL, RealNameLevel.NONE)
