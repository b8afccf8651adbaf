import math

import pytest

from services.template.signers import (
    Position,
    SignerRole,
    keyword_anchors,
    signers_from_json,
    signers_to_json,
    validate_signers,
)

LENDER = SignerRole("lender", "ORG", (Position(keyword="甲方（盖章）"),))
BORROWER = SignerRole("borrower", "PERSON", (Position(page=3, x=400, y=120),))


def paths(signers) -> dict[str, str]:
    return {v.field: v.description for v in validate_signers(signers)}


def test_good_roles_pass():
    assert validate_signers([LENDER, BORROWER]) == []
    offset = SignerRole("witness", "PERSON", (Position(keyword="见证人", page=2, x=-30, y=10),),
                        riding_seal=True, date_position=Position(page=1, x=10, y=10))
    assert validate_signers([offset]) == []


def test_at_least_one_role():
    assert paths([]) == {"signers": "at least one signer role is required"}


def test_every_problem_is_reported_with_its_path():
    problems = paths([
        LENDER,
        SignerRole("lender", "PERSON", (Position(page=0, x=1, y=1),)),
        SignerRole("", "", ()),
        SignerRole("guarantor", "PERSON", (Position(keyword="丙方"), Position(page=2, x=-1, y=5, width=-3)),
                   date_position=Position(page=-1)),
    ])
    assert set(problems) == {
        "signers[1].role",
        "signers[1].positions[0].page",
        "signers[2].role",
        "signers[2].kind",
        "signers[2].positions",
        "signers[3].positions[1].x",
        "signers[3].positions[1].width",
        "signers[3].datePosition.page",
    }
    assert "signers[0]" in problems["signers[1].role"]
    assert "≥ 1" in problems["signers[1].positions[0].page"]


@pytest.mark.parametrize("bad", [math.nan, math.inf, 1e9])
def test_coordinates_must_be_finite_and_sane(bad):
    problems = paths([SignerRole("r", "ORG", (Position(page=1, x=bad, y=1),))])
    assert set(problems) == {"signers[0].positions[0].x"}


def test_keyword_anchor_may_not_be_blank_or_on_a_negative_page():
    problems = paths([SignerRole("r", "ORG", (Position(keyword="   ", page=-2),))])
    assert set(problems) == {"signers[0].positions[0].keyword", "signers[0].positions[0].page"}


def test_role_names_are_trimmed_and_bounded():
    assert set(paths([SignerRole(" lender", "ORG", LENDER.positions)])) == {"signers[0].role"}
    assert set(paths([SignerRole("x" * 65, "ORG", LENDER.positions)])) == {"signers[0].role"}


def test_keyword_anchors_include_date_stamps():
    dated = SignerRole("borrower", "PERSON", BORROWER.positions, date_position=Position(keyword="日期"))
    assert keyword_anchors([LENDER, dated]) == [
        ("signers[0].positions[0]", Position(keyword="甲方（盖章）")),
        ("signers[1].datePosition", Position(keyword="日期")),
    ]


def test_json_round_trip():
    roles = (LENDER, SignerRole("b", "PERSON", BORROWER.positions, True, Position(keyword="日期", x=5)))
    assert signers_from_json(signers_to_json(roles)) == roles
