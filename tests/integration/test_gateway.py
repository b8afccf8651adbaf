"""The gateway against the real mesh: authentication, errors, transcoding, health."""
import json
import time

import httpx

from services.identity.apps import SCOPES
from tests.support.signed import SignedClient


def _status(reply: httpx.Response) -> dict:
    body = reply.json()
    assert set(body) >= {"code", "message", "details"}, body
    return body


def test_healthz_reports_every_service_serving(mesh):
    reply = httpx.get(mesh.base_url + "/healthz")
    assert reply.status_code == 200
    assert reply.json() == {
        "status": "SERVING",
        "services": {name: "SERVING" for name in ("template", "contract", "signing", "identity", "filegen")},
    }


def test_signed_request_reaches_the_service(client):
    reply = client.get("/v1/apps/self")
    assert reply.status_code == 200, reply.text
    body = reply.json()
    assert body["appId"] == client.app_id and body["name"] == "integration"
    assert "template:review" in body["scopes"] and body["status"] == "ACTIVE"
    assert reply.headers["traceparent"].startswith("00-")


def test_settings_round_trip_through_patch(client):
    reply = client.request("PATCH", "/v1/apps/self", {"webhookUrl": "https://hooks.example.com/econtract"})
    assert reply.status_code == 200, reply.text
    assert client.get("/v1/apps/self").json()["webhookUrl"] == "https://hooks.example.com/econtract"


def test_wrong_signature_is_401(client):
    bad = SignedClient(str(client.http.base_url), client.app_id, "not-the-secret")
    reply = bad.get("/v1/apps/self")
    assert reply.status_code == 401
    body = _status(reply)
    assert body["code"] == 16 and "signature" in body["message"]
    assert "not-the-secret" not in reply.text


def test_unknown_app_is_401_with_the_same_message(client):
    reply = SignedClient(str(client.http.base_url), "app_nobody", client.secret).get("/v1/apps/self")
    assert reply.status_code == 401 and _status(reply)["message"] == "bad app id or signature"


def test_stale_timestamp_is_401(client):
    reply = client.get("/v1/apps/self", timestamp=int(time.time()) - 301)
    assert reply.status_code == 401 and "X-Timestamp" in _status(reply)["message"]


def test_replayed_nonce_is_401(client):
    first = client.get("/v1/apps/self", nonce="replay-nonce-" + str(time.time_ns()))
    assert first.status_code == 200
    again = client.get("/v1/apps/self", nonce=first.request.headers["X-Nonce"])
    assert again.status_code == 401 and "replayed" in _status(again)["message"]


def test_missing_headers_are_401(mesh):
    reply = httpx.get(mesh.base_url + "/v1/apps/self")
    assert reply.status_code == 401 and _status(reply)["code"] == 16


def test_tampered_body_is_401(client):
    headers = {"X-App-Id": client.app_id}
    from tests.support.signed import sign_headers

    signed = sign_headers(client.app_id, client.secret, "PATCH", "/v1/apps/self", b'{"webhookUrl":"https://a.example"}')
    reply = client.http.patch("/v1/apps/self", content=b'{"webhookUrl":"https://evil.example"}', headers={**headers, **signed})
    assert reply.status_code == 401


def test_missing_scope_is_403(mesh, apps):
    limited = apps.create("no-review", ["template:read"])
    signed = SignedClient(mesh.base_url, limited.app.app_id, limited.secret)
    reply = signed.post("/v1/templates/tpl_x/versions/1:approve", {"comment": "ok"})
    assert reply.status_code == 403
    assert "template:review" in _status(reply)["message"]


def test_unimplemented_is_501():
    # Every RPC is implemented now (client-side signing was the last); the mapping still holds.
    from core.errors import Unimplemented
    from gateway.errors import domain_error_response

    reply = domain_error_response(Unimplemented("not here"))
    assert reply.status_code == 501 and json.loads(reply.body)["code"] == 12


def test_client_side_signing_checks_its_input(client):
    reply = client.post("/v1/contracts/ct_x:prepareSign", {"signerId": "sg_x"})
    assert reply.status_code == 400 and _status(reply)["code"] == 3


def test_unknown_route_is_404(client):
    reply = client.get("/v1/nothing-here")
    assert reply.status_code == 404 and _status(reply)["code"] == 5


def _violations(reply: httpx.Response) -> list[str]:
    assert reply.status_code == 400, reply.text
    body = _status(reply)
    assert body["code"] == 3
    details = [d for d in body["details"] if d["@type"].endswith("google.rpc.BadRequest")]
    return [v["field"] for d in details for v in d["fieldViolations"]]


def test_malformed_json_is_400_naming_the_body(client):
    assert _violations(client.request("PATCH", "/v1/apps/self", raw=b'{"webhookUrl": ')) == ["body"]


def test_wrong_type_is_400_naming_the_field(client):
    assert "webhookUrl" in _violations(client.request("PATCH", "/v1/apps/self", {"webhookUrl": 5}))


def test_unknown_enum_is_400_naming_the_field(client):
    fields = _violations(client.post("/v1/contracts/ct_1:signUrl", {"signerId": "sg_1", "source": "TABLET"}))
    assert fields and "source" in fields[0]


def test_unknown_field_is_400_naming_it(client):
    assert "colour" in _violations(client.request("PATCH", "/v1/apps/self", {"colour": "red"}))[0]


def test_bad_query_parameter_is_400_naming_it(client):
    assert _violations(client.get("/v1/templates?pageSize=many")) == ["pageSize"]


def test_openapi_is_generated_from_the_protos(mesh):
    doc = httpx.get(mesh.base_url + "/openapi.json").json()
    sign = doc["paths"]["/v1/contracts/{contract_id}:sign"]["post"]
    assert "contract:write" in sign["description"]
    assert doc["paths"]["/v1/trust/roots"]["get"]["security"] == []
    assert "/v1/apps/self" in doc["paths"] and "patch" in doc["paths"]["/v1/apps/self"]
    assert sign["summary"] and sign["summary"] != "SignContract"  # the proto comment


def test_every_scope_named_by_a_route_exists(mesh):
    from gateway.routes import build_routes

    for route in build_routes():
        assert route.access.public or route.access.scope in SCOPES, route.template


def test_deeply_nested_json_is_400_naming_the_body(client):
    reply = client.request("PATCH", "/v1/apps/self", raw=b"[" * 100_000)
    assert _violations(reply) == ["body"]
    assert "nested too deeply" in _status(reply)["message"]


def test_overlong_json_number_is_400_naming_the_body(client):
    assert _violations(client.request("PATCH", "/v1/apps/self", raw=b'{"webhookUrl": ' + b"9" * 5000 + b"}")) == ["body"]


def test_unreachable_redis_is_503_with_a_status_body(mesh, apps):
    from core.settings import load
    from tests.conftest import free_port
    from tests.support.mesh import start_gateway

    closed = free_port()  # bound and released: nothing listens there
    settings = load("gateway", {**mesh.env, "GATEWAY_ADDR": f"127.0.0.1:{free_port()}",
                                "REDIS_URL": f"redis://127.0.0.1:{closed}/0"})
    server, thread = start_gateway(settings, None)
    try:
        created = apps.create("no-redis", ["template:read"])
        reply = SignedClient("http://" + settings.address, created.app.app_id, created.secret).get("/v1/apps/self")
        assert reply.status_code == 503, reply.text
        assert _status(reply) == {"code": 14, "message": "service temporarily unavailable", "details": []}
        assert str(closed) not in reply.text
    finally:
        server.should_exit = True
        thread.join(10)


def test_unexpected_gateway_error_is_internal_with_the_trace_id_only(mesh, apps, redis_client, caplog):
    created = apps.create("broken-limit", ["template:read"])
    # A rate-limit record of the wrong type: Redis answers WRONGTYPE, which no code path expects.
    limit_key = f"{mesh.settings('gateway').redis_prefix}ratelimit:{created.app.app_id}"
    redis_client.rpush(limit_key, "not-a-time")
    redis_client.expire(limit_key, 600)
    reply = SignedClient(mesh.base_url, created.app.app_id, created.secret).get("/v1/apps/self")
    assert reply.status_code == 500, reply.text
    trace_id = reply.headers["traceparent"].split("-")[1]
    assert _status(reply) == {"code": 13, "message": f"internal error (trace {trace_id})", "details": []}
    assert "WRONGTYPE" not in reply.text and "ratelimit" not in reply.text
    logged = [r for r in caplog.records if r.name == "gateway.app" and trace_id in r.getMessage()]
    assert len(logged) == 1 and logged[0].exc_info is not None
    assert "WRONGTYPE" in logged[0].exc_text or "WRONGTYPE" in str(logged[0].exc_info[1])
