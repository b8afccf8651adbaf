"""Thin gRPC handlers of the identity service: proto → domain call → proto."""
from __future__ import annotations

from google.protobuf import json_format

from core.errors import InvalidArgument
from core.rpc.caller import calling_app
from econtract.identity.v1 import identity_pb2 as pb
from econtract.identity.v1 import identity_pb2_grpc
from services.identity.apps import App, Apps

# App settings that a business line manages itself, by their proto field names.
SELF_SETTINGS = ("webhook_url", "signing_page", "intent_policy", "trust_anchors")


def _app_message(app: App) -> pb.App:
    message = pb.App(app_id=app.app_id, name=app.name, scopes=app.scopes, status=pb.App.Status.Value(app.status))
    json_format.ParseDict(app.settings, message, ignore_unknown_fields=True)
    message.create_time.FromDatetime(app.created_at)
    message.update_time.FromDatetime(app.updated_at)
    return message


def _settings_changes(request: pb.UpdateSelfAppRequest) -> dict:
    paths = list(request.update_mask.paths) or [f for f in SELF_SETTINGS if _is_set(request, f)]
    unknown = [p for p in paths if p not in SELF_SETTINGS]
    if unknown:
        raise InvalidArgument(f"update_mask names fields that cannot be changed here: {', '.join(unknown)}")
    everything = json_format.MessageToDict(request, preserving_proto_field_name=True)
    return {path: everything.get(path) for path in paths}


def _is_set(request, field: str) -> bool:
    value = getattr(request, field)
    if isinstance(value, str):
        return bool(value)
    if hasattr(value, "ListFields"):
        return request.HasField(field)
    return len(value) > 0


class IdentityApi(identity_pb2_grpc.IdentityServiceServicer):
    def __init__(self, apps: Apps):
        self.apps = apps

    def CreateApp(self, request, context):
        created = self.apps.create(request.name, list(request.scopes))
        return pb.CreateAppResponse(app=_app_message(created.app), app_secret=created.secret)

    def AuthenticateApp(self, request, context):
        app = self.apps.authenticate(request.app_id, request.canonical, request.signature)
        return pb.AuthenticateAppResponse(app_id=app.app_id, scopes=app.scopes, status=pb.App.Status.Value(app.status))

    def SignAppMessage(self, request, context):
        return pb.SignAppMessageResponse(signature=self.apps.sign(request.app_id, request.message))

    def GetApp(self, request, context):
        return pb.GetAppResponse(app=_app_message(self.apps.get(request.app_id)))

    def RotateAppSecret(self, request, context):
        rotated = self.apps.rotate_secret(request.app_id)
        return pb.RotateAppSecretResponse(app=_app_message(rotated.app), app_secret=rotated.secret)

    def GetSelfApp(self, request, context):
        app = _app_message(self.apps.get(calling_app(context)))
        return pb.GetSelfAppResponse(**{f.name: getattr(app, f.name) for f, _ in app.ListFields()})

    def UpdateSelfApp(self, request, context):
        app = _app_message(self.apps.update_settings(calling_app(context), _settings_changes(request)))
        return pb.UpdateSelfAppResponse(**{f.name: getattr(app, f.name) for f, _ in app.ListFields()})
