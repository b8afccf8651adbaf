import hashlib
import hmac

import pytest

from core.errors import PermissionDenied, Unauthenticated
from gateway import auth


def test_canonical_string_is_exactly_as_documented():
    body = b'{"a":1}'
    got = auth.canonical("post", "/v1/contracts?x=1", "1700000000", "nonce-123", body)
    assert got == ("POST\n/v1/contracts?x=1\n1700000000\nnonce-123\n" + hashlib.sha256(body).hexdigest()).encode()


def test_signature_over_canonical_matches_an_independent_hmac():
    canonical = auth.canonical("GET", "/v1/templates", "1", "abcdefgh", b"")
    expected = hmac.new(b"secret", canonical, hashlib.sha256).hexdigest()
    assert len(expected) == 64 and expected == expected.lower()


@pytest.mark.parametrize("skew", [301, -301, 10_000])
def test_clock_window_refuses_stale_and_future_timestamps(skew):
    with pytest.raises(Unauthenticated, match="300 s"):
        auth.check_clock(str(1_700_000_000 + skew), now=1_700_000_000)


def test_clock_window_accepts_the_edge():
    auth.check_clock(str(1_700_000_300), now=1_700_000_000)
    auth.check_clock(str(1_699_999_700), now=1_700_000_000)


def test_non_numeric_timestamp_is_refused():
    with pytest.raises(Unauthenticated, match="unix seconds"):
        auth.check_clock("2026-01-01T00:00:00Z", now=0)


def test_missing_headers_are_all_named():
    with pytest.raises(Unauthenticated) as caught:
        auth.read_headers({"x-app-id": "app_1"})
    assert "X-Timestamp" in caught.value.message and "X-Nonce" in caught.value.message
    assert "X-Signature" in caught.value.message and "X-App-Id" not in caught.value.message


def test_uppercase_signature_is_refused():
    with pytest.raises(Unauthenticated, match="lowercase hex"):
        auth.read_headers({"x-app-id": "a", "x-timestamp": "1", "x-nonce": "abcdefgh", "x-signature": "AB" * 32})


def test_scope_check():
    auth.check_scope(("contract:read",), "contract:read")
    with pytest.raises(PermissionDenied, match="template:review"):
        auth.check_scope(("contract:read",), "template:review")
