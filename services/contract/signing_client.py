"""The contract service's calls to the signing service: sign a document for a signer,
seal a checkbox agreement, add the B-LTA document timestamp.

The outgoing half of the RPC layer: protobuf is built and read only here. Documents go
by blob-store reference both ways, so PDFs never travel inline between services.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

import grpc

from core.errors import invalid
from core.rpc.client import Peers
from services.contract.identity_client import IntentClaims
from services.contract.model import Placement, Signer
from services.contract.peer_errors import peer_error
from services.contract.times import as_utc

SIGN_TIMEOUT = 30.0


@dataclass(frozen=True)
class Appearance:
    """The visible part of a signature: a seal of the subject, a handwriting image, or
    neither (the subject's default seal)."""

    seal_id: str = ""
    handwriting: bytes = field(default=b"", repr=False)


@dataclass(frozen=True)
class ClientEvidence:
    ip: str = ""
    user_agent: str = ""
    device_id: str = ""
    checkbox_text: str = ""
    page_url: str = ""


@dataclass(frozen=True)
class SignedPdf:
    blob_ref: str
    sha256: str
    field_name: str = ""
    certificate_serial: str = ""
    signing_time: datetime | None = None
    timestamp_time: datetime | None = None


def _time(message, name: str) -> datetime | None:
    return as_utc(getattr(message, name).ToDatetime()) if message.HasField(name) else None


def _checked(reply, action: str) -> SignedPdf:
    ref = reply.pdf.blob_ref
    # Content-addressed: the reference names the hash, so a mismatch is a broken answer.
    if not ref or ref != "sha256:" + reply.sha256:
        raise RuntimeError(f"the signing service returned no stored PDF or a wrong hash while {action}")
    return SignedPdf(
        blob_ref=ref,
        sha256=reply.sha256,
        field_name=getattr(reply, "field_name", ""),
        certificate_serial=getattr(reply, "certificate_serial", ""),
        signing_time=_time(reply, "signing_time") if "signing_time" in reply.DESCRIPTOR.fields_by_name else None,
        timestamp_time=_time(reply, "timestamp_time"),
    )


def _identity(signer: Signer):
    from econtract.common.v1 import common_pb2
    from econtract.signing.v1 import signing_pb2

    return signing_pb2.SignerIdentity(
        signer_id=signer.signer_id,
        kind=common_pb2.SignerKind.Value(signer.kind.value),
        name=signer.name,
        subject=common_pb2.SubjectRef(id_type=signer.subject.id_type, id=signer.subject.id),
        subject_id=signer.subject_id,
        mobile=signer.mobile,
        email=signer.email,
    )


def _claims(claims: IntentClaims | None):
    from econtract.common.v1 import common_pb2

    message = common_pb2.IntentClaims()
    if claims is not None:
        message.ParseFromString(claims.raw)
    return message


class Signing:
    def __init__(self, peers: Peers):
        self._peers = peers

    def _stub(self):
        from econtract.signing.v1 import signing_pb2_grpc

        return signing_pb2_grpc.SigningServiceStub(self._peers.channel("signing"))

    def _call(self, method, request, action: str, key: str):
        try:
            # A repeated call only makes a signed PDF nobody records, so retrying is safe.
            return self._peers.call(method, request, timeout=SIGN_TIMEOUT, idempotent=False, idempotency_key=key)
        except grpc.RpcError as exc:
            raise peer_error(exc, "signing", action, rename=_rename_appearance) from None

    def sign_document(
        self,
        pdf_ref: str,
        signer: Signer,
        claims: IntentClaims,
        appearance: Appearance,
        placement: Placement,
        *,
        contract_id: str,
        field_name: str,
        reason: str,
        key: str,
    ) -> SignedPdf:
        from econtract.common.v1 import common_pb2
        from econtract.signing.v1 import signing_pb2

        request = signing_pb2.SignDocumentRequest(
            pdf=common_pb2.FileData(blob_ref=pdf_ref),
            signer=_identity(signer),
            intent=_claims(claims),
            positions=[
                common_pb2.SignaturePosition(keyword=p.keyword, page=p.page, x=p.x, y=p.y, width=p.width, height=p.height)
                for p in placement.positions
            ],
            riding_seal=placement.riding_seal,
            field_name=field_name,
            reason=reason,
            contract_id=contract_id,
            delivery=common_pb2.DELIVERY_BLOB,
            # Documents are stored content-addressed: the reference names the SHA-256 the
            # contract recorded, which the bytes the signing service reads must still have.
            document_sha256=pdf_ref.removeprefix("sha256:") if pdf_ref.startswith("sha256:") else "",
        )
        if placement.date_position is not None:
            p = placement.date_position
            request.date_position.CopyFrom(common_pb2.SignaturePosition(
                keyword=p.keyword, page=p.page, x=p.x, y=p.y, width=p.width, height=p.height))
        if appearance.seal_id:
            request.seal_id = appearance.seal_id
        elif appearance.handwriting:
            request.handwriting_image = appearance.handwriting
        action = f"signing for signer {signer.signer_id}"
        return _checked(self._call(self._stub().SignDocument, request, action, key), action)

    def seal_agreement(
        self,
        pdf_ref: str,
        signer: Signer,
        *,
        reading_seconds: int,
        agreed_at: datetime,
        evidence: ClientEvidence,
        claims: IntentClaims | None,
        contract_id: str,
        key: str,
    ) -> SignedPdf:
        from econtract.common.v1 import common_pb2
        from econtract.signing.v1 import signing_pb2

        request = signing_pb2.SealAgreementRequest(
            pdf=common_pb2.FileData(blob_ref=pdf_ref),
            signer=_identity(signer),
            reading_seconds=reading_seconds,
            client_evidence=common_pb2.ClientEvidence(
                ip=evidence.ip, user_agent=evidence.user_agent, device_id=evidence.device_id,
                checkbox_text=evidence.checkbox_text, page_url=evidence.page_url,
            ),
            contract_id=contract_id,
            delivery=common_pb2.DELIVERY_BLOB,
        )
        request.agree_time.FromDatetime(agreed_at)
        if claims is not None:
            request.intent.CopyFrom(_claims(claims))
        action = f"sealing the agreement of signer {signer.signer_id}"
        return _checked(self._call(self._stub().SealAgreement, request, action, key), action)

    def timestamp(self, pdf_ref: str, *, key: str) -> SignedPdf:
        """Validation data and a document timestamp: PAdES B-LTA."""
        from econtract.common.v1 import common_pb2
        from econtract.signing.v1 import signing_pb2

        request = signing_pb2.TimestampDocumentRequest(
            pdf=common_pb2.FileData(blob_ref=pdf_ref), delivery=common_pb2.DELIVERY_BLOB
        )
        action = "adding the document timestamp"
        return _checked(self._call(self._stub().TimestampDocument, request, action, key), action)


def _rename_appearance(field: str) -> str:
    return {"seal_id": "sealId", "handwriting_image": "handwritingImage"}.get(field, field)


def check_handwriting(image: bytes) -> None:
    """A handwriting image is a PNG of bounded size (the signing service checks the rest)."""
    if len(image) > 2 * 1024 * 1024:
        raise invalid("handwritingImage", "is larger than 2 MiB")
    if not image.startswith(b"\x89PNG\r\n\x1a\n"):
        raise invalid("handwritingImage", "must be a PNG image")

