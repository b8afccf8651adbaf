"""Format rules for the two national identifiers a signer presents.

* Resident identity numbers, GB 11643-1999: six-digit region code, eight-digit birth date,
  three-digit sequence (odd for men, even for women) and an ISO 7064 MOD 11-2 check
  character (0-9 or X).
* Unified social credit codes, GB 32100-2015: registration authority, organisation type,
  six-digit region of the registering office, the nine-character organisation code of
  GB 11714-1997 (with its own MOD 11 check character) and a MOD 31 check character.

These rules prove a number is well formed, never that it belongs to anybody: that is the
job of a real-name provider (see ``realname.py``). Nothing here raises on bad input; every
check returns a result with all the reasons it failed, so an API can report them together.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

# Province-level divisions of GB/T 2260, the first two digits of every region code. A full
# county table (about 3,000 codes that change yearly) would reject numbers issued under
# retired codes that stay valid for life, so only the stable province level is checked.
# 71/81/82 are Taiwan, Hong Kong and Macao; 83 is what residence permits for Taiwan
# residents use (GB 11643 numbers issued since 2018 to residents of those regions).
PROVINCES: dict[str, str] = {
    "11": "北京市", "12": "天津市", "13": "河北省", "14": "山西省", "15": "内蒙古自治区",
    "21": "辽宁省", "22": "吉林省", "23": "黑龙江省",
    "31": "上海市", "32": "江苏省", "33": "浙江省", "34": "安徽省", "35": "福建省",
    "36": "江西省", "37": "山东省",
    "41": "河南省", "42": "湖北省", "43": "湖南省", "44": "广东省", "45": "广西壮族自治区",
    "46": "海南省",
    "50": "重庆市", "51": "四川省", "52": "贵州省", "53": "云南省", "54": "西藏自治区",
    "61": "陕西省", "62": "甘肃省", "63": "青海省", "64": "宁夏回族自治区", "65": "新疆维吾尔自治区",
    "71": "台湾省", "81": "香港特别行政区", "82": "澳门特别行政区", "83": "台湾居民居住证",
}

# Credit codes of national-level registrations use region 100000 (e.g. 11100000...).
_CREDIT_REGION_PREFIXES = frozenset(PROVINCES) | {"10"}

_ID_WEIGHTS = tuple(pow(2, 17 - i, 11) for i in range(17))  # 7, 9, 10, 5, 8, 4, 2, 1, 6, ...
_ID_CHECK = "10X98765432"  # indexed by (weighted sum mod 11)
_EARLIEST_BIRTH = dt.date(1900, 1, 1)

CREDIT_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"  # no I, O, S, V, Z
_CREDIT_WEIGHTS = tuple(pow(3, i, 31) for i in range(17))  # 1, 3, 9, 27, 19, 26, ...
_ORG_WEIGHTS = (3, 7, 9, 10, 5, 8, 4, 2)

# GB 32100-2015 table 1 with its amendments: registration authority → organisation types.
REGISTRATION_AUTHORITIES: dict[str, tuple[str, dict[str, str]]] = {
    "1": ("机构编制", {"1": "机关", "2": "事业单位", "3": "中央编办直接管理机构编制的群众团体", "9": "其他"}),
    "2": ("外交", {"1": "外国常驻新闻机构", "9": "其他"}),
    "3": ("司法行政", {"1": "律师执业机构", "2": "公证处", "3": "基层法律服务所", "4": "司法鉴定机构",
                    "5": "仲裁委员会", "9": "其他"}),
    "4": ("文化", {"1": "外国在华文化中心", "9": "其他"}),
    "5": ("民政", {"1": "社会团体", "2": "民办非企业单位", "3": "基金会", "9": "其他"}),
    "6": ("旅游", {"1": "外国旅游部门常驻代表机构", "2": "港澳台地区旅游部门常驻内地（大陆）代表机构", "9": "其他"}),
    "7": ("宗教", {"1": "宗教活动场所", "2": "宗教院校", "9": "其他"}),
    "8": ("工会", {"1": "基层工会", "9": "其他"}),
    "9": ("工商", {"1": "企业", "2": "个体工商户", "3": "农民专业合作社"}),
    "A": ("中央军委改革和编制办公室", {"1": "军队事业单位", "9": "其他"}),
    "N": ("农业", {"1": "组级集体经济组织", "2": "村级集体经济组织", "3": "乡镇级集体经济组织", "9": "其他"}),
    "Y": ("其他", {"1": "其他"}),
}


@dataclass(frozen=True)
class IdNumberCheck:
    """Outcome of checking a resident ID number; derived fields are set when readable."""

    number: str  # normalised: trimmed, lower-case x made upper-case
    valid: bool
    reasons: tuple[str, ...]
    birth_date: dt.date | None = None
    gender: str | None = None  # "M" or "F"
    province: str | None = None


@dataclass(frozen=True)
class CreditCodeCheck:
    """Outcome of checking a unified social credit code."""

    code: str  # normalised: trimmed, upper-case
    valid: bool
    reasons: tuple[str, ...]
    authority: str | None = None  # e.g. 工商
    organisation_type: str | None = None  # e.g. 企业
    region_code: str | None = None
    organisation_code: str | None = None  # GB 11714 form, e.g. MA01G0FB-0


def id_check_char(first17: str) -> str:
    """The GB 11643 (ISO 7064 MOD 11-2) check character for 17 digits."""
    return _ID_CHECK[sum(int(c) * w for c, w in zip(first17, _ID_WEIGHTS, strict=True)) % 11]


def check_id_number(value: str, today: dt.date | None = None) -> IdNumberCheck:
    """Check an 18-character resident ID number; ``today`` bounds the birth date."""
    number = value.strip().upper()
    today = today or dt.date.today()
    if len(number) == 15 and number.isdigit():
        return IdNumberCheck(number, False, ("15-digit first-generation numbers are not accepted; use the 18-digit number",))
    if len(number) != 18:
        return IdNumberCheck(number, False, (f"must be 18 characters, got {len(number)}",))
    if not (number[:17].isdigit() and number[:17].isascii() and (number[17].isdigit() or number[17] == "X")):
        return IdNumberCheck(number, False, ("must be 17 digits followed by a digit or X",))

    reasons: list[str] = []
    province = PROVINCES.get(number[:2])
    if province is None:
        reasons.append(f"unknown province code {number[:2]}")
    birth: dt.date | None = None
    try:
        birth = dt.date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
    except ValueError:
        reasons.append(f"birth date {number[6:14]} does not exist")
    else:
        if birth < _EARLIEST_BIRTH:
            reasons.append(f"birth date {birth.isoformat()} is before 1900")
        elif birth > today:
            reasons.append(f"birth date {birth.isoformat()} is in the future")
    expected = id_check_char(number[:17])
    if number[17] != expected:
        reasons.append("check digit does not match")
    return IdNumberCheck(
        number=number,
        valid=not reasons,
        reasons=tuple(reasons),
        birth_date=birth,
        gender="M" if int(number[16]) % 2 else "F",
        province=province,
    )


def credit_check_char(first17: str) -> str:
    """The GB 32100 (MOD 31) check character for the first 17 characters."""
    total = sum(CREDIT_ALPHABET.index(c) * w for c, w in zip(first17, _CREDIT_WEIGHTS, strict=True))
    return CREDIT_ALPHABET[(31 - total % 31) % 31]


def organisation_check_char(body8: str) -> str:
    """The GB 11714 (MOD 11) check character for an organisation code's eight characters.

    GB 11714 values letters A=10 ... Z=35 (its own alphabet, not the credit-code one).
    """
    total = sum((int(c) if c.isdigit() else ord(c) - 55) * w for c, w in zip(body8, _ORG_WEIGHTS, strict=True))
    check = 11 - total % 11
    return {10: "X", 11: "0"}.get(check, str(check))


def check_credit_code(value: str) -> CreditCodeCheck:
    """Check an 18-character unified social credit code, including its organisation code."""
    code = value.strip().upper()
    if len(code) != 18:
        return CreditCodeCheck(code, False, (f"must be 18 characters, got {len(code)}",))
    bad = sorted({c for c in code if c not in CREDIT_ALPHABET})
    if bad:
        return CreditCodeCheck(code, False, (f"characters not in the GB 32100 alphabet: {''.join(bad)}",))

    reasons: list[str] = []
    authority_name: str | None = None
    type_name: str | None = None
    authority = REGISTRATION_AUTHORITIES.get(code[0])
    if authority is None:
        reasons.append(f"unknown registration authority code {code[0]}")
    else:
        authority_name = authority[0]
        type_name = authority[1].get(code[1])
        if type_name is None:
            reasons.append(f"unknown organisation type {code[1]} for registration authority {code[0]}")
    region = code[2:8]
    if not region.isdigit() or region[:2] not in _CREDIT_REGION_PREFIXES:
        reasons.append(f"region code {region} is not a valid administrative division")
    if code[16] != organisation_check_char(code[8:16]):
        reasons.append("organisation code (GB 11714) check character does not match")
    if code[17] != credit_check_char(code[:17]):
        reasons.append("check character does not match")
    return CreditCodeCheck(
        code=code,
        valid=not reasons,
        reasons=tuple(reasons),
        authority=authority_name,
        organisation_type=type_name,
        region_code=region,
        organisation_code=f"{code[8:16]}-{code[16]}",
    )
