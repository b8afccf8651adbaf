"""The OpenAPI 3 document of the REST API, generated from the same descriptors as the routes.

Descriptions come from the proto comments, read from the descriptor set that the set-up
step writes with source info.
"""
from __future__ import annotations

from pathlib import Path

from google.protobuf import descriptor, descriptor_pb2

from gateway.routes import Route

_T = descriptor.FieldDescriptor
DESCRIPTOR_SET = Path(__file__).resolve().parent.parent / "econtract" / "descriptor_set.binpb"
_WKT = {
    "google.protobuf.Timestamp": {"type": "string", "format": "date-time"},
    "google.protobuf.Duration": {"type": "string", "example": "3.5s"},
    "google.protobuf.Struct": {"type": "object", "additionalProperties": True},
    "google.protobuf.Value": {},
    "google.protobuf.ListValue": {"type": "array", "items": {}},
    "google.protobuf.FieldMask": {"type": "string", "example": "webhookUrl,trustAnchors"},
    "google.protobuf.Empty": {"type": "object"},
}
_SCALARS = {
    _T.TYPE_BOOL: {"type": "boolean"},
    _T.TYPE_STRING: {"type": "string"},
    _T.TYPE_BYTES: {"type": "string", "format": "byte"},
    _T.TYPE_DOUBLE: {"type": "number", "format": "double"},
    _T.TYPE_FLOAT: {"type": "number", "format": "float"},
    _T.TYPE_INT32: {"type": "integer", "format": "int32"},
    _T.TYPE_SINT32: {"type": "integer", "format": "int32"},
    _T.TYPE_SFIXED32: {"type": "integer", "format": "int32"},
    _T.TYPE_UINT32: {"type": "integer", "format": "int64", "minimum": 0},
    _T.TYPE_FIXED32: {"type": "integer", "format": "int64", "minimum": 0},
    # 64-bit integers are strings in the proto3 JSON mapping.
    _T.TYPE_INT64: {"type": "string", "format": "int64"},
    _T.TYPE_SINT64: {"type": "string", "format": "int64"},
    _T.TYPE_SFIXED64: {"type": "string", "format": "int64"},
    _T.TYPE_UINT64: {"type": "string", "format": "uint64"},
    _T.TYPE_FIXED64: {"type": "string", "format": "uint64"},
}
_ERROR_CODES = {"400": "Bad input", "401": "Bad or missing signature", "403": "Missing scope", "404": "Not found",
                "409": "Conflict", "429": "Rate limited", "503": "Service unavailable"}


def load_comments(path: Path = DESCRIPTOR_SET) -> dict[str, str]:
    """Full element name → its leading comment."""
    if not path.exists():
        return {}
    files = descriptor_pb2.FileDescriptorSet.FromString(path.read_bytes())
    comments: dict[str, str] = {}
    for file in files.file:
        if not file.package.startswith("econtract."):
            continue
        names = _element_names(file)
        for location in file.source_code_info.location:
            name = names.get(tuple(location.path))
            if name and location.leading_comments.strip():
                comments[name] = " ".join(location.leading_comments.split())
    return comments


def _element_names(file: descriptor_pb2.FileDescriptorProto) -> dict[tuple, str]:
    names: dict[tuple, str] = {}

    def messages(msgs, path, scope):
        for i, msg in enumerate(msgs):
            full = f"{scope}.{msg.name}"
            names[(*path, i)] = full
            for j, field in enumerate(msg.field):
                names[(*path, i, 2, j)] = f"{full}.{field.name}"
            messages(msg.nested_type, (*path, i, 3), full)
            enums(msg.enum_type, (*path, i, 4), full)

    def enums(items, path, scope):
        for i, enum in enumerate(items):
            names[(*path, i)] = f"{scope}.{enum.name}"

    messages(file.message_type, (4,), file.package)
    enums(file.enum_type, (5,), file.package)
    for i, service in enumerate(file.service):
        names[(6, i)] = f"{file.package}.{service.name}"
        for j, method in enumerate(service.method):
            names[(6, i, 2, j)] = f"{file.package}.{service.name}.{method.name}"
    return names


class _Schemas:
    def __init__(self, comments: dict[str, str]):
        self.comments = comments
        self.components: dict[str, dict] = {}

    def ref(self, message: descriptor.Descriptor) -> dict:
        if message.full_name in _WKT:
            return dict(_WKT[message.full_name])
        if message.full_name not in self.components:
            self.components[message.full_name] = {}  # placeholder breaks recursion
            self.components[message.full_name] = self._object(message)
        return {"$ref": f"#/components/schemas/{message.full_name}"}

    def _object(self, message: descriptor.Descriptor) -> dict:
        props = {field.json_name: self.field(field) for field in message.fields}
        schema = {"type": "object", "properties": props}
        if message.full_name in self.comments:
            schema["description"] = self.comments[message.full_name]
        return schema

    def field(self, field: descriptor.FieldDescriptor) -> dict:
        if field.message_type is not None and field.message_type.GetOptions().map_entry:
            value = field.message_type.fields_by_name["value"]
            schema = {"type": "object", "additionalProperties": self._single(value)}
        elif field.is_repeated:
            schema = {"type": "array", "items": self._single(field)}
        else:
            schema = self._single(field)
        comment = self.comments.get(field.full_name)
        if comment:
            schema = {**schema, "description": comment} if "$ref" not in schema else {"allOf": [schema], "description": comment}
        return schema

    def _single(self, field: descriptor.FieldDescriptor) -> dict:
        if field.message_type is not None:
            return self.ref(field.message_type)
        if field.enum_type is not None:
            return {"type": "string", "enum": [v.name for v in field.enum_type.values]}
        return dict(_SCALARS[field.type])


def build_openapi(routes: list[Route], comments: dict[str, str] | None = None) -> dict:
    comments = load_comments() if comments is None else comments
    schemas = _Schemas(comments)
    paths: dict[str, dict] = {}
    for route in routes:
        op = _operation(route, schemas, comments)
        paths.setdefault(route.template, {})[route.verb.lower()] = op
    schemas.components["google.rpc.Status"] = {
        "type": "object",
        "properties": {"code": {"type": "integer"}, "message": {"type": "string"},
                       "details": {"type": "array", "items": {"type": "object"}}},
    }
    return {
        "openapi": "3.0.3",
        "info": {"title": "e-contract platform API", "version": "v1"},
        "paths": paths,
        "components": {
            "schemas": schemas.components,
            "securitySchemes": {
                name: {"type": "apiKey", "in": "header", "name": name}
                for name in ("X-App-Id", "X-Timestamp", "X-Nonce", "X-Signature")
            },
        },
    }


def _operation(route: Route, schemas: _Schemas, comments: dict[str, str]) -> dict:
    method = route.method
    op: dict = {
        "operationId": f"{method.containing_service.name}_{method.name}",
        "tags": [method.containing_service.name],
        "summary": comments.get(method.full_name, method.name),
        "parameters": [
            {"name": name, "in": "path", "required": True, "schema": {"type": "string"}} for name in route.path_fields
        ],
        "responses": {
            "200": {"description": "OK", "content": {"application/json": {"schema": schemas.ref(method.output_type)}}},
            **{code: {"description": text, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/google.rpc.Status"}}}}
               for code, text in _ERROR_CODES.items()},
        },
    }
    if route.access.public:
        op["security"] = []
    else:
        op["security"] = [{"X-App-Id": [], "X-Timestamp": [], "X-Nonce": [], "X-Signature": []}]
        op["description"] = f"Requires scope `{route.access.scope}`."
    if route.body == "*":
        op["requestBody"] = {"required": True, "content": {"application/json": {"schema": schemas.ref(method.input_type)}}}
    elif route.body:
        field = method.input_type.fields_by_name[route.body]
        op["requestBody"] = {"required": True, "content": {"application/json": {"schema": schemas.field(field)}}}
    else:
        bound = {p.split(".")[0] for p in route.path_fields}
        for field in method.input_type.fields:
            if field.name in bound or (field.message_type is not None and field.message_type.full_name not in _WKT):
                continue
            op["parameters"].append({"name": field.json_name, "in": "query", "schema": schemas.field(field)})
    return op
