import datetime as dt

from services.identity.realname import FormatOnlyProvider, RealNameLevel, evidence_hash

AT = dt.datetime(2026, 6, 1, 8, 0, tzinfo=dt.UTC)


def provider():
    return FormatOnlyProvider(now=lambda: AT)


def test_person_format_only_is_reported_honestly():
    result = provider().verify_person("张三", "110101199003074514", "13800000000")
    assert result.verified
    assert result.level is RealNameLevel.FORMAT_ONLY
    assert result.method == "FORMAT_RULES"
    assert result.verified_at == AT
    assert result.evidence_sha256 == evidence_hash(result.evidence)
    assert result.evidence["inputs"] == {"name": "张三", "idNumber": "110101199003074514", "mobile": "13800000000"}


def test_person_with_bad_number_is_not_verified_and_says_why():
    result = provider().verify_person("张三", "110101199003074515", "12345")
    assert not result.verified
    assert result.level is RealNameLevel.NONE
    assert result.reasons == ("idNumber: check digit does not match", "mobile: not a mainland China mobile number")


def test_names():
    assert provider().verify_person("买买提·艾力", "110101199003074514").verified
    assert provider().verify_person(" ", "110101199003074514").reasons == ("name is empty",)
    assert provider().verify_person("张3", "110101199003074514").reasons == ("name contains digits or control characters",)


def test_org():
    good = provider().verify_org("某某科技有限公司", "91350100M000100Y43", "李四")
    assert good.verified and good.level is RealNameLevel.FORMAT_ONLY
    bad = provider().verify_org("某某科技有限公司", "91110302MA01NNKT89", "")
    assert not bad.verified
    assert bad.reasons == (
        "creditCode: organisation code (GB 11714) check character does not match",
        "legalRepresentative is empty",
    )


def test_evidence_hash_depends_on_inputs_and_not_on_key_order():
    a = provider().verify_person("张三", "110101199003074514")
    b = provider().verify_person("张三", "11010519491231002X")
    assert a.evidence_sha256 != b.evidence_sha256
    assert evidence_hash({"x": 1, "y": 2}) == evidence_hash({"y": 2, "x": 1})


def test_repr_does_not_leak_the_evidence():
    assert "110101199003074514" not in repr(provider().verify_person("张三", "110101199003074514"))
