"""The ``econtract`` command: run services, start the platform, manage apps and template
groups, read traces, verify evidence bundles."""
from __future__ import annotations

import argparse
import importlib
import json
import logging
import sys

from core.errors import DomainError
from core.settings import SERVICES, SettingsError, load

COMPONENTS = (*SERVICES, "gateway")


def _serve(args) -> None:
    if args.component == "gateway":
        from gateway.server import serve

        serve()
        return
    from core.service import serve

    module = importlib.import_module(f"services.{args.component}.server")
    serve(args.component, module.register)


def _up(args) -> None:
    from core.launcher import Launcher, demo_app

    settings = load("cli")
    Launcher(settings).run(demo_app(settings) if settings.dev else None)


def _migrate(args) -> None:
    from core.db import migrate

    unknown = [c for c in args.components if c not in COMPONENTS]
    if unknown:
        raise SystemExit(f"unknown components: {', '.join(unknown)}")
    for component in args.components or COMPONENTS:
        migrate(load(component))
        print(f"{component}: schema up to date")


def _apps_create(args) -> None:
    from core.db import make_engine, make_sessions, migrate
    from core.masterkey import load_master_key
    from services.identity.apps import Apps

    settings = load("identity")
    engine = make_engine(settings)
    migrate(settings, engine)
    scopes = [s.strip() for s in args.scopes.split(",") if s.strip()] if args.scopes else []
    created = Apps(make_sessions(engine), load_master_key(settings)).create(args.name, scopes)
    engine.dispose()
    print(json.dumps({"appId": created.app.app_id, "appSecret": created.secret, "name": created.app.name,
                      "scopes": list(created.app.scopes)}, ensure_ascii=False))


def _users_create(args) -> None:
    from gateway.console.users import create_user

    created = create_user(load("gateway"), args.name, args.role, display_name=args.display_name or "")
    out = {"userId": created.user.user_id, "name": created.user.name, "role": args.role}
    if created.generated:
        out["password"] = created.password  # shown once; only its scrypt hash is stored
    print(json.dumps(out, ensure_ascii=False))


def _template_call(method: str, request, *, idempotent: bool = True):
    """One call to the running template service, with the usual deadline and retries."""
    import grpc

    from core.rpc.client import Peers
    from core.rpc.status import from_rpc_error
    from econtract.template.v1 import template_pb2_grpc

    settings = load("cli")
    peers = Peers(settings, None)
    try:
        stub = template_pb2_grpc.TemplateServiceStub(peers.channel("template"))
        return peers.call(getattr(stub, method), request, idempotent=idempotent)
    except grpc.RpcError as exc:
        if exc.code() in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED):
            raise SystemExit(f"error: the template service at {settings.addresses['template']} did not answer "
                             "(is the platform running? TEMPLATE_ADDR says where)") from None
        raise SystemExit(f"error: {from_rpc_error(exc).message}") from None
    finally:
        peers.close()


def _groups_create(args) -> None:
    from google.protobuf.json_format import MessageToDict

    from econtract.template.v1 import template_pb2 as pb

    request = pb.CreateTemplateGroupRequest(group_id=args.id, name=args.name or "", description=args.description or "")
    # Creating is not idempotent: a retry after a lost reply would report ALREADY_EXISTS.
    reply = _template_call("CreateTemplateGroup", request, idempotent=False)
    print(json.dumps(MessageToDict(reply.group), ensure_ascii=False))


def _groups_list(args) -> None:
    from google.protobuf.json_format import MessageToDict

    from econtract.template.v1 import template_pb2 as pb

    groups, token = [], ""
    while True:
        reply = _template_call("ListTemplateGroups", pb.ListTemplateGroupsRequest(page_size=100, page_token=token))
        groups.extend(MessageToDict(g) for g in reply.groups)
        token = reply.next_page_token
        if not token:
            break
    print(json.dumps(groups, ensure_ascii=False))


def _traces_show(args) -> None:
    from core.traces import read_spans, render_tree

    spans = read_spans(load("cli").trace_dir, args.trace_id.lower())
    if not spans:
        raise SystemExit(f"no spans of trace {args.trace_id} under {load('cli').trace_dir}")
    print(render_tree(spans))


def _traces_list(args) -> None:
    from core.traces import recent_traces

    for trace_id, name, millis in recent_traces(load("cli").trace_dir, args.limit):
        print(f"{trace_id}  {millis:8.1f} ms  {name}")


def _evidence_verify(args) -> None:
    from pathlib import Path

    from services.contract.evidence_verify import verify_bundle

    try:
        data = Path(args.bundle).read_bytes()
        root = Path(args.trust_root).read_bytes() if args.trust_root else None
    except OSError as exc:
        raise SystemExit(f"error: {exc}") from None
    report = verify_bundle(data, trusted_root_pem=root)
    print(report.text())
    if not report.ok:
        raise SystemExit(1)


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="econtract", description="The e-contract platform.")
    sub = top.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="run one service (or the gateway) in the foreground")
    serve.add_argument("component", choices=COMPONENTS)
    serve.set_defaults(func=_serve)

    up = sub.add_parser("up", help="start the whole platform locally and wait for Ctrl-C")
    up.set_defaults(func=_up)

    migrate = sub.add_parser("migrate", help="bring database schemas to the newest migration")
    migrate.add_argument("components", nargs="*", metavar="COMPONENT", help="default: all of " + ", ".join(COMPONENTS))
    migrate.set_defaults(func=_migrate)

    apps = sub.add_parser("apps", help="business-line apps").add_subparsers(dest="apps_command", required=True)
    create = apps.add_parser("create", help="create an app and print its id and secret (shown once)")
    create.add_argument("--name", required=True)
    create.add_argument("--scopes", help="comma-separated scopes (default: all but template:review)")
    create.set_defaults(func=_apps_create)

    users = sub.add_parser("users", help="admin console users").add_subparsers(dest="users_command", required=True)
    user = users.add_parser("create", help="create a console user and print a generated password once")
    user.add_argument("--name", required=True)
    user.add_argument("--role", required=True, choices=("operator", "reviewer", "admin"))
    user.add_argument("--display-name")
    user.set_defaults(func=_users_create)

    templates = sub.add_parser("templates", help="templates (through the running template service)")
    groups = templates.add_subparsers(dest="templates_command", required=True).add_parser(
        "groups", help="template groups: the categories templates are filed under"
    ).add_subparsers(dest="groups_command", required=True)
    group = groups.add_parser("create", help="create a template group and print it as JSON")
    group.add_argument("--id", required=True, help="the group's key, e.g. loans (letters, digits, '-' and '_')")
    group.add_argument("--name", help="human name (default: the key)")
    group.add_argument("--description")
    group.set_defaults(func=_groups_create)
    group_list = groups.add_parser("list", help="every template group by key, as a JSON array")
    group_list.set_defaults(func=_groups_list)

    traces = sub.add_parser("traces", help="local traces").add_subparsers(dest="traces_command", required=True)
    show = traces.add_parser("show", help="print one trace as a tree of spans")
    show.add_argument("trace_id")
    show.set_defaults(func=_traces_show)
    listing = traces.add_parser("list", help="the newest traces")
    listing.add_argument("--limit", type=int, default=20)
    listing.set_defaults(func=_traces_list)

    evidence = sub.add_parser("evidence", help="evidence bundles").add_subparsers(dest="evidence_command", required=True)
    verify = evidence.add_parser("verify", help="check an evidence bundle offline; exit 1 if any check fails")
    verify.add_argument("bundle", metavar="BUNDLE.zip")
    verify.add_argument("--trust-root", metavar="ROOT.pem", help="the platform's root certificate, obtained "
                        "independently (GET /v1/trust/roots), that the bundle's root must be")
    verify.set_defaults(func=_evidence_verify)
    return top


def main(argv: list[str] | None = None) -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("alembic").setLevel(logging.WARNING)  # one line per migration step is noise
    args = parser().parse_args(argv)
    try:
        args.func(args)
    except SettingsError as exc:
        raise SystemExit(f"configuration error: {exc}") from None
    except DomainError as exc:
        raise SystemExit(f"error: {exc.message}") from None


if __name__ == "__main__":
    main(sys.argv[1:])
