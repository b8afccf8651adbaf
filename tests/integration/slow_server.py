"""A service process with one slow RPC, run by the graceful-stop test through the real signal path."""
import sys
import time

import grpc

from core.rpc.server import run_until_signalled, start_server


def _sleep(request: bytes, context) -> bytes:
    time.sleep(float(request.decode()))
    return b"done"


def register(server: grpc.Server) -> list[str]:
    handler = grpc.unary_unary_rpc_method_handler(_sleep)
    server.add_generic_rpc_handlers([grpc.method_handlers_generic_handler("test.Slow", {"Sleep": handler})])
    return ["test.Slow"]


if __name__ == "__main__":
    running = start_server(sys.argv[1], register, tracer_provider=None, grace=10)
    print("ready", flush=True)
    run_until_signalled(running)
    print("stopped", flush=True)
