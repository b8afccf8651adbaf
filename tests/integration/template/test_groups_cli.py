"""``econtract templates groups``: template groups made and listed through the running
template service's gRPC API."""
from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
from pathlib import Path

from econtract.template.v1 import template_pb2
from tests.conftest import free_port

ROOT = Path(__file__).resolve().parents[3]


def cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "core.cli", "templates", "groups", *args], cwd=ROOT,
                          env={**os.environ, **env}, capture_output=True, text=True, timeout=60)


def test_create_then_list_and_the_service_has_the_group(mesh, template_stub):
    key = f"cli-{secrets.token_hex(4)}"
    made = cli(mesh.env, "create", "--id", key, "--name", "个人消费贷款", "--description", "消费贷产品的合同模板")
    assert made.returncode == 0, made.stderr
    group = json.loads(made.stdout)
    assert (group["groupId"], group["name"], group["description"]) == (key, "个人消费贷款", "消费贷产品的合同模板")
    assert group["createTime"]

    stored = template_stub.ListTemplateGroups(template_pb2.ListTemplateGroupsRequest(page_size=1000), timeout=10)
    assert {g.group_id: g.name for g in stored.groups}[key] == "个人消费贷款"

    listed = cli(mesh.env, "list")
    assert listed.returncode == 0, listed.stderr
    groups = json.loads(listed.stdout)
    assert [g["name"] for g in groups if g["groupId"] == key] == ["个人消费贷款"]
    assert [g["groupId"] for g in groups] == sorted(g["groupId"] for g in groups)

    again = cli(mesh.env, "create", "--id", key, "--name", "重复")
    assert again.returncode == 1 and f"template group '{key}' already exists" in again.stderr, again.stderr


def test_a_bad_key_is_refused_with_what_a_key_may_hold(mesh):
    reply = cli(mesh.env, "create", "--id", "贷款 loans", "--name", "贷款")
    assert reply.returncode == 1
    assert "groupId" in reply.stderr and "letters, digits" in reply.stderr, reply.stderr


def test_a_template_service_that_is_not_running_is_named(platform_env):
    address = f"127.0.0.1:{free_port()}"
    reply = cli({**platform_env, "TEMPLATE_ADDR": address}, "list")
    assert reply.returncode == 1
    assert f"the template service at {address} did not answer" in reply.stderr, reply.stderr
