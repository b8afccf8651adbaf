"""JSON ↔ protobuf for REST calls, with the proto3 JSON mapping.

Every input problem becomes INVALID_ARGUMENT naming the offending field, so a caller's
mistake is a 400 that says what to fix, never a 500.
"""
from __future__ import annotations

import json
import re
from urllib.parse import parse_qsl

from google.protobuf import descriptor, json_format
from google.protobuf.message import Message

from core.errors import FieldViolation, InvalidArgument, invalid
from gateway.routes import Route

RESERVED_QUERY = {"alt"}
_T = descriptor.FieldDescriptor


def _field_path(error: str, fallback: str) -> str:
    """Best field path named in a json_format error message."""
    at = re.search(r" at \"?([\w.\[\]]+)\"?\.?$", error)
    if at:
        # "CreateRequest.signers[0].kind" → "signers[0].kind"
        return at.group(1).split(".", 1)[1] if "." in at.group(1) else at.group(1)
    named = re.search(r'field named "([^"]+)"', error) or re.search(r"Failed to parse (\w+) field", error)
    return named.group(1) if named else fallback


def parse_json_body(raw: bytes) -> object:
    if not raw.strip():
        return {}
    try:
        return json.loads(raw)
    except UnicodeDecodeError:
        raise invalid("body", "request body is not UTF-8") from None
    except json.JSONDecodeError as exc:
        raise InvalidArgument(
            f"malformed JSON at line {exc.lineno} column {exc.colno}: {exc.msg}",
            [FieldViolation("body", f"malformed JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})")],
        ) from None
    except RecursionError:
        raise invalid("body", "JSON nested too deeply") from None
    except ValueError:  # after JSONDecodeError, its subclass: here a number too long to convert
        raise invalid("body", "a JSON number has too many digits") from None


def _find_field(message_desc: descriptor.Descriptor, name: str) -> descriptor.FieldDescriptor | None:
    return message_desc.fields_by_name.get(name) or next(
        (f for f in message_desc.fields if f.json_name == name), None
    )


def _resolve(message_desc: descriptor.Descriptor, dotted: str) -> list[descriptor.FieldDescriptor] | None:
    chain, desc = [], message_desc
    for part in dotted.split("."):
        if desc is None:
            return None
        field = _find_field(desc, part)
        if field is None:
            return None
        chain.append(field)
        desc = field.message_type
    return chain


def _scalar(field: descriptor.FieldDescriptor, text: str, where: str):
    """A path or query string value as the JSON value the field expects."""
    if field.type == _T.TYPE_BOOL:
        if text.lower() in ("true", "1"):
            return True
        if text.lower() in ("false", "0"):
            return False
        raise invalid(where, f"expected true or false, got {text!r}")
    if field.type in (_T.TYPE_DOUBLE, _T.TYPE_FLOAT):
        try:
            return float(text)
        except ValueError:
            raise invalid(where, f"expected a number, got {text!r}") from None
    if field.cpp_type in (_T.CPPTYPE_INT32, _T.CPPTYPE_INT64, _T.CPPTYPE_UINT32, _T.CPPTYPE_UINT64):
        if not re.fullmatch(r"-?\d+", text):
            raise invalid(where, f"expected an integer, got {text!r}")
        return int(text)
    return text  # strings, enums by name, bytes as base64, well-known types in their JSON form


def _put(target: dict, chain: list[descriptor.FieldDescriptor], value, repeated_ok: bool) -> None:
    for field in chain[:-1]:
        target = target.setdefault(field.json_name, {})
    last = chain[-1]
    if last.is_repeated and repeated_ok:
        target.setdefault(last.json_name, []).append(value)
    else:
        target[last.json_name] = value


def build_request(route: Route, bound: dict[str, str], raw_query: str, raw_body: bytes) -> Message:
    """The RPC request for a REST call: body, then query string, then path variables."""
    request_desc = route.method.input_type
    document: dict = {}
    if route.body == "*":
        body = parse_json_body(raw_body)
        if not isinstance(body, dict):
            raise invalid("body", "expected a JSON object")
        document = body
    elif route.body:
        field = _find_field(request_desc, route.body)
        document[field.json_name] = parse_json_body(raw_body)
    elif raw_body.strip():
        raise invalid("body", f"{route.verb} {route.template} takes no request body")

    if route.body != "*":
        for name, text in parse_qsl(raw_query, keep_blank_values=True):
            if name in RESERVED_QUERY:
                continue
            chain = _resolve(request_desc, name)
            if chain is None or chain[-1].message_type is not None and not _is_wkt(chain[-1]):
                raise invalid(name, f"unknown query parameter {name!r}")
            _put(document, chain, _scalar(chain[-1], text, name), repeated_ok=True)

    for field_path, text in bound.items():
        chain = _resolve(request_desc, field_path)
        _put(document, chain, _scalar(chain[-1], text, chain[-1].json_name), repeated_ok=False)

    request = route.request_type()
    try:
        json_format.ParseDict(document, request)
    except json_format.ParseError as exc:
        message = str(exc)
        field = _field_path(message, "body")
        raise InvalidArgument(f"invalid {field}: {message}", [FieldViolation(field, message)]) from None
    return request


def _is_wkt(field: descriptor.FieldDescriptor) -> bool:
    return field.message_type.full_name.startswith("google.protobuf.")


def to_json(message: Message) -> bytes:
    return json_format.MessageToJson(
        message, always_print_fields_with_no_presence=True, ensure_ascii=False, indent=None
    ).encode("utf-8")


def to_dict(message: Message) -> dict:
    return json_format.MessageToDict(message, always_print_fields_with_no_presence=True)
