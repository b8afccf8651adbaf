"""Talking to the running signing service: gRPC requests the contract service would make,
intent claims as identity issues them, and the REST calls of a business line."""
from __future__ import annotations

import base64
import datetime as dt
import hashlib
import io

from google.protobuf import timestamp_pb2
from PIL import Image, ImageDraw

from econtract.common.v1 import common_pb2
from econtract.signing.v1 import signing_pb2 as pb

ORG_NAME = "某某科技有限公司"
ORG_REF = {"idType": "USCC", "id": "91110302MA01NNKT89"}
PERSON_NAME = "张三"
PERSON_REF = {"idType": "ID_CARD", "id": "110101199003074514"}


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def timestamp(when: dt.datetime) -> timestamp_pb2.Timestamp:
    stamp = timestamp_pb2.Timestamp()
    stamp.FromDatetime(when)
    return stamp


def claims(contract_id: str, pdf: bytes, *, signer_id: str, token_id: str, subject_id: str = "",
           expires_in: float = 600, contract_ids: list[str] | None = None,
           hashes: list[str] | None = None) -> common_pb2.IntentClaims:
    """Claims of a consumed intent token, as identity issues them for ``pdf`` of ``contract_id``."""
    now = dt.datetime.now(dt.timezone.utc)
    return common_pb2.IntentClaims(
        token_id=token_id, challenge_id="ch_" + token_id, app_id="app_test", signer_id=signer_id,
        subject_id=subject_id, contract_ids=contract_ids or [contract_id],
        document_hashes={contract_id: common_pb2.DocumentHashes(sha256=hashes or [sha256(pdf)])},
        method=common_pb2.SMS, recipient="138****0000",
        issue_time=timestamp(now - dt.timedelta(seconds=30)),
        expire_time=timestamp(now + dt.timedelta(seconds=expires_in)),
    )


def org_signer(signer_id: str = "sg_lender", subject_id: str = "sub_org") -> pb.SignerIdentity:
    return pb.SignerIdentity(signer_id=signer_id, kind=common_pb2.ORG, name=ORG_NAME,
                             subject=common_pb2.SubjectRef(id_type=ORG_REF["idType"], id=ORG_REF["id"]),
                             subject_id=subject_id)


def person_signer(signer_id: str = "sg_borrower") -> pb.SignerIdentity:
    return pb.SignerIdentity(signer_id=signer_id, kind=common_pb2.PERSON, name=PERSON_NAME,
                             subject=common_pb2.SubjectRef(id_type=PERSON_REF["idType"], id=PERSON_REF["id"]),
                             subject_id="sub_person")


def keyword(text: str) -> common_pb2.SignaturePosition:
    return common_pb2.SignaturePosition(keyword=text)


def point(page: int, x: float, y: float) -> common_pb2.SignaturePosition:
    return common_pb2.SignaturePosition(page=page, x=x, y=y)


def sign_request(pdf: bytes, signer: pb.SignerIdentity, contract_id: str, intent: common_pb2.IntentClaims,
                 positions: list[common_pb2.SignaturePosition], **extra) -> pb.SignDocumentRequest:
    return pb.SignDocumentRequest(pdf=common_pb2.FileData(data=pdf), signer=signer, intent=intent,
                                  positions=positions, contract_id=contract_id, **extra)


def handwriting_image() -> bytes:
    """A signature pad's output: dark strokes on white, as a JPEG-free plain PNG."""
    pad = Image.new("RGB", (400, 160), "white")
    draw = ImageDraw.Draw(pad)
    draw.line([(20, 120), (80, 30), (120, 130), (170, 40), (230, 120), (300, 50), (380, 110)],
              fill=(10, 10, 10), width=9)
    buf = io.BytesIO()
    pad.save(buf, format="PNG")
    return buf.getvalue()


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()
