"""A stand-in signing service on a real port, so the contract lifecycle is tested through
REST whether or not the real one is running, and so a test can hold two signatures at
the same moment.

It checks what the real one must check (the intent claims name this signer and contract
and are bound to the very PDF being signed), then "signs" by appending a PDF comment
naming the signer: a new document with a new SHA-256, stored in the shared blob store.
"""
from __future__ import annotations

import hashlib
import threading
from concurrent import futures
from dataclasses import dataclass, field

import grpc

from core.blobs import BlobStore
from econtract.common.v1 import common_pb2
from econtract.signing.v1 import signing_pb2, signing_pb2_grpc
from tests.conftest import free_port


@dataclass
class Call:
    method: str
    contract_id: str
    signer_id: str
    input_sha256: str
    output_sha256: str
    request: object


@dataclass
class FakeSigning(signing_pb2_grpc.SigningServiceServicer):
    blobs: BlobStore
    calls: list[Call] = field(default_factory=list)
    # When set, SignDocument waits here so that several signatures are made at once.
    barrier: threading.Barrier | None = None
    fail_timestamps: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def _stamp(self, method: str, request, context, contract_id: str, signer_id: str, note: str):
        if not request.pdf.blob_ref:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, "expected a blob reference")
        pdf = self.blobs.get(request.pdf.blob_ref)
        before = hashlib.sha256(pdf).hexdigest()
        out = pdf + f"\n% {note}\n".encode()
        ref = self.blobs.put(out)
        after = hashlib.sha256(out).hexdigest()
        with self.lock:
            self.calls.append(Call(method, contract_id, signer_id, before, after, request))
        return before, ref, after

    def SignDocument(self, request, context):
        claims = request.intent
        if request.contract_id not in claims.document_hashes:
            context.abort(grpc.StatusCode.PERMISSION_DENIED, "intent claims do not cover this contract")
        if not request.positions:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, "at least one position")
        pdf_sha = hashlib.sha256(self.blobs.get(request.pdf.blob_ref)).hexdigest()
        if pdf_sha not in claims.document_hashes[request.contract_id].sha256:
            context.abort(grpc.StatusCode.FAILED_PRECONDITION, "the document is not the one the intent was confirmed for")
        if self.barrier is not None:
            self.barrier.wait(timeout=30)
        _, ref, after = self._stamp("SignDocument", request, context, request.contract_id, request.signer.signer_id,
                                    f"signed {request.field_name} by {request.signer.signer_id}")
        reply = signing_pb2.SignDocumentResponse(pdf=common_pb2.FileData(blob_ref=ref), sha256=after,
                                                 field_name=request.field_name, certificate_serial="fake01")
        reply.signing_time.GetCurrentTime()
        reply.timestamp_time.GetCurrentTime()
        return reply

    def SealAgreement(self, request, context):
        _, ref, after = self._stamp("SealAgreement", request, context, request.contract_id, request.signer.signer_id,
                                    f"agreed by {request.signer.signer_id}")
        reply = signing_pb2.SealAgreementResponse(pdf=common_pb2.FileData(blob_ref=ref), sha256=after,
                                                  field_name="agreement")
        reply.signing_time.GetCurrentTime()
        return reply

    def TimestampDocument(self, request, context):
        with self.lock:
            if self.fail_timestamps > 0:
                self.fail_timestamps -= 1
                context.abort(grpc.StatusCode.INTERNAL, "timestamp authority failed")
        _, ref, after = self._stamp("TimestampDocument", request, context, "", "", "document timestamp")
        reply = signing_pb2.TimestampDocumentResponse(pdf=common_pb2.FileData(blob_ref=ref), sha256=after)
        reply.timestamp_time.GetCurrentTime()
        return reply

    def calls_for(self, contract_id: str, method: str = "SignDocument") -> list[Call]:
        with self.lock:
            return [c for c in self.calls if c.method == method and (not contract_id or c.contract_id == contract_id)]


@dataclass
class RunningFake:
    service: FakeSigning
    server: grpc.Server
    address: str

    def stop(self) -> None:
        self.server.stop(2).wait()


def start_fake_signing(blobs: BlobStore) -> RunningFake:
    service = FakeSigning(blobs)
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=16))
    signing_pb2_grpc.add_SigningServiceServicer_to_server(service, server)
    address = f"127.0.0.1:{free_port()}"
    server.add_insecure_port(address)
    server.start()
    return RunningFake(service, server, address)
