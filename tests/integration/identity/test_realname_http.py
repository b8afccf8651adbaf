import datetime as dt
import hashlib
import hmac
import socket

import pytest

from core.errors import FailedPrecondition, ResourceExhausted, Unavailable
from services.identity.provider_http import ProviderEndpoint, canonical_request
from services.identity.realname import HttpRealNameProvider, RealNameLevel, evidence_hash

SECRET = "provider-secret"


def endpoint(url, **overrides):
    options = dict(
        base_url=url, app_key="app-1", app_secret=SECRET, allow_insecure_http=True,
        connect_timeout=1.0, read_timeout=1.0, backoff_initial=0.01, backoff_max=0.05,
    )
    options.update(overrides)
    return ProviderEndpoint(**options)


def signature_ok(request) -> bool:
    h = request.headers
    canonical = canonical_request("POST", request.path, h["X-Timestamp"], h["X-Nonce"], request.body)
    return hmac.compare_digest(h["X-Signature"], hmac.new(SECRET.encode(), canonical, hashlib.sha256).hexdigest())


def test_person_match_signed_request_and_evidence(provider):
    provider.answers = [(200, {"requestId": "rq-1", "result": "MATCH", "level": "IDENTITY_MOBILE_MATCH", "message": "ok"})]
    realname = HttpRealNameProvider(endpoint(provider.url), name="acme")
    result = realname.verify_person("张三", "110101199003074514", "+86 13800000000")
    assert result.verified
    assert result.level is RealNameLevel.IDENTITY_MOBILE_MATCH
    assert result.method == "HTTP:acme"
    assert result.provider_reference == "rq-1"
    assert result.evidence_sha256 == evidence_hash(result.evidence)
    assert result.evidence["providerResponseSha256"] == hashlib.sha256(
        b'{"requestId": "rq-1", "result": "MATCH", "level": "IDENTITY_MOBILE_MATCH", "message": "ok"}'
    ).hexdigest()
    [request] = provider.requests
    assert request.path == "/v1/person/verify"
    assert request.json() == {"name": "张三", "idNumber": "110101199003074514", "mobile": "13800000000"}
    assert request.headers["X-App-Key"] == "app-1"
    assert len(request.headers["X-Nonce"]) == 32
    assert signature_ok(request)


def test_org_match(provider):
    provider.answers = [(200, {"requestId": "rq-2", "result": "MATCH", "level": "IDENTITY_MATCH"})]
    result = HttpRealNameProvider(endpoint(provider.url)).verify_org("某某科技有限公司", "91350100M000100Y43", "李四")
    assert result.verified and result.level is RealNameLevel.IDENTITY_MATCH
    assert provider.requests[0].path == "/v1/org/verify"
    assert provider.requests[0].json() == {
        "name": "某某科技有限公司", "creditCode": "91350100M000100Y43", "legalRepresentative": "李四",
    }


@pytest.mark.parametrize(
    "result, reason",
    [("MISMATCH", "the provider found the elements do not match"), ("NOT_FOUND", "the provider has no record of this identity")],
)
def test_negative_answers(provider, result, reason):
    provider.answers = [(200, {"requestId": "rq-3", "result": result})]
    got = HttpRealNameProvider(endpoint(provider.url)).verify_person("张三", "110101199003074514")
    assert not got.verified
    assert got.level is RealNameLevel.NONE
    assert got.reasons == (reason,)


def test_bad_format_is_refused_without_calling_the_provider(provider):
    provider.answers = [(200, {"requestId": "rq", "result": "MATCH", "level": "IDENTITY_MATCH"})]
    got = HttpRealNameProvider(endpoint(provider.url)).verify_person("张三", "110101199003074515")
    assert not got.verified and got.reasons == ("idNumber: check digit does not match",)
    assert provider.requests == []


def test_5xx_is_retried_with_fresh_nonces(provider):
    provider.answers = [
        (503, {"error": "busy"}),
        (502, b"bad gateway"),
        (200, {"requestId": "rq-4", "result": "MATCH", "level": "IDENTITY_MATCH"}),
    ]
    got = HttpRealNameProvider(endpoint(provider.url)).verify_person("张三", "110101199003074514")
    assert got.verified
    assert len(provider.requests) == 3
    assert len({r.headers["X-Nonce"] for r in provider.requests}) == 3
    assert all(signature_ok(r) for r in provider.requests)


def test_5xx_gives_up_after_the_bounded_attempts(provider):
    provider.answers = [(500, {"error": "id 110101199003074514 broke us"})]
    with pytest.raises(Unavailable, match="HTTP 500") as err:
        HttpRealNameProvider(endpoint(provider.url, attempts=3)).verify_person("张三", "110101199003074514")
    assert len(provider.requests) == 3
    assert "110101199003074514" not in err.value.message  # masked
    assert "110101********4514" in err.value.message


@pytest.mark.parametrize("status, error", [(400, FailedPrecondition), (401, FailedPrecondition), (429, ResourceExhausted)])
def test_4xx_is_not_retried(provider, status, error):
    provider.answers = [(status, {"error": "no"})]
    with pytest.raises(error):
        HttpRealNameProvider(endpoint(provider.url)).verify_person("张三", "110101199003074514")
    assert len(provider.requests) == 1


def test_read_timeout_is_not_retried(provider):
    provider.answers = [(200, {"requestId": "rq", "result": "MATCH", "level": "IDENTITY_MATCH"}, 0.6)]
    with pytest.raises(Unavailable, match="timed out"):
        HttpRealNameProvider(endpoint(provider.url, read_timeout=0.2)).verify_person("张三", "110101199003074514")
    assert len(provider.requests) == 1


def test_unreachable_provider():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again: nothing listens there
    with pytest.raises(Unavailable, match="unreachable"):
        HttpRealNameProvider(endpoint(f"http://127.0.0.1:{port}")).verify_person("张三", "110101199003074514")


@pytest.mark.parametrize(
    "answer",
    [
        {"result": "MATCH", "level": "IDENTITY_MATCH"},  # no requestId
        {"requestId": "x", "result": "MAYBE"},
        {"requestId": "x", "result": "MATCH", "level": "SUPREME"},
        {"requestId": "x", "result": "MATCH", "level": "FORMAT_ONLY"},
        b"not json",
        [1, 2],
    ],
)
def test_malformed_answers(provider, answer):
    provider.answers = [(200, answer)]
    with pytest.raises(Unavailable):
        HttpRealNameProvider(endpoint(provider.url)).verify_person("张三", "110101199003074514")


def test_endpoint_insists_on_https():
    with pytest.raises(ValueError, match="https"):
        ProviderEndpoint(base_url="http://provider.example.com", app_key="a", app_secret="s")
    ProviderEndpoint(base_url="https://provider.example.com", app_key="a", app_secret="s")


def test_clock_is_used_for_time(provider):
    at = dt.datetime(2026, 6, 1, tzinfo=dt.UTC)
    provider.answers = [(200, {"requestId": "rq", "result": "MATCH", "level": "IDENTITY_MATCH"})]
    got = HttpRealNameProvider(endpoint(provider.url), now=lambda: at).verify_person("张三", "110101199003074514")
    assert got.verified_at == at
    assert provider.requests[0].headers["X-Timestamp"] == str(int(at.timestamp()))
