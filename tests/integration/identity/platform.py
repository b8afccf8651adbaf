"""Extra identity servers (own configuration, dev or prod mode), a stand-in contract service
answering GetSigningContext, and a gateway in front of them, all in-process on real ports.

They share the session mesh's database schema, Redis prefix and master key, so the apps
and subjects of the mesh are theirs too.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import secrets
import threading
import time
from concurrent import futures
from dataclasses import dataclass, field

import grpc
import uvicorn

from core.rpc.server import RunningServer
from core.service import ServiceContext, start
from core.settings import load
from econtract.common.v1 import common_pb2
from econtract.contract.v1 import contract_pb2, contract_pb2_grpc
from econtract.identity.v1 import identity_pb2, identity_pb2_grpc
from gateway.app import create_app
from services.identity.config import IdentityConfig
from services.identity.idnumbers import credit_check_char, id_check_char, organisation_check_char
from services.identity.server import build_api
from tests.conftest import free_port


@dataclass
class SignerFixture:
    """What the stand-in contract service knows about one signer and its contracts."""

    signer_id: str
    app_id: str
    kind: str = "PERSON"
    name: str = "张三"
    id_type: str = "ID_CARD"
    id_value: str = "110101199003074514"
    mobile: str = "13800000000"
    email: str = "zhangsan@example.com"
    subject_id: str = ""
    # contract id → (status, document sha256s, amount, signer status, signer's turn)
    contracts: dict[str, tuple[str, tuple[str, ...], str, str, bool]] = field(default_factory=dict)

    def add_contract(self, contract_id: str, *, status: str = "SIGNING", amount: str = "", signer_status: str = "PENDING",
                     turn: bool = True, documents: tuple[bytes, ...] = (b"%PDF main",)) -> tuple[str, ...]:
        hashes = tuple(hashlib.sha256(d + contract_id.encode()).hexdigest() for d in documents)
        self.contracts[contract_id] = (status, hashes, amount, signer_status, turn)
        return hashes


class FakeContractService(contract_pb2_grpc.ContractServiceServicer):
    """GetSigningContext from registered ``SignerFixture``s; every other RPC is UNIMPLEMENTED."""

    def __init__(self) -> None:
        self.signers: dict[str, SignerFixture] = {}
        self.calls = 0

    def GetSigningContext(self, request, context):
        self.calls += 1
        signer = self.signers.get(request.signer_id)
        if signer is None or any(c not in signer.contracts for c in request.contract_ids):
            context.abort(grpc.StatusCode.NOT_FOUND, "signer or contract not found")
        reply = contract_pb2.GetSigningContextResponse(
            app_id=signer.app_id,
            signer=contract_pb2.Signer(
                signer_id=signer.signer_id,
                kind=common_pb2.SignerKind.Value(signer.kind),
                name=signer.name,
                subject=common_pb2.SubjectRef(id_type=signer.id_type, id=signer.id_value),
                mobile=signer.mobile,
                email=signer.email,
                subject_id=signer.subject_id,
            ),
        )
        for contract_id in request.contract_ids:
            status, hashes, amount, signer_status, turn = signer.contracts[contract_id]
            reply.contracts.add(
                contract_id=contract_id,
                title=f"合同 {contract_id}",
                status=contract_pb2.Contract.Status.Value(status),
                document_sha256=hashes,
                amount=amount,
                signer_status=contract_pb2.Signer.Status.Value(signer_status),
                signer_turn=turn,
            )
        return reply


@dataclass
class FakeContract:
    service: FakeContractService
    server: grpc.Server
    address: str

    def stop(self) -> None:
        self.server.stop(0).wait()


def start_fake_contract() -> FakeContract:
    service = FakeContractService()
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
    contract_pb2_grpc.add_ContractServiceServicer_to_server(service, server)
    address = f"127.0.0.1:{free_port()}"
    server.add_insecure_port(address)
    server.start()
    return FakeContract(service, server, address)


@dataclass
class IdentityServer:
    env: dict[str, str]
    ctx: ServiceContext
    running: RunningServer
    channel: grpc.Channel

    @property
    def stub(self) -> identity_pb2_grpc.IdentityServiceStub:
        return identity_pb2_grpc.IdentityServiceStub(self.channel)

    def stop(self) -> None:
        self.channel.close()
        self.running.stop()
        self.ctx.close()


def start_identity(base_env: dict[str, str], config: IdentityConfig, **overrides: str) -> IdentityServer:
    """An identity server with ``config``, on its own port, with env ``overrides``
    (e.g. ``ECONTRACT_ENV="prod"``, ``CONTRACT_ADDR=...``)."""
    env = {**base_env, "IDENTITY_ADDR": f"127.0.0.1:{free_port()}", **overrides}
    ctx = ServiceContext(load("identity", env))

    def register(server: grpc.Server, context: ServiceContext) -> list[str]:
        identity_pb2_grpc.add_IdentityServiceServicer_to_server(build_api(context, config), server)
        return [identity_pb2.DESCRIPTOR.services_by_name["IdentityService"].full_name]

    running = start(ctx, register)
    return IdentityServer(env, ctx, running, grpc.insecure_channel(env["IDENTITY_ADDR"]))


@dataclass
class Gateway:
    server: uvicorn.Server
    thread: threading.Thread
    base_url: str

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(10)


def start_gateway(env: dict[str, str]) -> Gateway:
    """A gateway reaching the services named in ``env`` (its own port)."""
    env = {**env, "GATEWAY_ADDR": f"127.0.0.1:{free_port()}"}
    settings = load("gateway", env)
    host, _, port = settings.address.rpartition(":")
    config = uvicorn.Config(create_app(settings, None), host=host, port=int(port), log_level="warning", lifespan="on")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the extra gateway did not start")
        time.sleep(0.05)
    return Gateway(server, thread, "http://" + env["GATEWAY_ADDR"])


def random_id_number() -> str:
    """A well-formed resident ID number nobody else in this run uses."""
    birth = dt.date(1960, 1, 1) + dt.timedelta(days=secrets.randbelow(15000))
    first17 = "110101" + birth.strftime("%Y%m%d") + f"{secrets.randbelow(1000):03d}"
    return first17 + id_check_char(first17)


def random_credit_code() -> str:
    """A well-formed unified social credit code (enterprise, Fuzhou)."""
    body = "".join(secrets.choice("0123456789") for _ in range(8))
    first17 = "91350100" + body + organisation_check_char(body)
    return first17 + credit_check_char(first17)


def random_mobile() -> str:
    return "139" + "".join(secrets.choice("0123456789") for _ in range(8))


def random_email() -> str:
    return f"signer{secrets.token_hex(4)}@example.com"
