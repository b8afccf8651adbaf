"""``econtract users create``: the way the first console administrator is made."""
import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]


def _cli(env, *args):
    return subprocess.run([sys.executable, "-m", "core.cli", "users", "create", *args], cwd=ROOT,
                          env={**os.environ, **env}, capture_output=True, text=True, timeout=60)


def test_creates_a_user_once_and_prints_the_password_once(platform_env, run_id):
    name = f"cli-{run_id}"
    first = _cli(platform_env, "--name", name, "--role", "reviewer")
    assert first.returncode == 0, first.stderr
    created = json.loads(first.stdout)
    assert created["name"] == name and created["role"] == "reviewer" and len(created["password"]) >= 12
    again = _cli(platform_env, "--name", name, "--role", "reviewer")
    assert again.returncode != 0 and "already exists" in again.stderr
    assert created["password"] not in again.stderr + again.stdout


def test_refuses_an_unknown_role(platform_env):
    reply = _cli(platform_env, "--name", "x", "--role", "root")
    assert reply.returncode == 2 and "invalid choice" in reply.stderr
