"""The fill schema of a template: which data it asks for, read from its Jinja syntax tree.

The template service shows this to business lines (a form, an API description) and uses
``sample_data`` for trial renders and previews. Types are guesses from how a field is
used: ``|money``/``|cn_upper`` or arithmetic → number, ``|cn_date`` → date, ``|image`` →
image, ``|html`` or a paragraph of its own (``{{p x }}``) → html, only tested in an
``{% if %}`` → boolean, otherwise string.

``required`` follows what filling enforces: a field is required when the template prints
or computes with it outside an ``{% if x is defined %}`` guard and without ``|default``.
``conditional`` says every use sits under some ``{% if %}``, so it may not be needed for
every contract.
"""
from __future__ import annotations

import re
import struct
import zlib
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from docx.opc.constants import CONTENT_TYPE
from docxtpl import DocxTemplate
from jinja2 import nodes
from jinja2.exceptions import TemplateSyntaxError

from services.filegen.fill import TEXT_PROPERTIES, open_template, sandbox_environment, template_error
from services.filegen.safety import DEFAULT_LIMITS, Limits, check_docx

STRING = "string"
NUMBER = "number"
DATE = "date"
IMAGE = "image"
HTML = "html"
BOOLEAN = "boolean"

_FILTER_TYPES = {"money": NUMBER, "cn_upper": NUMBER, "cn_date": DATE, "image": IMAGE, "html": HTML}
_ARITHMETIC = (nodes.Sub, nodes.Mul, nodes.Div, nodes.FloorDiv, nodes.Pow)
# Strongest evidence first; "block" is a paragraph of its own, a weak hint of rich text.
_TYPE_ORDER = (IMAGE, HTML, DATE, NUMBER, "block")
_JINJA_NAMES = frozenset({"loop", "range", "dict", "namespace", "cycler", "joiner", "self", "varargs", "kwargs", "caller"})
_PARAGRAPH_START = re.compile(r"<w:p([ >])")


@dataclass(frozen=True)
class Field:
    """One value the template asks for; inside a loop, ``path`` is relative to the item."""

    path: str
    type: str
    required: bool
    conditional: bool


@dataclass(frozen=True)
class Loop:
    """A list the template repeats over (``{%tr for p in plan %}`` → path ``plan``, item ``p``)."""

    path: str
    item: str
    fields: tuple[Field, ...]
    loops: tuple[Loop, ...]
    required: bool
    conditional: bool
    item_type: str | None = None  # set when the items themselves are printed


@dataclass(frozen=True)
class Schema:
    fields: tuple[Field, ...]
    loops: tuple[Loop, ...]

    @property
    def images(self) -> tuple[str, ...]:
        """Paths of image fields; loop item fields read ``plan[].photo``."""
        return self._paths_of(IMAGE)

    @property
    def rich_text(self) -> tuple[str, ...]:
        """Paths of rich-text (HTML) fields; loop item fields read ``plan[].note``."""
        return self._paths_of(HTML)

    def _paths_of(self, kind: str) -> tuple[str, ...]:
        found: list[str] = []

        def walk(fields: tuple[Field, ...], loops: tuple[Loop, ...], prefix: str) -> None:
            found.extend(prefix + f.path for f in fields if f.type == kind)
            for loop in loops:
                if loop.item_type == kind:
                    found.append(f"{prefix}{loop.path}[]")
                walk(loop.fields, loop.loops, f"{prefix}{loop.path}[].")

        walk(self.fields, self.loops, "")
        return tuple(found)


def extract_schema(template: bytes, *, limits: Limits = DEFAULT_LIMITS) -> Schema:
    """Read the fill schema of a .docx template (checked against ``limits`` first)."""
    check_docx(template, limits)
    document = open_template(template)
    environment = sandbox_environment()
    root = _Scope()
    for part, source in template_sources(document):
        try:
            tree = environment.parse(source)
        except TemplateSyntaxError as exc:
            raise template_error(exc, part) from None
        _Walker(root).statements(tree.body)
    fields, loops = root.build()
    return Schema(fields, loops)


def template_sources(document: DocxTemplate) -> list[tuple[str, str]]:
    """Every part docxtpl renders, as (part name, Jinja source) with one paragraph per line."""
    sources = [("/word/document.xml", document.patch_xml(document.get_xml()))]
    for uri in (document.HEADER_URI, document.FOOTER_URI):
        for _, part in document.get_headers_footers(uri):
            sources.append((str(part.partname), document.patch_xml(document.get_part_xml(part))))
    for part in document.docx.part.package.iter_parts():
        if part.content_type == CONTENT_TYPE.WML_FOOTNOTES:
            sources.append((str(part.partname), document.patch_xml(part.blob.decode("utf-8"))))
    properties = document.docx.core_properties
    for name in TEXT_PROPERTIES:
        value = getattr(properties, name) or ""
        if "{" in value:
            sources.append(("/docProps/core.xml", value))
    return [(part, _PARAGRAPH_START.sub(r"\n<w:p\1", source)) for part, source in sources]


# --- collecting usages ---------------------------------------------------------------


@dataclass
class _Usage:
    hints: set[str] = field(default_factory=set)
    printed: bool = False
    required: bool = False
    conditional: bool = True


@dataclass
class _LoopUsage:
    item: str
    scope: _Scope
    required: bool = False
    conditional: bool = True


class _Scope:
    """Paths used at one level: the data root, or the item of one loop."""

    def __init__(self) -> None:
        self.usages: dict[str, _Usage] = {}
        self.loops: dict[str, _LoopUsage] = {}

    def use(self, path: str, *, printed: bool, hints: set[str], required: bool, conditional: bool) -> None:
        usage = self.usages.setdefault(path, _Usage())
        usage.hints |= hints
        usage.printed |= printed
        usage.required |= required and printed
        usage.conditional &= conditional

    def loop(self, path: str, item: str, *, required: bool, conditional: bool) -> _LoopUsage:
        loop = self.loops.setdefault(path, _LoopUsage(item, _Scope()))
        loop.required |= required
        loop.conditional &= conditional
        return loop

    def build(self) -> tuple[tuple[Field, ...], tuple[Loop, ...]]:
        prefixes = {p.rsplit(".", 1)[0] for p in self.usages if "." in p}
        # A path with sub-paths (borrower of borrower.name) is an object, not a field;
        # so is a loop's own path, and "" is the item itself (see item_type).
        expanded = set()
        for path in prefixes:
            parts = path.split(".")
            expanded.update(".".join(parts[: i + 1]) for i in range(len(parts)))
        fields = tuple(
            Field(path, _type_of(u), u.required, u.conditional)
            for path, u in self.usages.items()
            if path and path not in expanded and path not in self.loops
        )
        loops = []
        for path, loop in self.loops.items():
            item_fields, item_loops = loop.scope.build()
            itself = loop.scope.usages.get("")
            loops.append(
                Loop(
                    path,
                    loop.item,
                    item_fields,
                    item_loops,
                    loop.required,
                    loop.conditional,
                    _type_of(itself) if itself is not None and itself.printed else None,
                )
            )
        return fields, tuple(loops)


def _type_of(usage: _Usage) -> str:
    for kind in _TYPE_ORDER:
        if kind in usage.hints:
            return HTML if kind == "block" else kind
    return STRING if usage.printed else BOOLEAN


class _Walker:
    """Walks one template's syntax tree, recording each data path and how it is used."""

    def __init__(self, root: _Scope) -> None:
        self.root = root
        self.loop_vars: dict[str, _Scope] = {}
        self.locals: set[str] = set()
        self.guards: set[tuple[int, str]] = set()  # (scope id, path) under "is defined"
        self.conditional = False

    # statements

    def statements(self, body: list[nodes.Node]) -> None:
        for node in body:
            self.statement(node)

    def statement(self, node: nodes.Node) -> None:
        if isinstance(node, nodes.Output):
            for expr in node.nodes:
                if not isinstance(expr, nodes.TemplateData):
                    self.expr(expr, printed=True)
        elif isinstance(node, nodes.If):
            self.if_(node)
        elif isinstance(node, nodes.For):
            self.for_(node)
        elif isinstance(node, (nodes.Assign, nodes.AssignBlock)):
            if isinstance(node, nodes.Assign):
                self.expr(node.node, printed=True)
            else:
                self.statements(node.body)
            self.locals.update(_target_names(node.target))
        elif isinstance(node, nodes.Macro):
            saved = set(self.locals)
            self.locals.update(arg.name for arg in node.args)
            self.statements(node.body)
            self.locals = saved
        elif isinstance(node, nodes.With):
            for value in node.values:
                self.expr(value, printed=True)
            saved = set(self.locals)
            for target in node.targets:
                self.locals.update(_target_names(target))
            self.statements(node.body)
            self.locals = saved
        else:
            for child in node.iter_child_nodes():
                if isinstance(child, nodes.Expr):
                    self.expr(child, printed=True)
                else:
                    self.statement(child)

    def if_(self, node: nodes.If) -> None:
        self.expr(node.test, printed=False)
        then_guards, else_guards = self._defined_guards(node.test)
        saved = (set(self.guards), self.conditional)
        self.conditional = True
        self.guards |= then_guards
        self.statements(node.body)
        self.guards = saved[0] | else_guards
        for branch in node.elif_:
            self.if_(branch)
        self.statements(node.else_)
        self.guards, self.conditional = saved

    def for_(self, node: nodes.For) -> None:
        iterable = node.iter
        while isinstance(iterable, nodes.Filter) and iterable.node is not None:  # plan|sort(...)
            optional = iterable.name in ("default", "d")
            for arg in iterable.args:
                self.expr(arg, printed=True)
            iterable = iterable.node
            if optional:
                break
        else:
            optional = False
        target = self.resolve(iterable)
        names = _target_names(node.target)
        saved = (dict(self.loop_vars), set(self.locals))
        if target is not None and isinstance(node.target, nodes.Name):
            scope, path = target
            required = not optional and not self._guarded(scope, path)
            loop = scope.loop(path, node.target.name, required=required, conditional=self.conditional)
            self.loop_vars[node.target.name] = loop.scope
            self.locals.discard(node.target.name)
        else:
            self.expr(node.iter, printed=True)
            self.locals.update(names)
        if node.test is not None:
            self.expr(node.test, printed=False)
        self.statements(node.body)
        self.loop_vars, self.locals = saved
        self.statements(node.else_)

    def _defined_guards(self, test: nodes.Expr) -> tuple[set[tuple[int, str]], set[tuple[int, str]]]:
        """Paths known defined in the then-branch and in the else-branch of ``test``."""
        if isinstance(test, nodes.Test) and test.name in ("defined", "undefined"):
            target = self.resolve(test.node)
            if target is None:
                return set(), set()
            key = {(id(target[0]), target[1])}
            return (key, set()) if test.name == "defined" else (set(), key)
        if isinstance(test, nodes.Not):
            then_guards, else_guards = self._defined_guards(test.node)
            return else_guards, then_guards
        if isinstance(test, nodes.And):
            return self._defined_guards(test.left)[0] | self._defined_guards(test.right)[0], set()
        return set(), set()

    def _guarded(self, scope: _Scope, path: str) -> bool:
        return any(sid == id(scope) and (path == g or path.startswith(g + ".")) for sid, g in self.guards)

    # expressions

    def resolve(self, node: nodes.Node) -> tuple[_Scope, str] | None:
        """The data path an expression names (scope and dotted path), or None."""
        if isinstance(node, nodes.Name):
            if node.name in self.locals or node.name in _JINJA_NAMES:
                return None
            if node.name in self.loop_vars:
                return self.loop_vars[node.name], ""
            return self.root, node.name
        if isinstance(node, nodes.Getattr):
            base = self.resolve(node.node)
            return None if base is None else (base[0], _join(base[1], node.attr))
        if isinstance(node, nodes.Getitem):
            base = self.resolve(node.node)
            if base is not None and isinstance(node.arg, nodes.Const) and isinstance(node.arg.value, str):
                return base[0], _join(base[1], node.arg.value)
            return base
        return None

    def expr(self, node: nodes.Node, *, printed: bool, hints: frozenset[str] = frozenset(), optional: bool = False) -> None:
        if isinstance(node, nodes.Filter):
            for arg in [*node.args, *(kw.value for kw in node.kwargs)]:
                self.expr(arg, printed=True)
            if node.node is None:
                return
            hint = "block" if node.name == "_block" else _FILTER_TYPES.get(node.name)
            self.expr(
                node.node,
                printed=printed or node.name not in ("default", "d"),
                hints=hints | {hint} if hint else hints,
                optional=optional or node.name in ("default", "d"),
            )
        elif isinstance(node, nodes.Test):
            for arg in node.args:
                self.expr(arg, printed=False)
            self.expr(node.node, printed=False, hints=hints, optional=True)
        elif isinstance(node, (nodes.Name, nodes.Getattr, nodes.Getitem)) and self.resolve(node) is not None:
            scope, path = self.resolve(node)
            if isinstance(node, nodes.Getitem) and not isinstance(node.arg, nodes.Const):
                self.expr(node.arg, printed=True)
            required = printed and not optional and not self._guarded(scope, path)
            scope.use(path, printed=printed, hints=set(hints), required=required, conditional=self.conditional)
        elif isinstance(node, nodes.Call):
            callee = node.node
            if isinstance(callee, nodes.Getattr):  # a method of a value: the value is used
                self.expr(callee.node, printed=printed, optional=optional)
            elif not isinstance(callee, nodes.Name):
                self.expr(callee, printed=printed, optional=optional)
            for arg in [*node.args, *(kw.value for kw in node.kwargs)]:
                self.expr(arg, printed=printed)
            for extra in (node.dyn_args, node.dyn_kwargs):
                if extra is not None:
                    self.expr(extra, printed=printed)
        elif isinstance(node, nodes.Compare):
            operands = [node.expr, *(op.expr for op in node.ops)]
            numeric = any(isinstance(o, nodes.Const) and _is_number(o.value) for o in operands)
            for operand in operands:
                self.expr(operand, printed=printed, hints=frozenset({NUMBER}) if numeric else frozenset(), optional=optional)
        elif isinstance(node, _ARITHMETIC):
            for operand in (node.left, node.right):
                self.expr(operand, printed=printed, hints=frozenset({NUMBER}), optional=optional)
        elif isinstance(node, nodes.CondExpr):
            self.expr(node.test, printed=False)
            saved = self.conditional
            self.conditional = True
            self.expr(node.expr1, printed=printed, hints=hints, optional=optional)
            if node.expr2 is not None:
                self.expr(node.expr2, printed=printed, hints=hints, optional=optional)
            self.conditional = saved
        else:
            for child in node.iter_child_nodes():
                self.expr(child, printed=printed, optional=optional)


def _join(base: str, name: str) -> str:
    return f"{base}.{name}" if base else name


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _target_names(target: nodes.Node) -> set[str]:
    return {n.name for n in target.find_all(nodes.Name)} | ({target.name} if isinstance(target, nodes.Name) else set())


# --- sample data for trial renders ---------------------------------------------------

_COMPANY_HINTS = ("lender", "company", "org", "enterprise", "corp", "party_a", "creditor", "bank")
_PERSON_LEAVES = ("name", "legal_rep", "representative", "contact", "signer", "person")
_SEQUENCE_LEAVES = ("no", "seq", "index", "period", "term_no")
_STRING_SAMPLES = (
    (("phone", "mobile", "tel"), "13800138000"),
    (("email", "mail"), "zhangsan@example.com"),
    (("address", "addr"), "北京市朝阳区建国路1号"),
    (("id_no", "idno", "id_card", "idcard", "id_number"), "110101199001011234"),
    (("credit_code", "uscc", "license"), "91110000MA01234567"),
    (("account",), "6222020200001234567"),
    (("bank",), "中国工商银行北京分行"),
    (("rate",), "4.35"),
    (("months", "month", "term", "days", "years"), "12"),
    (("contract_no", "code", "number", "no"), "HT-2026-0001"),
)


def sample_data(schema: Schema, *, rows: int = 3) -> dict[str, Any]:
    """Plausible data for every field and loop of ``schema`` (``rows`` items per loop)."""
    data: dict[str, Any] = {}
    for item in schema.fields:
        _put(data, item.path, _sample(item.path, item.type, 0, in_loop=False))
    for loop in schema.loops:
        _put(data, loop.path, [_sample_item(loop, i) for i in range(rows)])
    return data


def _sample_item(loop: Loop, index: int) -> Any:
    if not loop.fields and not loop.loops:
        return _sample(loop.path, loop.item_type or STRING, index, in_loop=True)
    item: dict[str, Any] = {}
    for entry in loop.fields:
        _put(item, entry.path, _sample(entry.path, entry.type, index, in_loop=True))
    for inner in loop.loops:
        _put(item, inner.path, [_sample_item(inner, i) for i in range(2)])
    return item


def _put(data: dict[str, Any], path: str, value: Any) -> None:
    *parents, leaf = path.split(".")
    for name in parents:
        child = data.setdefault(name, {})
        if not isinstance(child, dict):
            return
        data = child
    data.setdefault(leaf, value)


def _sample(path: str, kind: str, index: int, *, in_loop: bool) -> Any:
    leaf = path.rsplit(".", 1)[-1].lower()
    if in_loop and leaf in _SEQUENCE_LEAVES:  # 期数 in a schedule
        return index + 1
    if kind == NUMBER:
        if "rate" in leaf:
            return 4.35
        if "term" in leaf or "month" in leaf:
            return 12
        return 50000 + 1000 * index
    if kind == DATE:
        return f"2026-{index % 12 + 1:02d}-01"
    if kind == BOOLEAN:
        return True
    if kind == IMAGE:
        return {"$image": _placeholder_png()}
    if kind == HTML:
        return {"$html": f"<p>示例条款：<b>{leaf}</b></p>"}
    if any(leaf == k or leaf.endswith("_" + k) for k in _PERSON_LEAVES):
        return "示例科技有限公司" if leaf.endswith("name") and any(h in path.lower() for h in _COMPANY_HINTS) else "张三"
    for keys, value in _STRING_SAMPLES:
        if any(leaf == k or leaf.endswith("_" + k) or (len(k) > 3 and k in leaf) for k in keys):
            return value
    return f"【{path}】"


@cache
def _placeholder_png(size: int = 120) -> bytes:
    """A light grey square with a dark border, as a PNG (greyscale, no dependencies)."""
    rows = []
    for y in range(size):
        line = bytes(80 if x < 3 or y < 3 or x >= size - 3 or y >= size - 3 else 225 for x in range(size))
        rows.append(b"\x00" + line)
    body = zlib.compress(b"".join(rows))

    def chunk(kind: bytes, payload: bytes) -> bytes:
        return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))

    header = struct.pack(">IIBBBBB", size, size, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", body) + chunk(b"IEND", b"")
