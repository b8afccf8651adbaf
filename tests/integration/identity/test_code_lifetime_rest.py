"""One-time codes through REST on identity servers with their own settings: a short code
lifetime (``IDENTITY_OTP_TTL_SECONDS``) after which the right code is refused, and a new
challenge for the same signer and recipient retiring the one before it."""
from __future__ import annotations

import datetime as dt
import secrets
import time
from collections.abc import Iterator
from urllib.parse import urlencode

import pytest

from services.identity.config import IdentityConfig
from tests.integration.identity.platform import (
    SignerFixture,
    random_email,
    random_id_number,
    random_mobile,
    start_gateway,
    start_identity,
)

SHORT_LIFETIME = 3


def _running(mesh, fake_contract, config: IdentityConfig) -> Iterator[str]:
    server = start_identity(mesh.env, config, CONTRACT_ADDR=fake_contract.address)
    gateway = start_gateway(server.env)
    try:
        yield gateway.base_url
    finally:
        gateway.stop()
        server.stop()


@pytest.fixture(scope="module")
def short_lived(mesh, fake_contract) -> Iterator[str]:
    """The base URL of a gateway before an identity server whose codes live 3 s."""
    yield from _running(mesh, fake_contract, IdentityConfig(otp_ttl_seconds=SHORT_LIFETIME))


@pytest.fixture(scope="module")
def quick_resend(mesh, fake_contract) -> Iterator[str]:
    """The base URL of a gateway before an identity server whose recipients may get a code every second."""
    yield from _running(mesh, fake_contract, IdentityConfig(otp_resend_cooldown_seconds=1))


@pytest.fixture
def signer(fake_contract, business_line) -> SignerFixture:
    fixture = SignerFixture(signer_id="sg_" + secrets.token_hex(6), app_id=business_line.app_id,
                            id_value=random_id_number(), mobile=random_mobile(), email=random_email())
    fixture.add_contract("ct_" + secrets.token_hex(6))
    fake_contract.service.signers[fixture.signer_id] = fixture
    return fixture


def ok(reply) -> dict:
    assert reply.status_code == 200, reply.text
    return reply.json()


def start(rest, signer: SignerFixture, method: str = "SMS", *, patient: bool = False) -> dict:
    """POST /v1/intents; ``patient`` waits out the recipient's resend cooldown."""
    body = {"signerId": signer.signer_id, "contractIds": list(signer.contracts), "method": method}
    deadline = time.monotonic() + 60
    while True:
        reply = rest.post("/v1/intents", body)
        if not (patient and reply.status_code == 429 and time.monotonic() < deadline):
            return ok(reply)
        time.sleep(0.2)


def code_of(rest, recipient: str, challenge_id: str) -> str:
    messages = ok(rest.get("/v1/dev/outbox?" + urlencode({"recipient": recipient})))["messages"]
    [code] = [m["code"] for m in messages if m["challengeId"] == challenge_id]
    return code


def confirm(rest, challenge_id: str, code: str):
    return rest.post(f"/v1/intents/{challenge_id}:confirm", {"code": code})


def test_a_code_is_refused_once_its_configured_lifetime_is_over(short_lived, business_line, signer):
    rest = business_line.rest(short_lived)
    before = dt.datetime.now(dt.UTC)
    started = start(rest, signer)
    after = dt.datetime.now(dt.UTC)
    expires = dt.datetime.fromisoformat(started["expireTime"].replace("Z", "+00:00"))
    lifetime = dt.timedelta(seconds=SHORT_LIFETIME)
    assert before + lifetime - dt.timedelta(seconds=1) <= expires <= after + lifetime + dt.timedelta(seconds=1)
    code = code_of(rest, signer.mobile, started["challengeId"])

    while dt.datetime.now(dt.UTC) < expires + dt.timedelta(seconds=2):
        time.sleep(0.2)
    late = confirm(rest, started["challengeId"], code)
    assert late.status_code == 404, late.text
    assert late.json()["message"] == f"challenge {started['challengeId']} does not exist or has expired"


def test_a_new_challenge_retires_the_previous_one_for_the_same_recipient(quick_resend, business_line, signer):
    rest = business_line.rest(quick_resend)
    first = start(rest, signer)
    first_code = code_of(rest, signer.mobile, first["challengeId"])
    by_email = start(rest, signer, "EMAIL")  # another recipient: stays valid
    second = start(rest, signer, patient=True)
    second_code = code_of(rest, signer.mobile, second["challengeId"])

    retired = confirm(rest, first["challengeId"], first_code)
    assert retired.status_code == 400, retired.text
    assert retired.json()["message"] == (f"challenge {first['challengeId']} was replaced by a newer code sent to the "
                                         f"same recipient; use the latest code")
    assert confirm(rest, first["challengeId"], first_code).status_code == 400  # retired for good
    assert ok(confirm(rest, second["challengeId"], second_code))["signerId"] == signer.signer_id
    email_code = code_of(rest, signer.email, by_email["challengeId"])
    assert ok(confirm(rest, by_email["challengeId"], email_code))["intentToken"]
