"""Thin gRPC handlers of the signing service: proto → domain call → proto."""
from __future__ import annotations

import datetime as dt
import hashlib

from cryptography.hazmat.primitives import serialization
from google.protobuf import timestamp_pb2

from core.blobs import BlobStore
from core.errors import invalid
from core.rpc.caller import caller
from econtract.common.v1 import common_pb2
from econtract.signing.v1 import signing_pb2 as pb
from econtract.signing.v1 import signing_pb2_grpc
from services.signing import pki, verify
from services.signing.certificates import Certificates, CertificateView, Status
from services.signing.client_signing import ClientSignatures, PreparationState, PrepareRequest
from services.signing.identity_client import AppTrustAnchors
from services.signing.intent import IntentClaims
from services.signing.placement import Position
from services.signing.seal_library import Seal, SealLibrary, SealSource, SealStyle, SubjectRef
from services.signing.signatures import ORG, PERSON, AgreementRequest, Signatures, SignedDocument, Signer, SignRequest
from services.signing.tsa import TimestampAuthority

_STYLES = {pb.Seal.ROUND_COMPANY: SealStyle.ROUND_COMPANY, pb.Seal.SQUARE_PERSONAL: SealStyle.SQUARE_PERSONAL,
           pb.Seal.OVAL_COMPANY: SealStyle.OVAL_COMPANY, pb.Seal.RECTANGULAR_PERSONAL: SealStyle.RECTANGULAR_PERSONAL}
_STYLE_NAMES = {v: k for k, v in _STYLES.items()}
_SOURCES = {SealSource.GENERATED: pb.Seal.GENERATED, SealSource.UPLOADED: pb.Seal.UPLOADED}
_KINDS = {common_pb2.PERSON: PERSON, common_pb2.ORG: ORG}
_COVERAGE = {
    verify.Coverage.ENTIRE_FILE: pb.SignatureVerification.ENTIRE_FILE,
    verify.Coverage.ENTIRE_REVISION: pb.SignatureVerification.ENTIRE_REVISION,
    verify.Coverage.PARTIAL: pb.SignatureVerification.PARTIAL,
}
_VERDICTS = {
    verify.Verdict.VALID: pb.SignatureVerification.VALID,
    verify.Verdict.INVALID: pb.SignatureVerification.INVALID,
    verify.Verdict.INDETERMINATE: pb.SignatureVerification.INDETERMINATE,
}
_CERT_STATUS = {Status.VALID: pb.Certificate.STATUS_VALID, Status.EXPIRED: pb.Certificate.STATUS_EXPIRED,
                Status.REVOKED: pb.Certificate.STATUS_REVOKED}
_AUTHORITIES = {pb.CERTIFICATE_AUTHORITY_ROOT: "root", pb.CERTIFICATE_AUTHORITY_ISSUING: "issuing"}
_PREPARATION_STATES = {
    PreparationState.PREPARED: pb.GetPreparationResponse.STATE_PREPARED,
    PreparationState.COMPLETED: pb.GetPreparationResponse.STATE_COMPLETED,
    PreparationState.EXPIRED: pb.GetPreparationResponse.STATE_EXPIRED,
}


class SigningApi(signing_pb2_grpc.SigningServiceServicer):
    def __init__(self, *, ca: pki.PlatformCa, tsa: TimestampAuthority, seals: SealLibrary,
                 signatures: Signatures, certificates: Certificates, anchors: AppTrustAnchors, blobs: BlobStore,
                 client: ClientSignatures):
        self.ca = ca
        self.client = client
        self.tsa = tsa
        self.seals = seals
        self.signatures = signatures
        self.certificates = certificates
        self.anchors = anchors
        self.blobs = blobs

    # ------------------------------------------------------------- seals

    def GenerateSeal(self, request, context):
        seal = self.seals.generate(
            _subject(request, "subject"), _STYLES.get(request.style, SealStyle.NONE), request.text,
            horizontal_text=request.horizontal_text, seal_code=request.seal_code, name=request.name,
            app_id=caller(context).app_id)
        return pb.GenerateSealResponse(**_seal_fields(seal))

    def CreateSeal(self, request, context):
        if not request.image:
            raise invalid("image", "is required")
        seal = self.seals.upload(_subject(request, "subject"), request.image, name=request.name,
                                 app_id=caller(context).app_id)
        return pb.CreateSealResponse(**_seal_fields(seal))

    def ListSeals(self, request, context):
        found, next_token = self.seals.list(_subject(request, "subject"), app_id=caller(context).app_id,
                                            size=request.page_size, token=request.page_token)
        return pb.ListSealsResponse(seals=[pb.Seal(**_seal_fields(s)) for s in found],
                                    next_page_token=next_token or "")

    # ------------------------------------------------------ verification

    def ListTrustRoots(self, request, context):
        return pb.ListTrustRootsResponse(
            roots=[c.public_bytes(serialization.Encoding.PEM).decode() for c in self.ca.trust_roots()])

    def VerifyDocument(self, request, context):
        if not request.pdf:
            raise invalid("pdf", "is required")
        extra = [] if request.platform_trust_only else self.anchors.for_app(caller(context).app_id)
        report = self.signatures.verify(request.pdf, extra)
        return pb.VerifyDocumentResponse(
            valid=report.valid,
            signatures=[_verification(s, report.long_term_validation) for s in report.signatures],
            document_sha256=hashlib.sha256(request.pdf).hexdigest(),
            problems=report.problems,
        )

    # ----------------------------------------------------------- signing

    def SignDocument(self, request, context):
        signed = self.signatures.sign(SignRequest(
            pdf=self._read(request.pdf, "pdf"),
            signer=_signer(request.signer),
            contract_id=request.contract_id,
            intent=_claims(request.intent) if request.HasField("intent") else None,
            positions=[_position(p) for p in request.positions],
            seal_id=request.seal_id,
            handwriting=request.handwriting_image or None,
            riding_seal=request.riding_seal,
            field_name=request.field_name,
            reason=request.reason,
            date_position=_position(request.date_position) if request.HasField("date_position") else None,
            document_sha256=request.document_sha256,
        ))
        return pb.SignDocumentResponse(
            pdf=self._deliver(signed.pdf, request.delivery), sha256=signed.sha256, field_name=signed.field_name,
            certificate_serial=signed.certificate_serial, **_times(signed))

    def PrepareSignature(self, request, context):
        prepared = self.client.prepare(PrepareRequest(
            pdf=self._read(request.pdf, "pdf"),
            signer=_signer(request.signer),
            contract_id=request.contract_id,
            intent=_claims(request.intent) if request.HasField("intent") else None,
            certificate_chain=list(request.certificate_chain),
            positions=[_position(p) for p in request.positions],
            seal_id=request.seal_id,
            handwriting=request.handwriting_image or None,
            field_name=request.field_name,
            reason=request.reason,
            document_sha256=request.document_sha256,
            date_position=_position(request.date_position) if request.HasField("date_position") else None,
        ))
        return pb.PrepareSignatureResponse(preparation_id=prepared.preparation_id, to_be_signed=prepared.to_be_signed,
                                           digest=prepared.digest, expire_time=_timestamp(prepared.expires_at))

    def CompleteSignature(self, request, context):
        if request.validate_only:
            self.client.check(request.preparation_id, request.signature, request.contract_id)
            return pb.CompleteSignatureResponse()
        signed = self.client.complete(request.preparation_id, request.signature, request.contract_id)
        return pb.CompleteSignatureResponse(
            pdf=self._deliver(signed.pdf, request.delivery), sha256=signed.sha256, field_name=signed.field_name,
            certificate_serial=signed.certificate_serial, **_times(signed))

    def GetPreparation(self, request, context):
        view = self.client.get(request.preparation_id)
        return pb.GetPreparationResponse(
            preparation_id=view.preparation_id, contract_id=view.contract_id, signer_id=view.signer_id,
            document_sha256=view.document_sha256, certificate_serial=view.certificate_serial,
            state=_PREPARATION_STATES[view.state], expire_time=_timestamp(view.expires_at))

    def SealAgreement(self, request, context):
        evidence = request.client_evidence
        signed = self.signatures.seal_agreement(AgreementRequest(
            pdf=self._read(request.pdf, "pdf"),
            signer=_signer(request.signer),
            contract_id=request.contract_id,
            reading_seconds=request.reading_seconds,
            agree_time=_datetime(request.agree_time) if request.HasField("agree_time") else None,
            client={"ip": evidence.ip, "userAgent": evidence.user_agent, "deviceId": evidence.device_id,
                    "checkboxText": evidence.checkbox_text, "pageUrl": evidence.page_url},
            intent=_claims(request.intent) if request.HasField("intent") else None,
        ))
        return pb.SealAgreementResponse(pdf=self._deliver(signed.pdf, request.delivery), sha256=signed.sha256,
                                        field_name=signed.field_name, **_times(signed))

    def TimestampDocument(self, request, context):
        stamped = self.signatures.timestamp(self._read(request.pdf, "pdf"))
        return pb.TimestampDocumentResponse(pdf=self._deliver(stamped.pdf, request.delivery), sha256=stamped.sha256,
                                            timestamp_time=_timestamp(stamped.timestamp_time))

    # ------------------------------------------------------ certificates

    def ListCertificates(self, request, context):
        views, next_token = self.certificates.list(
            subject_id=request.subject_id, include_inactive=request.include_inactive,
            size=request.page_size, token=request.page_token, subject_name=request.subject_name)
        return pb.ListCertificatesResponse(certificates=[_certificate(v) for v in views],
                                           next_page_token=next_token or "")

    def RevokeCertificate(self, request, context):
        view = self.certificates.revoke(request.serial_number, request.reason)
        return pb.RevokeCertificateResponse(certificate=_certificate(view))

    # ------------------------------------------------- PKI over HTTP

    def RespondOcsp(self, request, context):
        return pb.RespondOcspResponse(response=self.ca.ocsp_response(request.request))

    def GetCrl(self, request, context):
        return pb.GetCrlResponse(crl=self.ca.build_crl(_authority(request.authority)))

    def GetCaCertificate(self, request, context):
        cert = self.ca.root_cert if _authority(request.authority) == "root" else self.ca.issuing_cert
        return pb.GetCaCertificateResponse(certificate=cert.public_bytes(serialization.Encoding.DER))

    def RespondTimestamp(self, request, context):
        return pb.RespondTimestampResponse(response=self.tsa.respond(request.request))

    # ------------------------------------------------------------ files

    def _read(self, file: common_pb2.FileData, field: str) -> bytes:
        kind = file.WhichOneof("content")
        if kind == "data" and file.data:
            return file.data
        if kind == "blob_ref":
            return self.blobs.get(file.blob_ref)
        raise invalid(field, "is required (inline data or a blob reference)")

    def _deliver(self, data: bytes, how: int) -> common_pb2.FileData:
        if how == common_pb2.DELIVERY_BLOB:
            return common_pb2.FileData(blob_ref=self.blobs.put(data))
        if how == common_pb2.DELIVERY_TEMPORARY_BLOB:
            raise invalid("delivery", "signed documents are kept: use DELIVERY_INLINE or DELIVERY_BLOB")
        return common_pb2.FileData(data=data)


# ---------------------------------------------------------------- mapping


def _subject(request, field: str) -> SubjectRef:
    if not request.HasField(field):
        raise invalid(field, "is required ({idType, id})")
    ref = getattr(request, field)
    return SubjectRef(ref.id_type, ref.id)


def _signer(message: pb.SignerIdentity) -> Signer:
    return Signer(kind=_KINDS.get(message.kind, ""), name=message.name,
                  subject=SubjectRef(message.subject.id_type, message.subject.id),
                  subject_id=message.subject_id, signer_id=message.signer_id)


def _claims(message: common_pb2.IntentClaims) -> IntentClaims:
    return IntentClaims(
        token_id=message.token_id, challenge_id=message.challenge_id, app_id=message.app_id,
        signer_id=message.signer_id, subject_id=message.subject_id, contract_ids=tuple(message.contract_ids),
        document_hashes={k: tuple(v.sha256) for k, v in message.document_hashes.items()},
        method=common_pb2.IntentMethod.Name(message.method), recipient=message.recipient,
        face_reference=message.face_reference,
        issue_time=_datetime(message.issue_time) if message.HasField("issue_time") else None,
        expire_time=_datetime(message.expire_time) if message.HasField("expire_time") else None,
    )


def _position(message: common_pb2.SignaturePosition) -> Position:
    return Position(keyword=message.keyword, page=message.page, x=message.x, y=message.y,
                    width=message.width, height=message.height)


def _seal_fields(seal: Seal) -> dict[str, object]:
    return {
        "seal_id": seal.seal_id,
        "subject": common_pb2.SubjectRef(id_type=seal.subject.id_type, id=seal.subject.id),
        "name": seal.name,
        "style": _STYLE_NAMES.get(seal.style, pb.Seal.STYLE_UNSPECIFIED),
        "source": _SOURCES[seal.source],
        "image": seal.png,
        "image_sha256": seal.image_sha256,
        "create_time": _timestamp(seal.created_at),
        "is_default": seal.is_default,
    }


def _verification(report: verify.SignatureReport, long_term: bool) -> pb.SignatureVerification:
    modifications = pb.SignatureVerification.Modifications.DESCRIPTOR.values_by_name.get(
        report.modification_level or "")
    return pb.SignatureVerification(
        field_name=report.field_name, signer=report.signer or "", signer_dn=report.signer_subject or "",
        issuer_dn=report.issuer_subject or "", serial_number=report.serial_number or "",
        signing_time=_timestamp(report.signing_time), timestamp_time=_timestamp(report.timestamp_time),
        intact=report.intact and report.valid, trusted=report.trusted,
        coverage=_COVERAGE[report.coverage],
        modifications=modifications.number if modifications else pb.SignatureVerification.MODIFICATIONS_UNSPECIFIED,
        verdict=_VERDICTS[report.verdict], reasons=[report.message] if report.message else [],
        reason=report.reason or "", timestamp_trusted=report.timestamp_trusted, long_term_validation=long_term,
    )


def _certificate(view: CertificateView) -> pb.Certificate:
    return pb.Certificate(
        serial_number=view.serial, subject_dn=view.subject_dn, issuer_dn=view.issuer_dn,
        subject_id=view.subject_id, not_before=_timestamp(view.not_before), not_after=_timestamp(view.not_after),
        status=_CERT_STATUS[view.status], revoke_time=_timestamp(view.revoked_at),
        revoke_reason=view.revocation_reason, pem=view.pem,
    )


def _authority(value: int) -> str:
    name = _AUTHORITIES.get(value)
    if name is None:
        raise invalid("authority", "must be CERTIFICATE_AUTHORITY_ROOT or CERTIFICATE_AUTHORITY_ISSUING")
    return name


def _times(signed: SignedDocument) -> dict[str, timestamp_pb2.Timestamp | None]:
    return {"signing_time": _timestamp(signed.signing_time), "timestamp_time": _timestamp(signed.timestamp_time)}


def _timestamp(value: dt.datetime | None) -> timestamp_pb2.Timestamp | None:
    if value is None:
        return None
    stamp = timestamp_pb2.Timestamp()
    stamp.FromDatetime(value.astimezone(dt.timezone.utc))
    return stamp


def _datetime(stamp: timestamp_pb2.Timestamp) -> dt.datetime:
    return stamp.ToDatetime(tzinfo=dt.timezone.utc)
