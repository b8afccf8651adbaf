"""The REST route table, built from the ``google.api.http`` annotations of the protos.

Nothing here is written per route: every external RPC declares its verb and path in its
proto, and this module compiles those templates into matchers once at start-up.
"""
from __future__ import annotations

import importlib
import re
from dataclasses import dataclass
from typing import Iterator

from google.api import annotations_pb2, http_pb2
from google.protobuf import descriptor, message_factory

SERVICE_MODULES = {
    "template": "econtract.template.v1.template_pb2",
    "contract": "econtract.contract.v1.contract_pb2",
    "signing": "econtract.signing.v1.signing_pb2",
    "identity": "econtract.identity.v1.identity_pb2",
    "filegen": "econtract.filegen.v1.filegen_pb2",
}
_VARIABLE = re.compile(r"\{([a-z_][a-z0-9_.]*)(?:=([^}]*))?\}")


@dataclass(frozen=True)
class Access:
    scope: str
    public: bool


@dataclass(frozen=True)
class Route:
    """One REST binding of one RPC."""

    verb: str
    template: str
    pattern: re.Pattern
    path_fields: tuple[str, ...]
    body: str
    response_body: str
    service: str
    method: descriptor.MethodDescriptor
    access: Access

    @property
    def grpc_path(self) -> str:
        return f"/{self.method.containing_service.full_name}/{self.method.name}"

    @property
    def request_type(self):
        return message_factory.GetMessageClass(self.method.input_type)

    @property
    def response_type(self):
        return message_factory.GetMessageClass(self.method.output_type)

    def match(self, verb: str, path: str) -> dict[str, str] | None:
        if verb != self.verb:
            return None
        found = self.pattern.fullmatch(path)
        if found is None:
            return None
        return {field: found.group(f"v{i}") for i, field in enumerate(self.path_fields)}


def compile_template(template: str) -> tuple[re.Pattern, tuple[str, ...]]:
    """``/v1/contracts/{contract_id}:sign`` → a regex and the bound field paths, in order."""
    parts, fields, pos = [], [], 0
    for found in _VARIABLE.finditer(template):
        parts.append(re.escape(template[pos : found.start()]))
        segment = found.group(2) or "*"
        inner = "/".join("[^/]+" if s == "*" else ".+" if s == "**" else re.escape(s) for s in segment.split("/"))
        # A single-segment variable must not swallow a trailing ':verb'.
        if segment == "*":
            inner = "[^/:]+"
        parts.append(f"(?P<v{len(fields)}>{inner})")
        fields.append(found.group(1))
        pos = found.end()
    parts.append(re.escape(template[pos:]))
    return re.compile("".join(parts)), tuple(fields)


def _bindings(rule: http_pb2.HttpRule) -> Iterator[http_pb2.HttpRule]:
    yield rule
    for extra in rule.additional_bindings:
        yield extra


def _verb_and_path(rule: http_pb2.HttpRule) -> tuple[str, str]:
    kind = rule.WhichOneof("pattern")
    if kind == "custom":
        return rule.custom.kind.upper(), rule.custom.path
    return kind.upper(), getattr(rule, kind)


def _access(method: descriptor.MethodDescriptor) -> Access:
    from econtract.api.v1 import access_pb2

    options = method.GetOptions()
    if options.HasExtension(access_pb2.access):
        value = options.Extensions[access_pb2.access]
        return Access(scope=value.scope, public=value.public)
    # An external RPC without an access rule is closed to everyone but the admin scope.
    return Access(scope="admin", public=False)


def service_descriptors() -> Iterator[tuple[str, descriptor.ServiceDescriptor]]:
    for service, module_name in SERVICE_MODULES.items():
        module = importlib.import_module(module_name)
        for svc in module.DESCRIPTOR.services_by_name.values():
            yield service, svc


def build_routes() -> list[Route]:
    routes = []
    for service, svc in service_descriptors():
        for method in svc.methods:
            options = method.GetOptions()
            if not options.HasExtension(annotations_pb2.http):
                continue  # internal RPC: reachable over gRPC only
            for rule in _bindings(options.Extensions[annotations_pb2.http]):
                verb, template = _verb_and_path(rule)
                pattern, fields = compile_template(template)
                routes.append(
                    Route(verb, template, pattern, fields, rule.body, rule.response_body, service, method, _access(method))
                )
    # Literal paths before templated ones, so /v1/seals:generate is not read as a variable.
    routes.sort(key=lambda r: (r.template.count("{"), -len(r.template)))
    return routes


class RouteTable:
    def __init__(self, routes: list[Route]):
        self.routes = routes

    def find(self, verb: str, path: str) -> tuple[Route, dict[str, str]] | None:
        for route in self.routes:
            bound = route.match(verb, path)
            if bound is not None:
                return route, bound
        return None

    def allows_path(self, path: str) -> bool:
        return any(route.pattern.fullmatch(path) for route in self.routes)
