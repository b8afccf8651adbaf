"""Real-name verification through the REST gateway, and the provider chosen per business line."""
import grpc
import pytest

from econtract.identity.v1 import identity_pb2 as pb
from services.identity.config import IdentityConfig
from services.identity.idnumbers import id_check_char
from services.identity.provider_http import ProviderEndpoint
from tests.integration.identity.platform import random_credit_code, random_id_number, start_identity

VALID_ID = "110101199003074514"  # Beijing Dongcheng, born 1990-03-07, check digit 4
VALID_USCC = "91350100M000100Y43"


def _no_full_numbers(text: str, *numbers: str) -> None:
    for number in numbers:
        assert number not in text, text


def test_valid_person_is_verified_format_only_and_recorded(client, identity_stub):
    reply = client.post("/v1/identities:verifyPerson", {"name": "张三", "idNumber": VALID_ID, "mobile": "13800000000"})
    assert reply.status_code == 200, reply.text
    body = reply.json()
    assert body["verified"] is True and body["level"] == "FORMAT_ONLY" and body["subjectId"].startswith("sub_")
    assert body["reason"] == ""

    again = client.post("/v1/identities:verifyPerson", {"name": "张三", "idNumber": VALID_ID.lower()}).json()
    assert again["subjectId"] == body["subjectId"]
    subject = identity_stub.GetSubject(pb.GetSubjectRequest(subject_id=body["subjectId"])).subject
    assert subject.verified_level == "FORMAT_ONLY" and subject.real_name_method == "FORMAT_RULES"
    assert subject.verify_time.seconds > 0 and len(subject.real_name_evidence_sha256) == 64
    assert [(i.id_type, i.id) for i in subject.identifiers] == [("ID_CARD", VALID_ID)]


def _with_check_char(first17: str) -> str:
    return first17 + id_check_char(first17)


@pytest.mark.parametrize(
    ("id_number", "why"),
    [
        ("110101199003074513", "check digit does not match"),  # the valid number with its last digit changed
        (_with_check_char("11010119900230451"), "birth date 19900230 does not exist"),  # 30 February
        (_with_check_char("99010119900307451"), "unknown province code 99"),
        (_with_check_char("11010121000307451"), "is in the future"),
        ("11010119900307451", "must be 18 characters"),
    ],
)
def test_invalid_id_numbers_are_not_verified_and_not_echoed(client, id_number, why):
    reply = client.post("/v1/identities:verifyPerson", {"name": "张三", "idNumber": id_number})
    assert reply.status_code == 200, reply.text
    body = reply.json()
    assert body["verified"] is False and body["level"] == "NONE"
    assert why in body["reason"]
    assert body["subjectId"] == ""  # nobody can be known by a malformed number
    _no_full_numbers(reply.text, id_number)


def test_bad_name_is_recorded_but_not_verified(client):
    id_number = random_id_number()
    body = client.post("/v1/identities:verifyPerson", {"name": "张3", "idNumber": id_number, "mobile": "12345"}).json()
    assert body["verified"] is False and body["subjectId"].startswith("sub_")
    assert "digits" in body["reason"] and "mobile" in body["reason"]


def test_missing_fields_are_400_naming_them(client):
    reply = client.post("/v1/identities:verifyPerson", {"idNumber": VALID_ID})
    assert reply.status_code == 400
    fields = [v["field"] for d in reply.json()["details"] for v in d.get("fieldViolations", [])]
    assert fields == ["name"]
    _no_full_numbers(reply.text, VALID_ID)
    reply = client.post("/v1/identities:verifyOrg", {"name": "某某科技有限公司", "creditCode": VALID_USCC})
    assert reply.status_code == 400 and "legalRepresentative" in reply.text


def test_valid_org_is_verified(client, identity_stub):
    reply = client.post(
        "/v1/identities:verifyOrg", {"name": "某某科技有限公司", "creditCode": VALID_USCC.lower(), "legalRepresentative": "王五"}
    )
    assert reply.status_code == 200, reply.text
    body = reply.json()
    assert body["verified"] is True and body["level"] == "FORMAT_ONLY"
    subject = identity_stub.GetSubject(pb.GetSubjectRequest(subject_id=body["subjectId"])).subject
    assert subject.kind == 2 and subject.legal_representative == "王五"
    assert [(i.id_type, i.id) for i in subject.identifiers] == [("USCC", VALID_USCC)]


@pytest.mark.parametrize(
    ("code", "why"),
    [
        # API.md's example: its embedded GB 11714 organisation code has the wrong check character.
        ("91110302MA01NNKT89", "organisation code (GB 11714) check character does not match"),
        ("91350100M000100Y44", "check character does not match"),
        ("91350100M000100Y4", "must be 18 characters"),
        ("Z1350100M000100Y43", "characters not in the GB 32100 alphabet"),
    ],
)
def test_invalid_credit_codes_are_not_verified(client, code, why):
    body = client.post(
        "/v1/identities:verifyOrg", {"name": "某某科技有限公司", "creditCode": code, "legalRepresentative": "王五"}
    ).json()
    assert body["verified"] is False and why in body["reason"] and body["subjectId"] == ""


def test_weaker_check_does_not_rename_a_subject_verified_more_strongly(mesh, client, identity_stub, provider, business_line, apps):
    """An HTTP provider's IDENTITY_MATCH is not overwritten by a later format-only check of another name."""
    config = IdentityConfig(
        realname_providers={"scripted": ProviderEndpoint(provider.url, "key", "secret", allow_insecure_http=True, attempts=1)}
    )
    server = start_identity(mesh.env, config)
    try:
        apps.update_settings(business_line.app_id, {"real_name_provider": "scripted"})
        id_number = random_id_number()
        provider.answers = [(200, {"requestId": "req-1", "result": "MATCH", "level": "IDENTITY_MATCH"})]
        strong = server.stub.VerifyPerson(pb.VerifyPersonRequest(name="郑一", id_number=id_number),
                                          metadata=business_line.metadata)
        assert (strong.verified, strong.level) == (True, "IDENTITY_MATCH")
        assert provider.requests[0].json() == {"name": "郑一", "idNumber": id_number}
        subject = server.stub.GetSubject(pb.GetSubjectRequest(subject_id=strong.subject_id)).subject
        assert subject.real_name_method == "HTTP:scripted" and subject.verified_level == "IDENTITY_MATCH"

        # The mesh's business line uses the default, format-only checks.
        weak = client.post("/v1/identities:verifyPerson", {"name": "郑二", "idNumber": id_number}).json()
        assert weak["verified"] is False and "differs from the one verified" in weak["reason"]
        _no_full_numbers(weak["reason"], id_number)
        same_name = client.post("/v1/identities:verifyPerson", {"name": "郑一", "idNumber": id_number}).json()
        assert same_name["verified"] is True and same_name["level"] == "FORMAT_ONLY"
        kept = identity_stub.GetSubject(pb.GetSubjectRequest(subject_id=strong.subject_id)).subject
        assert (kept.name, kept.verified_level) == ("郑一", "IDENTITY_MATCH")

        provider.answers = [(200, {"requestId": "req-2", "result": "MISMATCH"})]
        org = server.stub.VerifyOrg(
            pb.VerifyOrgRequest(name="某某公司", credit_code=random_credit_code(), legal_representative="王五"),
            metadata=business_line.metadata,
        )
        assert org.verified is False and "do not match" in org.reason and org.subject_id.startswith("sub_")

        apps.update_settings(business_line.app_id, {"real_name_provider": "nonexistent"})
        with pytest.raises(grpc.RpcError) as caught:
            server.stub.VerifyPerson(pb.VerifyPersonRequest(name="郑一", id_number=id_number), metadata=business_line.metadata)
        assert caught.value.code() == grpc.StatusCode.FAILED_PRECONDITION and "nonexistent" in caught.value.details()
    finally:
        server.stop()


def test_provider_errors_come_back_masked(mesh, provider, business_line, apps):
    config = IdentityConfig(
        realname_providers={"scripted": ProviderEndpoint(provider.url, "key", "secret", allow_insecure_http=True, attempts=1)}
    )
    server = start_identity(mesh.env, config)
    try:
        apps.update_settings(business_line.app_id, {"real_name_provider": "scripted"})
        provider.answers = [(400, {"error": f"bad idNumber {VALID_ID}, mobile 13800000000, mail a.b@example.com"})]
        with pytest.raises(grpc.RpcError) as caught:
            server.stub.VerifyPerson(pb.VerifyPersonRequest(name="张三", id_number=VALID_ID, mobile="13800000000"),
                                     metadata=business_line.metadata)
        details = caught.value.details()
        assert caught.value.code() == grpc.StatusCode.FAILED_PRECONDITION
        assert "110101********4514" in details
        _no_full_numbers(details, VALID_ID, "13800000000", "a.b@example.com")
    finally:
        server.stop()


def test_the_provider_setting_is_shown_but_not_self_service(mesh, apps, business_line):
    apps.update_settings(business_line.app_id, {"real_name_provider": "acme"})
    rest = business_line.rest(mesh.base_url)
    assert rest.get("/v1/apps/self").json()["realNameProvider"] == "acme"
    reply = rest.request("PATCH", "/v1/apps/self", {"realNameProvider": "format_only"})
    assert reply.status_code == 400 and "realNameProvider" in reply.text
