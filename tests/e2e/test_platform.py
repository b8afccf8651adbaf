"""The platform as separate processes, started the way a developer starts it (``econtract up``)."""
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.conftest import make_platform_env
from tests.support.processes import process_table
from tests.support.signed import SignedClient

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.e2e


def _cli(env, *args) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "core.cli", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)


@pytest.fixture(scope="module")
def platform(run_id, use_postgres, tmp_path_factory):
    own = make_platform_env(tmp_path_factory.mktemp("e2e-var"), run_id + "e2e", use_postgres)
    env = {**os.environ, **own}
    out = open(Path(env["ECONTRACT_VAR_DIR"]) / "up.out", "w+")
    process = subprocess.Popen([sys.executable, "-m", "core.cli", "up"], cwd=ROOT, env=env, stdout=out,
                               stderr=subprocess.STDOUT, start_new_session=True)
    base = "http://" + env["GATEWAY_ADDR"]
    deadline = time.monotonic() + 120
    while "press Ctrl-C" not in Path(out.name).read_text():
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            pytest.fail("econtract up did not come up:\n" + Path(out.name).read_text()[-4000:])
        time.sleep(0.3)
    yield {"env": env, "base": base, "process": process, "out": Path(out.name)}
    if process.poll() is None:
        children = _children(process.pid)
        process.send_signal(signal.SIGINT)
        process.wait(60)
        assert not [command for pid, command in children.items() if _alive(pid)]


def test_up_brings_six_healthy_processes_and_prints_a_demo_app(platform):
    text = platform["out"].read_text()
    assert "all services SERVING" in text and "demo app" in text
    report = httpx.get(platform["base"] + "/healthz").json()
    assert set(report["services"].values()) == {"SERVING"}
    logs = Path(platform["env"]["ECONTRACT_VAR_DIR"]) / "logs"
    assert {p.stem for p in logs.glob("*.log")} >= {"template", "contract", "signing", "identity", "filegen", "gateway"}


def test_apps_create_then_a_signed_call_and_its_trace(platform):
    created = _cli(platform["env"], "apps", "create", "--name", "retail", "--scopes", "app:self,contract:read")
    assert created.returncode == 0, created.stderr
    app = json.loads(created.stdout)
    assert app["scopes"] == ["app:self", "contract:read"] and len(app["appSecret"]) >= 32
    client = SignedClient(platform["base"], app["appId"], app["appSecret"])
    reply = client.get("/v1/apps/self")
    assert reply.status_code == 200 and reply.json()["name"] == "retail"
    assert client.post("/v1/templates", {"name": "x"}).status_code == 403

    trace_id = reply.headers["traceparent"].split("-")[1]
    deadline = time.monotonic() + 10
    while True:
        shown = _cli(platform["env"], "traces", "show", trace_id)
        # The gateway's root span ends after the reply is sent, so it may reach the file last.
        root_written = shown.stdout.startswith("GET /v1")
        handler_written = "SELECT" in shown.stdout.split("GetSelfApp  (econtract-identity")[-1]
        if shown.returncode == 0 and root_written and "GetSelfApp  (econtract-identity" in shown.stdout \
                and handler_written:
            break
        assert time.monotonic() < deadline, shown.stdout + shown.stderr
        time.sleep(0.5)
    lines = shown.stdout.splitlines()
    assert lines[0].startswith("GET /v1") and "econtract-gateway" in lines[0]
    handler = next(i for i, line in enumerate(lines) if "GetSelfApp" in line and "econtract-identity" in line)
    depth = len(lines[handler]) - len(lines[handler].lstrip())
    assert depth >= 4  # gateway server → gateway client → identity server
    assert any("SELECT" in line and len(line) - len(line.lstrip()) > depth for line in lines[handler + 1:])
    # The secret is printed once, on stdout; no process writes it to its log or its traces.
    var = Path(platform["env"]["ECONTRACT_VAR_DIR"])
    assert app["appSecret"] not in created.stderr
    written = [*(var / "logs").glob("*.log"), *(var / "traces").glob("*.jsonl")]
    assert len(written) >= 7 and not [p.name for p in written if app["appSecret"] in p.read_text(errors="replace")]


def test_the_gateways_redis_commands_are_spans_under_its_server_span(platform):
    from core.settings import load
    from core.traces import read_spans

    created = _cli(platform["env"], "apps", "create", "--name", "traced", "--scopes", "app:self")
    assert created.returncode == 0, created.stderr
    app = json.loads(created.stdout)
    reply = SignedClient(platform["base"], app["appId"], app["appSecret"]).get("/v1/apps/self")
    assert reply.status_code == 200, reply.text
    trace_id, nonce = reply.headers["traceparent"].split("-")[1], reply.request.headers["X-Nonce"]
    trace_dir = load("cli", platform["env"]).trace_dir
    deadline = time.monotonic() + 10
    while True:
        # Each process writes its own file: these spans can only come from the gateway process.
        spans = read_spans(trace_dir, trace_id)
        root = next((s for s in spans if s["parentSpanId"] is None), None)
        redis_sets = [s for s in spans if s["service"] == "econtract-gateway" and s["name"] == "SET"]
        if root is not None and redis_sets:
            break
        assert time.monotonic() < deadline, json.dumps(spans, indent=1)
        time.sleep(0.5)
    assert root["service"] == "econtract-gateway" and root["kind"] == "SERVER"
    nonce_set = redis_sets[0]  # the nonce claim
    assert nonce_set["parentSpanId"] == root["spanId"] and nonce_set["kind"] == "CLIENT"
    assert nonce_set["attributes"]["db.system"] == "redis"
    assert nonce not in json.dumps(spans)  # commands are recorded without their arguments


def test_health_fan_out_trace_shows_every_service(platform):
    reply = httpx.get(platform["base"] + "/healthz")
    trace_id = reply.headers["traceparent"].split("-")[1]
    deadline = time.monotonic() + 10
    while True:
        shown = _cli(platform["env"], "traces", "show", trace_id).stdout
        if all(f"econtract-{name}" in shown for name in ("template", "contract", "signing", "identity", "filegen")):
            break
        assert time.monotonic() < deadline, shown
        time.sleep(0.5)


def test_a_stopped_service_fails_fast_with_503(platform):
    signing = _find_child(platform["process"].pid, "serve signing")
    os.kill(signing, signal.SIGTERM)
    deadline = time.monotonic() + 30
    while _alive(signing):
        assert time.monotonic() < deadline
        time.sleep(0.2)
    started = time.monotonic()
    reply = httpx.get(platform["base"] + "/v1/trust/roots", timeout=10)
    assert reply.status_code == 503 and reply.json()["code"] == 14
    assert time.monotonic() - started < 3
    assert "127.0.0.1" not in reply.text  # no internal addresses leak
    health = httpx.get(platform["base"] + "/healthz")
    assert health.status_code == 503 and health.json()["services"]["signing"] == "UNAVAILABLE"


def test_ctrl_c_during_start_up_stops_every_process_it_started(run_id, use_postgres, tmp_path_factory):
    from core.launcher import redis_answers
    from tests.conftest import free_port

    own = make_platform_env(tmp_path_factory.mktemp("e2e-interrupted"), run_id + "int", use_postgres)
    # Nothing answers on this port, so the launcher starts (and must stop) its own redis-server.
    env = {**os.environ, **own, "REDIS_URL": f"redis://127.0.0.1:{free_port()}/0"}
    out_path = Path(own["ECONTRACT_VAR_DIR"]) / "up.out"
    with open(out_path, "w") as out:
        process = subprocess.Popen([sys.executable, "-m", "core.cli", "up"], cwd=ROOT, env=env, stdout=out,
                                   stderr=subprocess.STDOUT, start_new_session=True)
    children: dict[int, str] = {}
    try:
        deadline = time.monotonic() + 120
        while len(children) < 7:  # redis-server and the six components
            assert process.poll() is None and time.monotonic() < deadline, out_path.read_text()
            time.sleep(0.1)
            children = _children(process.pid)
        assert any("redis-server" in command for command in children.values())
        process.send_signal(signal.SIGINT)
        assert process.wait(60) == 130, out_path.read_text()
        text = out_path.read_text()
        assert "interrupted during start-up" in text and "press Ctrl-C" not in text
        assert not [command for pid, command in children.items() if _alive(pid)]
        assert not redis_answers(env["REDIS_URL"])
    finally:
        for pid in [process.pid, *children]:
            if _alive(pid):
                os.kill(pid, signal.SIGKILL)


def _children(parent: int) -> dict[int, str]:
    """The live child processes of ``parent``: pid → command line."""
    return {p.pid: p.command for p in process_table().values() if p.parent == parent and p.state != "Z"}


def _find_child(parent: int, needle: str) -> int:
    for pid, cmdline in _children(parent).items():
        if needle in cmdline:
            return pid
    raise AssertionError(f"no child process running {needle!r}")


def _alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"
