"""Thin gRPC handlers of the identity service: proto → domain call → proto.

Every handler's domain errors leave with identifiers masked (``_masked_errors``), so an
ID number, mobile or e-mail a caller sent never comes back in full in an error text.
"""
from __future__ import annotations

import datetime as dt
import functools
from typing import Any, Callable, Protocol

from google.protobuf import json_format

from core.errors import DomainError, FailedPrecondition, FieldViolation, InvalidArgument, NotFound, invalid
from core.rpc.caller import caller, calling_app
from econtract.common.v1 import common_pb2
from econtract.identity.v1 import identity_pb2 as pb
from econtract.identity.v1 import identity_pb2_grpc
from services.identity.apps import App, Apps
from services.identity.intent_tokens import IntentClaims
from services.identity.intents import FacePerson, Intents, StartedIntent
from services.identity.masking import mask_text
from services.identity.notices import NoticeDelivery
from services.identity.policy import IntentMethod, IntentPolicy, SignerKind
from services.identity.realname import normalise_mobile
from services.identity.senders import Channel, DevOutboxSender
from services.identity.subjects import ID_CARD, Subject, Subjects
from services.identity.verification import RealNameVerification

# App settings that a business line manages itself, by their proto field names.
SELF_SETTINGS = ("webhook_url", "signing_page", "intent_policy", "trust_anchors", "seal_styles", "ca_provider")
# An administrator may also choose the app's real-name provider.
ADMIN_SETTINGS = (*SELF_SETTINGS, "real_name_provider")
# The app setting (set by an administrator) naming the real-name provider of a business line.
REAL_NAME_PROVIDER = "real_name_provider"
OUTBOX_PAGE = 20
OUTBOX_MAX_PAGE = 100


class IdentityParts(Protocol):
    """The domain objects the handlers call, built by the wiring (lazily, on first use)."""

    subjects: Subjects
    realname: RealNameVerification
    intents: Intents
    outbox: DevOutboxSender | None
    notices: NoticeDelivery


def _app_message(app: App) -> pb.App:
    message = pb.App(app_id=app.app_id, name=app.name, scopes=app.scopes, status=pb.App.Status.Value(app.status))
    json_format.ParseDict(app.settings, message, ignore_unknown_fields=True)
    message.create_time.FromDatetime(app.created_at)
    message.update_time.FromDatetime(app.updated_at)
    return message


def intent_policy(app: App) -> IntentPolicy:
    """The business line's intent policy, from its settings (stored in proto3 JSON form)."""
    as_json = json_format.MessageToDict(_app_message(app).intent_policy)
    try:
        return IntentPolicy.from_mapping(as_json)
    except InvalidArgument as exc:
        # Stored before policies were checked on the way in: the business line must fix it.
        raise FailedPrecondition(f"the intent policy of app {app.app_id} is invalid: {exc.message}") from None


def _settings_changes(request: pb.UpdateSelfAppRequest) -> dict:
    paths = list(request.update_mask.paths) or [f for f in SELF_SETTINGS if _is_set(request, f)]
    unknown = [p for p in paths if p not in SELF_SETTINGS]
    if unknown:
        raise InvalidArgument(f"update_mask names fields that cannot be changed here: {', '.join(unknown)}")
    if "intent_policy" in paths:
        IntentPolicy.from_mapping(json_format.MessageToDict(request.intent_policy))  # refuse inconsistent policies now
    everything = json_format.MessageToDict(request, preserving_proto_field_name=True)
    return {path: everything.get(path) for path in paths}


def _is_set(request, field: str) -> bool:
    value = getattr(request, field)
    if isinstance(value, str):
        return bool(value)
    if hasattr(value, "ListFields"):
        return request.HasField(field)
    return len(value) > 0


def _timestamp(moment: dt.datetime | None, target) -> None:
    if moment is not None:
        target.FromDatetime(moment)


def _subject_message(subject: Subject) -> pb.Subject:
    message = pb.Subject(
        subject_id=subject.subject_id,
        kind=common_pb2.SignerKind.Value(subject.kind.value),
        name=subject.name,
        identifiers=[common_pb2.SubjectRef(id_type=i.id_type, id=i.value) for i in subject.identifiers],
        legal_representative=subject.legal_representative,
        agent_subject_ids=subject.agent_ids,
        legal_representative_id_number_set=subject.legal_representative_id_set,
    )
    if subject.real_name is not None:
        message.verified_level = subject.real_name.level.name
        message.real_name_method = subject.real_name.method
        message.real_name_evidence_sha256 = subject.real_name.evidence_sha256
        _timestamp(subject.real_name.verified_at, message.verify_time)
    _timestamp(subject.created_at, message.create_time)
    return message


def _claims_message(claims: IntentClaims) -> common_pb2.IntentClaims:
    message = common_pb2.IntentClaims(
        token_id=claims.token_id,
        challenge_id=claims.challenge_id,
        app_id=claims.app_id,
        signer_id=claims.signer_id,
        subject_id=claims.subject_id,
        contract_ids=claims.contract_ids,
        method=common_pb2.IntentMethod.Value(claims.method.value),
        recipient=claims.recipient,
        face_reference=claims.face_reference,
    )
    for contract_id, hashes in claims.documents.items():
        message.document_hashes[contract_id].sha256.extend(hashes)
    message.issue_time.FromSeconds(claims.issued_at)
    message.expire_time.FromSeconds(claims.expires_at)
    return message


def _kind(value: int, field: str) -> SignerKind:
    name = common_pb2.SignerKind.Name(value) if value in common_pb2.SignerKind.values() else ""
    if name not in SignerKind.__members__:
        raise invalid(field, "must be PERSON or ORG")
    return SignerKind(name)


def _method(value: int) -> IntentMethod:
    name = common_pb2.IntentMethod.Name(value) if value in common_pb2.IntentMethod.values() else ""
    if name not in IntentMethod.__members__:
        raise invalid("method", "must be SMS, EMAIL or FACE")
    return IntentMethod(name)


def _started(started: StartedIntent, message) -> None:
    message.challenge_id = started.challenge_id
    message.recipient = started.recipient
    _timestamp(started.expires_at, message.expire_time)
    _timestamp(started.resend_at, message.resend_time)


def _mask(error: DomainError) -> None:
    error.message = mask_text(error.message)
    error.args = (error.message,)
    error.violations = tuple(FieldViolation(v.field, mask_text(v.description)) for v in error.violations)


def _masked_errors(handler: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(handler)
    def guarded(self, request, context):
        try:
            return handler(self, request, context)
        except DomainError as exc:
            _mask(exc)
            raise

    return guarded


def _masking_every_rpc(cls: type) -> type:
    for name in pb.DESCRIPTOR.services_by_name["IdentityService"].methods_by_name:
        if name in cls.__dict__:
            setattr(cls, name, _masked_errors(cls.__dict__[name]))
    return cls


@_masking_every_rpc
class IdentityApi(identity_pb2_grpc.IdentityServiceServicer):
    def __init__(self, apps: Apps, parts: IdentityParts):
        self.apps = apps
        self.parts = parts

    # -- apps ---------------------------------------------------------------------------

    def CreateApp(self, request, context):
        created = self.apps.create(request.name, list(request.scopes))
        return pb.CreateAppResponse(app=_app_message(created.app), app_secret=created.secret)

    def AuthenticateApp(self, request, context):
        app = self.apps.authenticate(request.app_id, request.canonical, request.signature)
        return pb.AuthenticateAppResponse(app_id=app.app_id, scopes=app.scopes, status=pb.App.Status.Value(app.status))

    def SignAppMessage(self, request, context):
        return pb.SignAppMessageResponse(signature=self.apps.sign(request.app_id, request.message))

    def ListApps(self, request, context):
        apps, token = self.apps.list(request.page_size, request.page_token)
        return pb.ListAppsResponse(apps=[_app_message(app) for app in apps], next_page_token=token)

    def UpdateApp(self, request, context):
        paths = set(request.update_mask.paths)
        if not paths:
            raise InvalidArgument("update_mask must name the fields to change")
        unknown = paths - {"name", "scopes", "status", *ADMIN_SETTINGS}
        if unknown:
            raise InvalidArgument(f"update_mask names fields that cannot be changed: {', '.join(sorted(unknown))}")
        app = request.app
        everything = json_format.MessageToDict(app, preserving_proto_field_name=True)
        updated = self.apps.update(
            app.app_id,
            name=app.name if "name" in paths else None,
            scopes=list(app.scopes) if "scopes" in paths else None,
            status=pb.App.Status.Name(app.status) if "status" in paths else None,
            settings={p: everything.get(p) for p in paths if p in ADMIN_SETTINGS},
        )
        return pb.UpdateAppResponse(app=_app_message(updated))

    def GetApp(self, request, context):
        return pb.GetAppResponse(app=_app_message(self.apps.get(request.app_id)))

    def GetAppCaProvider(self, request, context):
        provider = self.apps.ca_provider(request.app_id)
        message = pb.CaProvider(kind=pb.CaProvider.Kind.Value(provider.kind), est_url=provider.est_url,
                                est_tls_roots=provider.est_tls_roots, est_username=provider.est_username,
                                est_password_set=bool(provider.est_password))
        return pb.GetAppCaProviderResponse(ca_provider=message, est_password=provider.est_password)

    def RotateAppSecret(self, request, context):
        rotated = self.apps.rotate_secret(request.app_id)
        return pb.RotateAppSecretResponse(app=_app_message(rotated.app), app_secret=rotated.secret)

    def GetSelfApp(self, request, context):
        app = _app_message(self.apps.get(calling_app(context)))
        return pb.GetSelfAppResponse(**{f.name: getattr(app, f.name) for f, _ in app.ListFields()})

    def UpdateSelfApp(self, request, context):
        app = _app_message(self.apps.update_settings(calling_app(context), _settings_changes(request)))
        return pb.UpdateSelfAppResponse(**{f.name: getattr(app, f.name) for f, _ in app.ListFields()})

    # -- real-name verification ---------------------------------------------------------

    def _provider_of(self, context) -> str | None:
        app_id = caller(context).app_id
        return self.apps.get(app_id).settings.get(REAL_NAME_PROVIDER) if app_id else None

    def VerifyPerson(self, request, context):
        outcome = self.parts.realname.verify_person(self._provider_of(context), request.name, request.id_number, request.mobile)
        return pb.VerifyPersonResponse(
            verified=outcome.verified, level=outcome.level, subject_id=outcome.subject_id, reason=outcome.reason
        )

    def VerifyOrg(self, request, context):
        outcome = self.parts.realname.verify_org(
            self._provider_of(context), request.name, request.credit_code, request.legal_representative
        )
        return pb.VerifyOrgResponse(
            verified=outcome.verified, level=outcome.level, subject_id=outcome.subject_id, reason=outcome.reason
        )

    # -- subjects -----------------------------------------------------------------------

    def ResolveSubject(self, request, context):
        subjects = self.parts.subjects
        identifier = subjects.identifier(request.subject.id_type, request.subject.id, "subject")
        return pb.ResolveSubjectResponse(subject=_subject_message(subjects.resolve(identifier)))

    def GetSubject(self, request, context):
        if not request.subject_id:
            raise invalid("subjectId", "is required")
        return pb.GetSubjectResponse(subject=_subject_message(self.parts.subjects.get(request.subject_id)))

    def UpsertSubject(self, request, context):
        subjects = self.parts.subjects
        upserted = subjects.upsert(
            _kind(request.kind, "kind"),
            request.name,
            [subjects.identifier(r.id_type, r.id, f"identifiers[{i}]") for i, r in enumerate(request.identifiers)],
            request.legal_representative,
            [subjects.identifier(r.id_type, r.id, f"authorizedAgents[{i}]") for i, r in enumerate(request.authorized_agents)],
            subjects.identifier(ID_CARD, request.legal_representative_id_number, "legalRepresentativeIdNumber")
            if request.legal_representative_id_number else None,
        )
        return pb.UpsertSubjectResponse(subject=_subject_message(upserted.subject), created=upserted.created)

    # -- intents ------------------------------------------------------------------------

    def CreateIntent(self, request, context):
        person = request.face_person
        started = self.parts.intents.create(
            request.signer_id, list(request.contract_ids), _method(request.method), caller(context).app_id,
            FacePerson(person.id_number, person.name) if request.HasField("face_person") else None,
        )
        reply = pb.CreateIntentResponse(method=common_pb2.IntentMethod.Value(started.method.value))
        _started(started, reply)
        return reply

    def ConfirmIntent(self, request, context):
        intents, app_id = self.parts.intents, caller(context).app_id
        if request.code and request.face_result:
            raise invalid("code", "give either the code or faceResult, not both")
        if request.face_result:
            issued = intents.confirm_face(request.challenge_id, request.face_result, app_id, request.intent_token)
        elif request.code:
            issued = intents.confirm_code(request.challenge_id, request.code, app_id, request.intent_token)
        else:
            raise invalid("code", "give the one-time code (SMS, EMAIL) or faceResult (FACE)")
        reply = pb.ConfirmIntentResponse(
            intent_token=issued.token, signer_id=issued.claims.signer_id, contract_ids=issued.claims.contract_ids,
            methods=[common_pb2.IntentMethod.Value(m.value) for m in issued.claims.all_methods],
            missing_methods=[common_pb2.IntentMethod.Value(m.value) for m in issued.missing],
        )
        reply.expire_time.FromSeconds(issued.claims.expires_at)
        return reply

    def ResendIntent(self, request, context):
        started = self.parts.intents.resend(request.challenge_id, caller(context).app_id)
        reply = pb.ResendIntentResponse()
        _started(started, reply)
        return reply

    def ConsumeIntentToken(self, request, context):
        claims = self.parts.intents.consume(
            request.intent_token, request.signer_id, request.contract_id, list(request.document_sha256)
        )
        return pb.ConsumeIntentTokenResponse(
            claims=_claims_message(claims), face_person_subject_id=claims.face_person_id,
            face_person_basis=claims.face_person_basis,
            methods=[common_pb2.IntentMethod.Value(m.value) for m in claims.all_methods],
        )

    def SendNotice(self, request, context):
        channels = {pb.NOTICE_CHANNEL_SMS: Channel.SMS, pb.NOTICE_CHANNEL_EMAIL: Channel.EMAIL}
        if request.channel not in channels:
            raise invalid("channel", "must be NOTICE_CHANNEL_SMS or NOTICE_CHANNEL_EMAIL")
        message_id = self.parts.notices.send(channels[request.channel], request.recipient, request.subject,
                                             request.body, request.notice_id)
        return pb.SendNoticeResponse(message_id=message_id)

    def ListDevOutbox(self, request, context):
        outbox = self.parts.outbox
        if outbox is None:
            # Outside dev mode the outbox does not exist at all, rather than being empty.
            raise NotFound("the dev outbox exists only in dev mode (ECONTRACT_ENV=dev)")
        recipient = request.recipient.strip()
        recipient = normalise_mobile(recipient) or recipient.lower()
        size = min(request.page_size or OUTBOX_PAGE, OUTBOX_MAX_PAGE)
        messages = []
        for entry in outbox.list_outbox(recipient or None, max(size, 1)):
            message = pb.OutboxMessage(
                message_id=entry.message_id,
                channel=pb.OutboxMessage.Channel.Value(entry.channel.value),
                recipient=entry.recipient,
                subject=entry.subject,
                body=entry.body,
                code=entry.code,
                challenge_id=entry.challenge_id,
            )
            message.create_time.FromDatetime(entry.created_at)
            messages.append(message)
        return pb.ListDevOutboxResponse(messages=messages)
