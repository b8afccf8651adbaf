"""Idempotency-Key and per-app rate limits at the gateway, against the real mesh and Redis."""
import base64
import secrets
import threading

from services.identity.apps import SCOPES
from tests.fixtures.docx_fixtures import simple_docx
from tests.support.signed import SignedClient

SIGNERS = [{"role": "buyer", "kind": "PERSON", "positions": [{"page": 1, "x": 100, "y": 100}]}]


def _template_body(name: str) -> dict:
    return {"name": name, "docx": base64.b64encode(simple_docx("买方：{{ buyer }}")).decode(), "signers": SIGNERS}


def _count(client: SignedClient, name: str) -> int:
    listed = client.get("/v1/templates?nameQuery=" + name)
    assert listed.status_code == 200, listed.text
    return sum(1 for t in listed.json()["templates"] if t["name"] == name)


def test_same_key_and_body_replays_the_first_response(client):
    name = "idem-" + secrets.token_hex(4)
    key = {"Idempotency-Key": "create-" + name}
    first = client.post("/v1/templates", _template_body(name), headers=key)
    assert first.status_code == 200, first.text
    again = client.post("/v1/templates", _template_body(name), headers=key)
    assert again.status_code == 200 and again.headers["Idempotent-Replayed"] == "true"
    assert again.json()["templateId"] == first.json()["templateId"]
    assert _count(client, name) == 1


def test_same_key_with_another_body_is_409(client):
    name = "idem-" + secrets.token_hex(4)
    key = {"Idempotency-Key": "create-" + name}
    assert client.post("/v1/templates", _template_body(name), headers=key).status_code == 200
    other = client.post("/v1/templates", _template_body(name + "-other"), headers=key)
    assert other.status_code == 409 and other.json()["code"] == 6
    assert _count(client, name + "-other") == 0


def test_concurrent_requests_with_one_key_create_one_template(client):
    name = "idem-" + secrets.token_hex(4)
    key = {"Idempotency-Key": "race-" + name}
    replies = []
    threads = [threading.Thread(target=lambda: replies.append(client.post("/v1/templates", _template_body(name), headers=key)))
               for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted({r.status_code for r in replies}) in ([200], [200, 409])
    assert _count(client, name) == 1


def test_errors_are_replayed_too_but_never_server_failures(client):
    key = {"Idempotency-Key": "bad-" + secrets.token_hex(4)}
    bad = client.post("/v1/templates", {"name": "x", "docx": base64.b64encode(b"not a docx").decode(), "signers": SIGNERS},
                      headers=key)
    assert bad.status_code == 400
    again = client.post("/v1/templates", {"name": "x", "docx": base64.b64encode(b"not a docx").decode(), "signers": SIGNERS},
                        headers=key)
    assert again.status_code == 400 and again.headers.get("Idempotent-Replayed") == "true"


def test_rate_limit_answers_429_with_retry_after(mesh, apps):
    from core.settings import load
    from gateway.ratelimit import Rate
    from tests.conftest import free_port
    from tests.support.mesh import start_gateway

    settings = load("gateway", {**mesh.env, "GATEWAY_ADDR": f"127.0.0.1:{free_port()}"})
    server, thread = start_gateway(settings, None, rate=Rate(per_second=0.2, burst=3))
    try:
        busy = apps.create("burst-" + secrets.token_hex(3), SCOPES)
        calm = apps.create("calm-" + secrets.token_hex(3), SCOPES)
        base = "http://" + settings.address
        busy_client, calm_client = SignedClient(base, busy.app.app_id, busy.secret), SignedClient(base, calm.app.app_id, calm.secret)
        statuses = [busy_client.get("/v1/apps/self").status_code for _ in range(5)]
        assert statuses[:3] == [200, 200, 200] and statuses[3:] == [429, 429]
        limited = busy_client.get("/v1/apps/self")
        assert limited.json()["code"] == 8 and int(limited.headers["Retry-After"]) >= 1
        assert calm_client.get("/v1/apps/self").status_code == 200  # limits are per app
    finally:
        server.should_exit = True
        thread.join(10)
