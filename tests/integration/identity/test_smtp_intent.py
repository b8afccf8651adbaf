"""The running identity service's e-mail path: an identity server (outside dev mode, so
there is no outbox to fall back to) configured through its IDENTITY_SMTP_* settings to an
aiosmtpd server on loopback; an EMAIL intent started through REST, its code read from the
mail that arrived, confirmed for a token the signing path accepts."""
from __future__ import annotations

import re
import secrets
import time
from collections.abc import Iterator

import pytest
from aiosmtpd.controller import Controller

from econtract.identity.v1 import identity_pb2 as pb
from services.identity.config import load_config
from tests.integration.identity.platform import (
    SignerFixture,
    random_email,
    random_id_number,
    random_mobile,
    start_gateway,
    start_identity,
)
from tests.integration.identity.test_senders import Inbox, free_port

SENDER = "noreply@econtract.example"


@pytest.fixture(scope="module")
def inbox() -> Iterator[tuple[Inbox, int]]:
    received = Inbox()
    port = free_port()
    controller = Controller(received, hostname="127.0.0.1", port=port)
    controller.start()
    yield received, port
    controller.stop()


@pytest.fixture(scope="module")
def mailing_identity(mesh, fake_contract, inbox):
    _, port = inbox
    settings = {"IDENTITY_SMTP_HOST": "127.0.0.1", "IDENTITY_SMTP_PORT": str(port), "IDENTITY_SMTP_SECURITY": "none",
                "IDENTITY_SMTP_FROM": SENDER, "IDENTITY_SMTP_TIMEOUT": "30"}
    server = start_identity(mesh.env, load_config(settings, dev=False), ECONTRACT_ENV="prod",
                            CONTRACT_ADDR=fake_contract.address)
    gateway = start_gateway(server.env)
    yield server, gateway.base_url
    gateway.stop()
    server.stop()


def test_an_email_code_goes_through_smtp_and_confirms(mailing_identity, inbox, fake_contract, business_line):
    server, base_url = mailing_identity
    received, _ = inbox
    signer = SignerFixture(signer_id="sg_" + secrets.token_hex(6), app_id=business_line.app_id,
                           id_value=random_id_number(), mobile=random_mobile(), email=random_email())
    contract_id = "ct_" + secrets.token_hex(6)
    signer.add_contract(contract_id)
    fake_contract.service.signers[signer.signer_id] = signer
    rest = business_line.rest(base_url)

    reply = rest.post("/v1/intents", {"signerId": signer.signer_id, "contractIds": [contract_id], "method": "EMAIL"})
    assert reply.status_code == 200, reply.text
    started = reply.json()
    assert started["method"] == "EMAIL" and signer.email not in reply.text

    deadline = time.monotonic() + 30
    while not (mails := [m for m in received.messages if signer.email in m[1]]):
        assert time.monotonic() < deadline, "no mail arrived"
        time.sleep(0.1)
    [(mail_from, recipients, mail)] = mails
    assert mail_from == SENDER and recipients == [signer.email] and mail["To"] == signer.email
    assert mail["Subject"] == "【电子合同】签署验证码"
    code = re.fullmatch(r"【电子合同】您的验证码为(\d{6})，5分钟内有效，请勿泄露。", mail.get_content().strip()).group(1)

    confirmed = rest.post(f"/v1/intents/{started['challengeId']}:confirm", {"code": code})
    assert confirmed.status_code == 200, confirmed.text
    assert confirmed.json()["signerId"] == signer.signer_id and confirmed.json()["methods"] == ["EMAIL"]
    claims = server.stub.ConsumeIntentToken(pb.ConsumeIntentTokenRequest(
        intent_token=confirmed.json()["intentToken"], signer_id=signer.signer_id, contract_id=contract_id,
        document_sha256=list(signer.contracts[contract_id][1]))).claims
    assert claims.recipient == started["recipient"] and claims.app_id == business_line.app_id
