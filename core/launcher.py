"""``econtract up``: the whole platform on one machine, for development and demos.

Each service and the gateway run as their own process (as in production); a local
``redis-server`` is started when none answers. Ctrl-C stops everything gracefully.
"""
from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator
from urllib.parse import urlparse

import redis

from core.settings import SERVICES, Settings

COMPONENTS = (*SERVICES, "gateway")


class Interrupted(Exception):
    """Ctrl-C (or SIGTERM) arrived before the platform was up."""


class Launcher:
    def __init__(self, settings: Settings, out=sys.stdout):
        self.settings = settings
        self.out = out
        self.children: dict[str, subprocess.Popen] = {}
        self.log_dir = settings.var_dir / "logs"
        self.stop_requested = False  # set by the signal handler, checked by every wait

    def say(self, text: str) -> None:
        print(text, file=self.out, flush=True)

    def ensure_redis(self) -> None:
        if redis_answers(self.settings.redis_url):
            return
        self.say(f"starting a local redis-server on port {urlparse(self.settings.redis_url).port or 6379}")
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self.children["redis"] = spawn_local_redis(self.settings.redis_url, self.log_dir / "redis.log")
        wait_for_redis(self.settings.redis_url, self.children["redis"], self.log_dir / "redis.log",
                       interrupted=lambda: self.stop_requested)

    def _spawn(self, name: str, argv: list[str]) -> None:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        log = open(self.log_dir / f"{name}.log", "ab")
        env = {**os.environ, "ECONTRACT_ENV": self.settings.env}
        # Own session: a terminal's Ctrl-C reaches only us, and we stop the children in order.
        self.children[name] = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True)

    def start_components(self) -> None:
        busy = [f"{name} ({self.settings.addresses[name]})" for name in COMPONENTS if _port_taken(self.settings.addresses[name])]
        if busy:
            raise SystemExit("ports already in use, is the platform running already? " + ", ".join(busy))
        for name in COMPONENTS:
            self._spawn(name, [sys.executable, "-m", "core.cli", "serve", name])

    def wait_healthy(self, timeout: float = 90.0) -> dict:
        url = f"http://{self.settings.addresses['gateway']}/healthz"
        deadline = time.monotonic() + timeout
        last: dict = {}
        while time.monotonic() < deadline:
            if self.stop_requested:
                raise Interrupted()
            self._check_children()
            try:
                with urllib.request.urlopen(url, timeout=3) as reply:
                    return json.load(reply)
            except urllib.error.HTTPError as exc:
                last = json.load(exc)
            except OSError:
                pass
            time.sleep(0.3)
        raise SystemExit(f"the platform did not become healthy in {timeout:.0f} s: {last}")

    def _check_children(self) -> None:
        for name, child in self.children.items():
            if child.poll() is not None:
                tail = (self.log_dir / f"{name}.log").read_text(errors="replace")[-3000:]
                raise SystemExit(f"{name} exited with code {child.returncode}:\n{tail}")

    def stop(self) -> None:
        for name in reversed(list(self.children)):
            child = self.children[name]
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + self.settings.grace_seconds + 5
        for child in self.children.values():
            try:
                child.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                child.kill()

    def run(self, demo_app: dict | None) -> None:
        def on_signal(_signum, _frame):
            self.stop_requested = True

        signal.signal(signal.SIGINT, on_signal)
        signal.signal(signal.SIGTERM, on_signal)
        try:
            self._start(demo_app)
            reported: set[str] = set()
            while not self.stop_requested:
                # A process that stops is reported, not restarted: the others keep serving.
                for name, child in self.children.items():
                    if child.poll() is not None and name not in reported:
                        reported.add(name)
                        self.say(f"{name} exited with code {child.returncode} (log: {self.log_dir / (name + '.log')})")
                time.sleep(0.5)
        except Interrupted:
            self.say("interrupted during start-up")
            raise SystemExit(130) from None
        finally:
            self.say("stopping…")
            self.stop()

    def _start(self, demo_app: dict | None) -> None:
        """Redis, the six processes, their health, then what a developer needs to know."""
        self.ensure_redis()
        if self.stop_requested:
            raise Interrupted()
        self.start_components()
        report = self.wait_healthy()
        self.say(f"all services {report['status']}: " + ", ".join(f"{k}={v}" for k, v in report["services"].items()))
        self.say(f"REST gateway   {self.settings.public_url}  (OpenAPI: {self.settings.public_url}/openapi.json)")
        self.say(f"admin console  {self.settings.public_url}/console"
                 + (f"  (user admin, password in {self.settings.var_dir / 'console-admin.txt'} unless "
                    "ECONTRACT_CONSOLE_ADMIN_PASSWORD is set)" if self.settings.dev else ""))
        for name in SERVICES:
            self.say(f"gRPC {name:<10} {self.settings.addresses[name]}")
        self.say(f"logs           {self.log_dir}/   traces: econtract traces list")
        if demo_app:
            self.say(f"demo app       appId={demo_app['appId']} appSecret={demo_app['appSecret']}")
        self.say("press Ctrl-C to stop")


def redis_answers(url: str) -> bool:
    client = redis.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=2)
    try:
        return bool(client.ping())
    except (redis.ConnectionError, redis.TimeoutError):
        return False
    finally:
        client.close()


def spawn_local_redis(url: str, log_path: Path) -> subprocess.Popen:
    """A throwaway ``redis-server`` (nothing saved to disk) on the local port ``url`` names."""
    parsed = urlparse(url)
    if parsed.hostname not in ("127.0.0.1", "localhost", "::1"):
        raise SystemExit(f"Redis at {parsed.hostname}:{parsed.port} does not answer")
    binary = shutil.which("redis-server")
    if binary is None:
        raise SystemExit("no Redis answers and redis-server is not installed (run: make setup)")
    with open(log_path, "ab") as log:
        # Own session: a terminal's Ctrl-C reaches only its starter, which stops it in order.
        return subprocess.Popen([binary, "--port", str(parsed.port or 6379), "--bind", "127.0.0.1",
                                 "--save", "", "--appendonly", "no"],
                                stdout=log, stderr=subprocess.STDOUT, start_new_session=True)


def wait_for_redis(url: str, process: subprocess.Popen, log_path: Path, timeout: float = 20.0,
                   interrupted: Callable[[], bool] = lambda: False) -> None:
    deadline = time.monotonic() + timeout
    while not redis_answers(url):
        if interrupted():
            raise Interrupted()
        if process.poll() is not None or time.monotonic() > deadline:
            raise SystemExit(f"the local redis-server did not start; see {log_path}")
        time.sleep(0.1)


@contextmanager
def local_redis(url: str, log_path: Path) -> Iterator[subprocess.Popen | None]:
    """Redis at ``url`` for the duration: nothing to do when one answers, else a local
    ``redis-server`` started now and stopped on exit."""
    if redis_answers(url):
        yield None
        return
    process = spawn_local_redis(url, log_path)
    try:
        wait_for_redis(url, process, log_path)
        yield process
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _port_taken(address: str) -> bool:
    host, _, port = address.rpartition(":")
    with socket.socket() as probe:
        probe.settimeout(0.5)
        return probe.connect_ex((host, int(port))) == 0


def demo_app(settings: Settings) -> dict:
    """The dev-mode demo app, created once and kept under var/ (dev mode only)."""
    from core.db import make_engine, make_sessions, migrate
    from core.errors import NotFound
    from core.masterkey import load_master_key
    from core.settings import load
    from services.identity.apps import SCOPES, Apps

    path = settings.var_dir / "demo-app.json"
    identity = load("identity")
    engine = make_engine(identity)
    migrate(identity, engine)
    apps = Apps(make_sessions(engine), load_master_key(identity))
    try:
        if path.exists():
            saved = json.loads(path.read_text())
            try:
                apps.get(saved["appId"])
                return saved
            except NotFound:
                pass  # the database was reset: make a new one
        created = apps.create("demo", SCOPES)
        saved = {"appId": created.app.app_id, "appSecret": created.secret}
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(saved))
        path.chmod(0o600)
        return saved
    finally:
        engine.dispose()
