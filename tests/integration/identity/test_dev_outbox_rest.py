"""GET /v1/dev/outbox: the dev-mode stand-in for SMS and e-mail, and its absence elsewhere."""
import grpc
import pytest

from econtract.identity.v1 import identity_pb2 as pb
from services.identity.senders import Channel, DevOutboxSender, code_message
from tests.integration.identity.platform import random_email, random_mobile
from tests.support.signed import SignedClient


@pytest.fixture
def outbox(mesh) -> DevOutboxSender:
    ctx = mesh.contexts["identity"]
    return DevOutboxSender(ctx.redis, dev_mode=True, namespace=ctx.settings.redis_prefix.rstrip(":") + ":identity")


def test_outbox_lists_messages_newest_first_per_recipient(client, outbox):
    mobile, email = random_mobile(), random_email()
    outbox.send(code_message(Channel.SMS, mobile, "111111", challenge_id="ch_first"))
    outbox.send(code_message(Channel.SMS, mobile, "222222", challenge_id="ch_second"))
    outbox.send(code_message(Channel.EMAIL, email, "333333", challenge_id="ch_mail"))

    reply = client.get(f"/v1/dev/outbox?recipient=%2B86{mobile}")  # +86 form finds the 11-digit recipient
    assert reply.status_code == 200, reply.text
    messages = reply.json()["messages"]
    assert [m["code"] for m in messages] == ["222222", "111111"]
    assert messages[0]["channel"] == "SMS" and messages[0]["recipient"] == mobile and messages[0]["createTime"]

    one = client.get(f"/v1/dev/outbox?recipient={mobile}&pageSize=1").json()["messages"]
    assert [m["challengeId"] for m in one] == ["ch_second"]
    [mail] = client.get(f"/v1/dev/outbox?recipient={email}").json()["messages"]
    assert mail["channel"] == "EMAIL" and mail["subject"] and "333333" in mail["body"]


def test_outbox_needs_its_scope(mesh, apps):
    plain = apps.create("no-outbox")  # the default scopes leave dev:outbox out
    reply = SignedClient(mesh.base_url, plain.app.app_id, plain.secret).get("/v1/dev/outbox")
    assert reply.status_code == 403 and "dev:outbox" in reply.json()["message"]


def test_outside_dev_mode_the_outbox_does_not_exist(prod_gateway, prod_identity, client, outbox):
    outbox.send(code_message(Channel.SMS, random_mobile(), "444444"))  # there is something to leak
    rest = SignedClient(prod_gateway.base_url, client.app_id, client.secret)
    reply = rest.get("/v1/dev/outbox")
    assert reply.status_code == 404, reply.text
    body = reply.json()
    assert body["code"] == 5 and "dev mode" in body["message"] and "444444" not in reply.text
    with pytest.raises(grpc.RpcError) as caught:
        prod_identity.stub.ListDevOutbox(pb.ListDevOutboxRequest())
    assert caught.value.code() == grpc.StatusCode.NOT_FOUND
