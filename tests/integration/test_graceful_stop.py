"""SIGTERM lets in-flight calls finish, then refuses new ones quickly."""
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from tests.conftest import free_port

ROOT = Path(__file__).resolve().parents[2]


def test_sigterm_drains_in_flight_calls():
    address = f"127.0.0.1:{free_port()}"
    process = subprocess.Popen([sys.executable, "-m", "tests.integration.slow_server", address],
                               cwd=ROOT, stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout.readline().strip() == "ready"
        channel = grpc.insecure_channel(address)
        sleep = channel.unary_unary("/test.Slow/Sleep")
        result: dict = {}
        call = threading.Thread(target=lambda: result.update(reply=sleep(b"1.5", timeout=10)))
        call.start()
        time.sleep(0.4)
        process.send_signal(signal.SIGTERM)
        time.sleep(0.2)
        health = health_pb2_grpc.HealthStub(channel)
        started = time.monotonic()
        try:
            status = health.Check(health_pb2.HealthCheckRequest(), timeout=2).status
            assert status == health_pb2.HealthCheckResponse.NOT_SERVING
        except grpc.RpcError as exc:  # already refusing new calls: also fine, but fast
            assert exc.code() == grpc.StatusCode.UNAVAILABLE
        assert time.monotonic() - started < 1.5
        call.join(10)
        assert result.get("reply") == b"done"  # the in-flight call finished
        assert process.wait(10) == 0
        assert "stopped" in process.stdout.read()
    finally:
        if process.poll() is None:
            process.kill()
