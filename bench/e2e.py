"""``make bench-e2e``: contracts created from the 3-page template and signed by two parties,
through REST, at concurrency 8, against the platform as separate processes (``econtract up``).

Each contract: create (render the 3-page loan contract; its own contract number, so the
render cache never answers) → lender's intent (EMAIL code read from the dev outbox,
confirmed) → lender signs → borrower's intent (SMS) → borrower signs (the last signature
also adds the B-LTA document timestamp). Every signer has its own mobile and e-mail, as
the one-code-a-minute rule per recipient requires.
"""
from __future__ import annotations

import argparse
import base64
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import urlencode

from bench.report import percentile, write_section
from services.identity.idnumbers import credit_check_char, id_check_char, organisation_check_char
from tests.fixtures.docx_fixtures import loan_contract_data, loan_contract_docx_bytes
from tests.support.processes import descendants, process_table
from tests.support.signed import SignedClient

ROOT = Path(__file__).resolve().parents[1]
STEPS = ("create", "lender intent", "lender sign", "borrower intent", "borrower sign")
COMPONENTS = ("template", "contract", "signing", "identity", "filegen", "gateway")


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _json_ready(value):
    if isinstance(value, bytes):
        return base64.b64encode(value).decode()
    if isinstance(value, dict):
        return {k: _json_ready(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_json_ready(v) for v in value]
    return value


def _ok(reply) -> dict:
    if reply.status_code != 200:
        raise RuntimeError(f"{reply.request.method} {reply.request.url.path}: {reply.status_code} {reply.text[:300]}")
    return reply.json()


def _id_number() -> str:
    first17 = "110101" + f"{1970 + secrets.randbelow(30)}0{1 + secrets.randbelow(9)}1{secrets.randbelow(10)}" \
              + f"{secrets.randbelow(1000):03d}"
    return first17 + id_check_char(first17)


def _credit_code() -> str:
    body = "".join(secrets.choice("0123456789") for _ in range(8))
    first17 = "91110105" + body + organisation_check_char(body)
    return first17 + credit_check_char(first17)


class Platform:
    """``econtract up`` in its own state directory, ports and Redis namespace."""

    def __init__(self, var: Path):
        self.env = {**os.environ, "ECONTRACT_ENV": "dev", "ECONTRACT_VAR_DIR": str(var),
                    "ECONTRACT_REDIS_PREFIX": f"bench{secrets.token_hex(3)}:", "OTEL_TRACES_EXPORTER": "none"}
        for name in COMPONENTS:
            self.env[f"{name.upper()}_ADDR"] = f"127.0.0.1:{_free_port()}"
        self.env["ECONTRACT_PUBLIC_URL"] = "http://" + self.env["GATEWAY_ADDR"]
        if self.env.get("DATABASE_URL"):
            self.env["ECONTRACT_DB_SCHEMA_PREFIX"] = self.env["ECONTRACT_REDIS_PREFIX"].rstrip(":") + "_"
        self.base = "http://" + self.env["GATEWAY_ADDR"]
        self.out = open(var / "up.out", "w+")
        self.process = subprocess.Popen([sys.executable, "-m", "core.cli", "up"], cwd=ROOT, env=self.env,
                                        stdout=self.out, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + 180
        while "press Ctrl-C" not in Path(self.out.name).read_text():
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.process.kill()
                raise SystemExit("econtract up did not come up:\n" + Path(self.out.name).read_text()[-3000:])
            time.sleep(0.3)

    def app(self, name: str, scopes: str) -> SignedClient:
        created = subprocess.run([sys.executable, "-m", "core.cli", "apps", "create", "--name", name, "--scopes", scopes],
                                 cwd=ROOT, env=self.env, capture_output=True, text=True, timeout=120, check=True)
        app = json.loads(created.stdout)
        return SignedClient(self.base, app["appId"], app["appSecret"], timeout=120)

    def cpu_seconds(self) -> dict[str, float]:
        """CPU time so far of each component with everything it started (LibreOffice workers...)."""
        table = process_table()
        totals: dict[str, float] = defaultdict(float)
        for child in table.values():
            if child.parent != self.process.pid:
                continue
            component = next((c for c in COMPONENTS if f"serve {c}" in child.command), "other")
            totals[component] += child.cpu_seconds + sum(p.cpu_seconds for p in descendants(table, child.pid))
        return totals

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            self.process.wait(120)


class Flow:
    def __init__(self, client: SignedClient, template_id: str):
        self.client = client
        self.template_id = template_id
        self.data = _json_ready(loan_contract_data())

    def _intent(self, signer_id: str, contract_id: str, method: str, recipient: str) -> str:
        challenge = _ok(self.client.post("/v1/intents", {"signerId": signer_id, "contractIds": [contract_id],
                                                         "method": method}))["challengeId"]
        for _ in range(100):
            outbox = _ok(self.client.get("/v1/dev/outbox?" + urlencode({"recipient": recipient})))
            codes = [m["code"] for m in outbox.get("messages", []) if m.get("challengeId") == challenge]
            if codes:
                break
            time.sleep(0.05)
        else:
            raise RuntimeError(f"no code for challenge {challenge}")
        return _ok(self.client.post(f"/v1/intents/{challenge}:confirm", {"code": codes[0]}))["intentToken"]

    def run(self) -> dict[str, float]:
        times: dict[str, float] = {}
        email = f"legal-{secrets.token_hex(6)}@example.com"
        mobile = "139" + "".join(secrets.choice("0123456789") for _ in range(8))

        def timed(step: str, call):
            started = time.perf_counter()
            result = call()
            times[step] = time.perf_counter() - started
            return result

        body = {
            "templateId": self.template_id, "title": "借款合同-张三", "bizNo": "BENCH-" + secrets.token_hex(8),
            "data": {**self.data, "contract_no": "JK-" + secrets.token_hex(6)},
            "signers": [
                {"role": "lender", "kind": "ORG", "name": "北京示例小额贷款有限公司",
                 "subject": {"idType": "USCC", "id": _credit_code()}, "email": email, "signMode": "E_SIGN", "order": 1},
                {"role": "borrower", "kind": "PERSON", "name": "张三", "subject": {"idType": "ID_CARD", "id": _id_number()},
                 "mobile": mobile, "signMode": "E_SIGN", "order": 2},
            ],
        }
        contract = timed("create", lambda: _ok(self.client.post("/v1/contracts", body)))
        contract_id = contract["contractId"]
        signers = {s["role"]: s["signerId"] for s in contract["signers"]}
        for role, method, recipient, after in (("lender", "EMAIL", email, "SIGNING"),
                                               ("borrower", "SMS", mobile, "COMPLETED")):
            token = timed(f"{role} intent", lambda: self._intent(signers[role], contract_id, method, recipient))
            signed = timed(f"{role} sign", lambda: _ok(self.client.post(
                f"/v1/contracts/{contract_id}:sign", {"signerId": signers[role], "intentToken": token})))
            if signed["status"] != after:
                raise RuntimeError(f"{contract_id}: {signed['status']} after {role} signed, expected {after}")
        return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--contracts", type=int, default=120, help="contracts to create and sign")
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--warmup", type=int, default=8)
    args = parser.parse_args()

    var = tempfile.mkdtemp(prefix="bench-e2e-")
    platform = Platform(Path(var))
    try:
        try:
            line = platform.app("bench-line", "template:read,template:write,contract:read,contract:write,"
                                              "intent:write,dev:outbox")
            legal = platform.app("bench-legal", "template:read,template:review")
            template = _ok(line.post("/v1/templates", {
                "name": "个人借款合同", "group": "loans", "docx": base64.b64encode(loan_contract_docx_bytes()).decode(),
                "signers": [{"role": "lender", "kind": "ORG", "positions": [{"keyword": "甲方（盖章）"}]},
                            {"role": "borrower", "kind": "PERSON", "positions": [{"page": 3, "x": 400, "y": 120}]}],
            }))
            _ok(legal.post(f"/v1/templates/{template['templateId']}/versions/{template['version']}:approve",
                           {"comment": "ok"}))
            flow = Flow(line, template["templateId"])
            print(f"warm-up: {args.warmup} contracts", flush=True)
            with ThreadPoolExecutor(args.concurrency) as workers:
                list(workers.map(lambda _: flow.run(), range(args.warmup)))
            print(f"{args.contracts} contracts at concurrency {args.concurrency}", flush=True)
            cpu_before = platform.cpu_seconds()
            started = time.perf_counter()
            with ThreadPoolExecutor(args.concurrency) as workers:
                runs = list(workers.map(lambda _: flow.run(), range(args.contracts)))
            wall = time.perf_counter() - started
            cpu = {k: v - cpu_before.get(k, 0.0) for k, v in platform.cpu_seconds().items()}
        finally:
            platform.stop()
    except BaseException:
        # The services' logs explain a failed run: keep them.
        print(f"the run failed; the platform's state and logs are kept in {var}/logs", file=sys.stderr)
        raise
    shutil.rmtree(var, ignore_errors=True)

    steps: dict[str, list[float]] = defaultdict(list)
    for run in runs:
        for step, seconds in run.items():
            steps[step].append(seconds)
        steps["whole contract"].append(sum(run.values()))
    ms = lambda seconds: f"{seconds * 1000:.0f} ms"  # noqa: E731
    rows = "\n".join(
        f"| {step} | {len(steps[step])} | {ms(percentile(steps[step], 50))} | {ms(percentile(steps[step], 99))} |"
        for step in (*STEPS, "whole contract")
    )
    rate = args.contracts / wall
    cpu_rows = "\n".join(
        f"| {name} | {cpu[name] / args.contracts * 1000:.0f} ms |" for name in sorted(cpu, key=cpu.get, reverse=True)
    )
    database = "PostgreSQL" if os.environ.get("DATABASE_URL") else "SQLite (one file per service)"
    body = f"""
The platform as separate processes (`econtract up`, dev mode, {database}, tracing off), driven through
signed REST calls at concurrency {args.concurrency}. Each contract: create from the approved 3-page loan
template (one LibreOffice render, no cache hits) → lender intent (EMAIL code from the dev outbox, confirmed)
→ lender signs → borrower intent (SMS) → borrower signs, which completes the contract and adds the B-LTA
document timestamp. An "intent" step is three calls: start, read the outbox, confirm.

| step | n | p50 | p99 |
|---|---|---|---|
{rows}

- **{rate:.2f} contracts/s** ({args.contracts} contracts in {wall:.1f} s; target ≥ 5/s on 2 cores).

CPU time per contract by process (with its children, e.g. filegen's LibreOffice workers), which
shows where the cores go:

| process | CPU per contract |
|---|---|
{cpu_rows}
"""
    write_section("e2e: contracts created and signed by two parties through REST", body)
    print(body)


if __name__ == "__main__":
    main()
