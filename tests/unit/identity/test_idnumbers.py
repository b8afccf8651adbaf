import datetime as dt

import pytest

from services.identity.idnumbers import (
    check_credit_code,
    check_id_number,
    credit_check_char,
    id_check_char,
    organisation_check_char,
)

TODAY = dt.date(2026, 6, 1)


def with_id_check(first17: str) -> str:
    return first17 + id_check_char(first17)


def with_credit_checks(first16: str) -> str:
    """Complete a 16-character credit-code prefix with both check characters."""
    first17 = first16 + organisation_check_char(first16[8:16])
    return first17 + credit_check_char(first17)


# --- resident ID numbers ---------------------------------------------------------------

def test_api_md_example_id_number_is_valid_and_derives_birth_date_and_gender():
    result = check_id_number("110101199003074514", today=TODAY)
    assert result.valid, result.reasons
    assert result.birth_date == dt.date(1990, 3, 7)
    assert result.gender == "M"  # sequence 451: odd
    assert result.province == "北京市"


def test_check_x_and_female_and_lowercase_x_is_normalised():
    # 11010519491231002X: the standard's own worked example (GB 11643-1999, appendix).
    result = check_id_number("11010519491231002x", today=TODAY)
    assert result.valid, result.reasons
    assert result.number == "11010519491231002X"
    assert result.gender == "F"
    assert result.birth_date == dt.date(1949, 12, 31)


def test_weights_follow_iso_7064_mod_11_2():
    assert id_check_char("11010519491231002") == "X"
    assert id_check_char("44052418800101001") == "4"


@pytest.mark.parametrize("wrong", ["110101199003074510", "110101199003074515", "11010119900307451X"])
def test_wrong_check_digit(wrong):
    result = check_id_number(wrong, today=TODAY)
    assert not result.valid
    assert result.reasons == ("check digit does not match",)


def test_impossible_date_feb_30():
    number = with_id_check("11010119900230451")
    result = check_id_number(number, today=TODAY)
    assert not result.valid
    assert result.reasons == ("birth date 19900230 does not exist",)
    assert result.birth_date is None


def test_feb_29_only_in_leap_years():
    assert check_id_number(with_id_check("11010120000229451"), today=TODAY).valid
    assert not check_id_number(with_id_check("11010119000229451"), today=TODAY).valid  # 1900: not leap


def test_future_birth_date():
    number = with_id_check("11010120260602451")
    result = check_id_number(number, today=TODAY)
    assert result.reasons == ("birth date 2026-06-02 is in the future",)
    assert check_id_number(with_id_check("11010120260601451"), today=TODAY).valid  # born today


def test_birth_before_1900():
    result = check_id_number(with_id_check("11010118991231451"), today=TODAY)
    assert result.reasons == ("birth date 1899-12-31 is before 1900",)


@pytest.mark.parametrize("province", ["00", "10", "20", "39", "66", "90", "99"])
def test_bad_region(province):
    result = check_id_number(with_id_check(province + "010119900307451"), today=TODAY)
    assert not result.valid
    assert result.reasons == (f"unknown province code {province}",)


@pytest.mark.parametrize("province", ["11", "46", "54", "65", "71", "81", "82", "83"])
def test_every_listed_region_kind_is_accepted(province):
    assert check_id_number(with_id_check(province + "010119900307451"), today=TODAY).valid


@pytest.mark.parametrize(
    "bad, reason",
    [
        ("11010119900307451", "must be 18 characters, got 17"),
        ("1101011990030745144", "must be 18 characters, got 19"),
        ("11010119900307451Y", "must be 17 digits followed by a digit or X"),
        ("1101011990030745X4", "must be 17 digits followed by a digit or X"),
        ("１１０１０１１９９００３０７４５１４", "must be 17 digits followed by a digit or X"),  # full-width digits
        ("", "must be 18 characters, got 0"),
    ],
)
def test_malformed(bad, reason):
    result = check_id_number(bad, today=TODAY)
    assert not result.valid and result.reasons == (reason,)


def test_fifteen_digit_numbers_are_refused_with_a_hint():
    result = check_id_number("110101900307451", today=TODAY)
    assert not result.valid
    assert "18-digit" in result.reasons[0]


def test_several_reasons_are_reported_together():
    result = check_id_number("990101199002304511", today=TODAY)
    assert id_check_char("99010119900230451") == "0"
    assert result.reasons == (
        "unknown province code 99",
        "birth date 19900230 does not exist",
        "check digit does not match",
    )


# --- unified social credit codes -------------------------------------------------------

@pytest.mark.parametrize(
    "code",
    [
        "91350100M000100Y43",  # a widely published enterprise code (Fuzhou)
        "91110000600037341L",  # python-stdnum's documented example
        "91110108551385082Q",
        "91440300708461136T",
        "914403001922038216",
        "91110108MA01G0FB09",  # an MA-series code: its organisation code follows GB 11714 too
    ],
)
def test_valid_public_credit_codes(code):
    result = check_credit_code(code)
    assert result.valid, result.reasons


def test_derived_parts():
    result = check_credit_code(" 91350100m000100y43 ")
    assert result.valid
    assert result.code == "91350100M000100Y43"
    assert (result.authority, result.organisation_type) == ("工商", "企业")
    assert result.region_code == "350100"
    assert result.organisation_code == "M000100Y-4"


def test_mod_31_check_values():
    assert credit_check_char("91350100M000100Y4") == "3"
    assert credit_check_char("91110000600037341") == "L"


def test_api_md_example_fails_the_embedded_organisation_code_check():
    # 91110302MA01NNKT89 (API.md) has a right MOD 31 character but its organisation code
    # MA01NNKT-8 should end in 0 under GB 11714.
    assert organisation_check_char("MA01NNKT") == "0"
    result = check_credit_code("91110302MA01NNKT89")
    assert not result.valid
    assert result.reasons == ("organisation code (GB 11714) check character does not match",)


def test_guessed_code_with_zero_checks_is_invalid():
    result = check_credit_code("911100001000000000")
    assert not result.valid
    assert "check character does not match" in result.reasons


def test_wrong_check_character():
    result = check_credit_code("91350100M000100Y44")
    assert result.reasons == ("check character does not match",)


@pytest.mark.parametrize("letter", ["I", "O", "S", "V", "Z"])
def test_letters_outside_the_alphabet(letter):
    code = "91350100M000100" + letter + "43"
    result = check_credit_code(code)
    assert not result.valid
    assert result.reasons == (f"characters not in the GB 32100 alphabet: {letter}",)


def test_unknown_registration_authority_and_type():
    assert check_credit_code(with_credit_checks("B1350100M000100Y")).reasons == ("unknown registration authority code B",)
    assert check_credit_code(with_credit_checks("94350100M000100Y")).reasons == (
        "unknown organisation type 4 for registration authority 9",
    )
    assert check_credit_code(with_credit_checks("Y1350100M000100Y")).valid
    assert check_credit_code(with_credit_checks("N2350100M000100Y")).valid


def test_bad_region_in_credit_code():
    assert check_credit_code(with_credit_checks("91990100M000100Y")).reasons == (
        "region code 990100 is not a valid administrative division",
    )
    assert check_credit_code(with_credit_checks("9135A100M000100Y")).reasons == (
        "region code 35A100 is not a valid administrative division",
    )
    assert check_credit_code(with_credit_checks("11100000M000100Y")).valid  # national level


def test_wrong_organisation_check_with_right_outer_check():
    first17 = "91350100M000100Y5"
    code = first17 + credit_check_char(first17)
    assert check_credit_code(code).reasons == ("organisation code (GB 11714) check character does not match",)


def test_wrong_length():
    assert check_credit_code("91350100M000100Y4").reasons == ("must be 18 characters, got 17",)
