"""Administering apps over gRPC (used by the console and the CLI)."""
import grpc
import pytest
from google.protobuf import field_mask_pb2

from econtract.identity.v1 import identity_pb2 as pb
from econtract.identity.v1 import identity_pb2_grpc


@pytest.fixture(scope="module")
def identity(mesh):
    channel = grpc.insecure_channel(mesh.env["IDENTITY_ADDR"])
    yield identity_pb2_grpc.IdentityServiceStub(channel)
    channel.close()


def test_list_pages_through_every_app_once(identity, apps):
    made = {apps.create(f"list-{i}").app.app_id for i in range(3)}
    seen, token = [], ""
    while True:
        page = identity.ListApps(pb.ListAppsRequest(page_size=2, page_token=token), timeout=5)
        seen.extend(app.app_id for app in page.apps)
        token = page.next_page_token
        if not token:
            break
    assert made <= set(seen) and len(seen) == len(set(seen))


def test_update_changes_only_the_masked_fields(identity, apps):
    app_id = apps.create("before").app.app_id
    reply = identity.UpdateApp(pb.UpdateAppRequest(
        app=pb.App(app_id=app_id, name="after", scopes=["contract:read"], status=pb.App.DISABLED,
                   webhook_url="https://hooks.example.com/x"),
        update_mask=field_mask_pb2.FieldMask(paths=["name", "status"])), timeout=5)
    assert reply.app.name == "after" and reply.app.status == pb.App.DISABLED
    assert "contract:read" != list(reply.app.scopes) and reply.app.webhook_url == ""


def test_update_refuses_unknown_scopes_and_fields(identity, apps):
    app_id = apps.create("strict").app.app_id
    with pytest.raises(grpc.RpcError) as caught:
        identity.UpdateApp(pb.UpdateAppRequest(app=pb.App(app_id=app_id, scopes=["root"]),
                                               update_mask=field_mask_pb2.FieldMask(paths=["scopes"])), timeout=5)
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT and "root" in caught.value.details()
    with pytest.raises(grpc.RpcError) as caught:
        identity.UpdateApp(pb.UpdateAppRequest(app=pb.App(app_id=app_id),
                                               update_mask=field_mask_pb2.FieldMask(paths=["app_id"])), timeout=5)
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
