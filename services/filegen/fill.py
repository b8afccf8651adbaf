"""Filling a .docx template with data: docxtpl inside a hardened Jinja2 sandbox.

Everything a template evaluates runs in one ``SandboxedEnvironment`` per process with
autoescaping on, so data can never become Word XML: ``<``, ``&``, quotes and pasted
``</w:t>`` all come out as text. The sandbox is tightened further: no ``|safe``, no
``{% autoescape false %}``, no include/import/extends, no attribute or key starting with
``_``, and bounded ``*`` and ``**``. Anything refused is ``InvalidArgument``.

Data may carry two kinds of special values (``$`` keys mark them):

- an image ``{"$image": <bytes | base64 | data: URI>, "width_mm": 40, "height_mm": 40}``,
  or ``{"$image_ref": "<blob ref>", ...}`` resolved through the caller's ``image_loader``;
  sizes are optional (one keeps the aspect ratio, none uses the image's own size);
- rich text ``{"$html": "<p>...</p>"}`` in the safe subset of ``richtext``.

Templates may also declare them: ``{{ seal|image(40, 40) }}`` (sizes in mm, used when
the data gives none) and ``{{p clause|html }}``. A field standing in its own paragraph
as ``{{p field }}`` becomes whole paragraphs (rich text, an image, or plain text); inline
``{{ field }}`` stays inside the current line.

A field the template needs but the data lacks (absent or ``null``) is never filled with a
blank: every missing one is collected during the render and reported at once.
"""
from __future__ import annotations

import base64
import binascii
import functools
import io
import re
import threading
import zipfile
from collections import OrderedDict
from collections.abc import Callable, Mapping
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from docx.image.exceptions import UnrecognizedImageError
from docx.opc.constants import CONTENT_TYPE
from docx.opc.package import Unmarshaller
from docx.opc.part import Part, PartFactory, XmlPart
from docx.opc.pkgreader import PackageReader
from docx.opc.pkgwriter import PackageWriter
from docx.package import Package
from docx.oxml import OxmlElement, parse_xml
from docx.shared import Mm
from docx.text.paragraph import Paragraph
from docxtpl import DocxTemplate, InlineImage
from jinja2 import nodes
from jinja2.exceptions import SecurityError, TemplateError, TemplateSyntaxError, UndefinedError
from jinja2.runtime import Undefined
from jinja2.sandbox import SandboxedEnvironment
from jinja2.utils import missing
from lxml import etree
from markupsafe import Markup

from core.errors import DomainError, FieldViolation, InvalidArgument, NotFound, invalid
from services.filegen.richtext import HtmlFragment
from services.filegen.safety import DEFAULT_LIMITS, Limits, check_docx, check_image
from services.filegen.slim import without_unused_styles

DATA_FIELD = "data"
TEMPLATE_FIELD = "template"
IMAGE_MARKER = "$image"
IMAGE_REF_MARKER = "$image_ref"
HTML_MARKER = "$html"
_IMAGE_SIZE_KEYS = ("width_mm", "height_mm")
_MAX_IMAGE_MM = 1000.0
_MAX_INT_BITS = 4096  # bounds ``**`` so a template cannot build gigantic integers
_MAX_SEQUENCE = 100_000  # bounds ``'x' * n`` and ``[..] * n``
_COMPILED_CACHE_SIZE = 64
# The core properties docxtpl renders as templates (the plain-text ones).
TEXT_PROPERTIES = ("author", "comments", "identifier", "language", "subject", "title")

ImageLoader = Callable[[str], bytes]


# --- filters for contract work -------------------------------------------------------

_CN_DIGITS = "零壹贰叁肆伍陆柒捌玖"
_CN_UNITS = ("", "拾", "佰", "仟")
_CN_SECTIONS = ("", "万", "亿")
_CN_MAX = Decimal(10) ** 12
_CENT = Decimal("0.01")
_DATE = re.compile(r"^\s*(\d{4})[-/.年](\d{1,2})[-/.月](\d{1,2})日?(?:$|[T\s])")


def _decimal(value: Any) -> Decimal:
    if isinstance(value, bool):
        raise ValueError(f"{value!r} is not an amount")
    if isinstance(value, Decimal):
        number = value
    elif isinstance(value, (int, float)):
        number = Decimal(str(value))  # str() keeps 1234.56 from becoming 1234.5599…
    elif isinstance(value, str):
        try:
            number = Decimal(value.strip().replace(",", "").lstrip("¥￥"))
        except InvalidOperation:
            raise ValueError(f"{value!r} is not an amount") from None
    else:
        raise ValueError(f"{value!r} is not an amount")
    if not number.is_finite():
        raise ValueError(f"{value!r} is not an amount")
    return number


def format_money(value: Any) -> str:
    """50000 → '50,000.00': thousands separators, two decimals, rounded half up."""
    return f"{_decimal(value).quantize(_CENT, ROUND_HALF_UP):,.2f}"


def chinese_amount(value: Any) -> str:
    """Chinese upper-case amount by the financial rules: 10010 → 壹万零壹拾元整, 0.5 → 伍角."""
    amount = _decimal(value).quantize(_CENT, ROUND_HALF_UP)
    sign = "负" if amount < 0 else ""
    amount = abs(amount)
    if amount >= _CN_MAX:
        raise ValueError(f"{value!r} is too large for a Chinese upper-case amount")
    yuan, cents = divmod(int(amount * 100), 100)
    jiao, fen = divmod(cents, 10)
    words = _chinese_integer(yuan)
    if not words and not cents:
        return "零元整"
    out = sign + (words + "元" if words else "")
    if not cents:
        return out + "整"
    if jiao:
        out += _CN_DIGITS[jiao] + "角"
    elif words:
        out += "零"  # 壹元零伍分: the zero jiao is spoken between yuan and fen
    if fen:
        out += _CN_DIGITS[fen] + "分"
    return out


def _chinese_integer(number: int) -> str:
    sections: list[int] = []
    while number:
        number, section = divmod(number, 10000)
        sections.append(section)
    out = ""
    zero_pending = False
    for index in reversed(range(len(sections))):
        section = sections[index]
        if section == 0:
            zero_pending = bool(out)
            continue
        # A gap before this section (a zero section, or leading zeros in it) reads as one 零.
        if out and (zero_pending or section < 1000):
            out += "零"
        out += _chinese_section(section) + _CN_SECTIONS[index]
        zero_pending = False
    return out


def _chinese_section(section: int) -> str:
    out = ""
    zero = False
    for position, digit in zip((3, 2, 1, 0), f"{section:04d}"):
        if digit == "0":
            zero = bool(out)
            continue
        if zero:
            out += "零"
            zero = False
        out += _CN_DIGITS[int(digit)] + _CN_UNITS[position]
    return out


def chinese_date(value: Any) -> str:
    """2026-01-01 (a date, datetime or ISO-like string) → '2026年1月1日'."""
    if isinstance(value, datetime):
        value = value.date()
    if not isinstance(value, date):
        match = _DATE.match(str(value)) if isinstance(value, str) else None
        if match is None:
            raise ValueError(f"{value!r} is not a date")
        try:
            value = date(*(int(g) for g in match.groups()))
        except ValueError:
            raise ValueError(f"{value!r} is not a date") from None
    return f"{value.year}年{value.month}月{value.day}日"


def _data_filter(convert: Callable[[Any], str], name: str) -> Callable[[Any], Any]:
    def apply(value: Any) -> Any:
        if isinstance(value, Undefined):
            return value  # printed later, which records it as missing
        try:
            return convert(value)
        except ValueError as exc:
            raise invalid(DATA_FIELD, f"{exc} (in the |{name} filter)") from None

    return apply


# --- the render state and missing-field collection ----------------------------------


@dataclass
class _RenderState:
    template: DocxTemplate
    limits: Limits
    missing: dict[str, None] = field(default_factory=dict)


_STATE: ContextVar[_RenderState | None] = ContextVar("filegen_render_state", default=None)


class _PathDict(dict):
    """A data object that knows where it sits in the data, to name missing keys fully."""

    __slots__ = ("_path",)

    def __init__(self, path: str) -> None:
        super().__init__()
        self._path = path


class _PathList(list):
    """A data list that knows its path, so a missing ``plan[3].date`` is named exactly."""

    __slots__ = ("_path",)

    def __init__(self, path: str, items: list) -> None:
        super().__init__(items)
        self._path = path


def _child_path(parent: str | None, name: Any) -> str | None:
    if name is None:
        return None
    if isinstance(name, int):
        return f"{parent or ''}[{name}]"
    return f"{parent}.{name}" if parent else str(name)


class _CollectingUndefined(Undefined):
    """A missing value that records its dotted path when a template actually uses it.

    Printing, iterating, measuring or computing with it records the path and goes on, so
    one render finds every missing field. Truth tests (``{% if x %}``), ``is defined`` and
    ``|default`` do not record: those are how a template says a field is optional.
    """

    __slots__ = ()

    def __init__(self, hint: str | None = None, obj: Any = missing, name: Any = None, exc: type = UndefinedError):
        if obj is missing:
            path = None if name is None else str(name)
        elif isinstance(obj, (_PathDict, _PathList)):
            path = _child_path(obj._path, name)
        elif isinstance(obj, Undefined):
            path = _child_path(obj._undefined_name, name)
        else:
            path = None if name is None else str(name)
        super().__init__(hint, obj, path, exc)

    def _record(self) -> None:
        state = _STATE.get()
        # Nameless undefineds are Jinja's own (loop.previtem on the first row), not data.
        if state is not None and isinstance(self._undefined_name, str):
            state.missing.setdefault(self._undefined_name)

    def _use(self, *args: Any, **kwargs: Any) -> _CollectingUndefined:
        self._record()
        return self

    __add__ = __radd__ = __sub__ = __rsub__ = _use
    __mul__ = __rmul__ = __div__ = __rdiv__ = _use
    __truediv__ = __rtruediv__ = __floordiv__ = __rfloordiv__ = _use
    __mod__ = __rmod__ = __pos__ = __neg__ = __abs__ = __round__ = _use
    __pow__ = __rpow__ = _use
    __lt__ = __le__ = __gt__ = __ge__ = _use

    def __call__(self, *args: Any, **kwargs: Any) -> _CollectingUndefined:
        # x.strftime(...) on a missing x: the missing field is x, not x.strftime.
        owner = self._undefined_obj
        target = owner if isinstance(owner, _CollectingUndefined) else self
        target._record()
        return target

    def __getattr__(self, name: str) -> Any:
        if name[:2] == "__" and name[-2:] == "__":
            raise AttributeError(name)
        return type(self)(obj=self, name=name)

    def __getitem__(self, key: Any) -> _CollectingUndefined:
        return type(self)(obj=self, name=key)

    def __str__(self) -> str:
        self._record()
        return ""

    def __iter__(self):  # type: ignore[override]
        self._record()
        return iter(())

    def __len__(self) -> int:
        self._record()
        return 0

    def __int__(self) -> int:
        self._record()
        return 0

    def __float__(self) -> float:
        self._record()
        return 0.0

    def __complex__(self) -> complex:
        self._record()
        return 0j


# --- images, rich text and paragraph-level fields ------------------------------------


def _image_size(value: Any, key: str, field_path: str) -> Mm | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value <= _MAX_IMAGE_MM:
        raise invalid(f"{field_path}.{key}", f"must be a number of millimetres in (0, {_MAX_IMAGE_MM:g}]")
    return Mm(value)


def _image_bytes(raw: Any, field_path: str, limits: Limits) -> bytes:
    if isinstance(raw, (bytes, bytearray, memoryview)):
        return bytes(raw)
    if not isinstance(raw, str):
        raise invalid(field_path, "an image must be bytes, base64 text or a data: URI")
    text = raw.strip()
    if text.startswith("data:"):
        header, _, text = text.partition(",")
        if not header.endswith(";base64"):
            raise invalid(field_path, "a data: URI image must be base64-encoded")
    text = "".join(text.split())
    # Refuse before decoding: base64 is 4/3 the size of what it carries.
    if len(text) * 3 // 4 > limits.max_image_bytes:
        raise invalid(field_path, f"image is larger than {limits.max_image_bytes} bytes")
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise invalid(field_path, "image is not valid base64") from None


def _inline_image(data: bytes, width: Mm | None, height: Mm | None, field_path: str) -> InlineImage:
    state = _current_state()
    check_image(data, state.limits, field=field_path)
    return InlineImage(state.template, io.BytesIO(data), width=width, height=height)


def _current_state() -> _RenderState:
    state = _STATE.get()
    if state is None:
        raise RuntimeError("image and rich-text values exist only while filling a template")
    return state


def _image_filter(value: Any, width_mm: float | None = None, height_mm: float | None = None) -> Any:
    """``{{ seal|image(40, 40) }}``: sizes from the template, used when the data gives none."""
    if isinstance(value, Undefined):
        return value
    width = _image_size(width_mm, "width_mm", TEMPLATE_FIELD)
    height = _image_size(height_mm, "height_mm", TEMPLATE_FIELD)
    if isinstance(value, InlineImage):
        if value.width is not None or value.height is not None:
            return value
        return InlineImage(value.tpl, value.image_descriptor, width=width, height=height)
    return _inline_image(_image_bytes(value, DATA_FIELD, _current_state().limits), width, height, DATA_FIELD)


def _html_filter(value: Any) -> Any:
    if isinstance(value, (Undefined, HtmlFragment)):
        return value
    return HtmlFragment(str(value))


def _block_filter(value: Any) -> Any:
    """Turn a value standing in its own paragraph (``{{p x }}``) into whole paragraphs."""
    if isinstance(value, Undefined):
        return value
    if isinstance(value, HtmlFragment):
        return Markup(value.block_xml())
    if isinstance(value, InlineImage):
        return Markup('<w:p><w:r><w:t xml:space="preserve">' + value.__html__() + "</w:t></w:r></w:p>")
    text = value.unescape() if isinstance(value, Markup) else "" if value is None else str(value)
    paragraph = Paragraph(OxmlElement("w:p"), None)
    paragraph.add_run(text)
    return Markup(etree.tostring(paragraph._p, encoding="unicode"))


# Characters XML 1.0 forbids; tab, newline (a line break in the document) and CR are fine.
_CONTROL_CHARACTERS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def _prepare(value: Any, path: str, loader: ImageLoader | None) -> Any:
    """Copy the data into path-aware containers and turn ``$`` markers into values."""
    if isinstance(value, Mapping):
        markers = [k for k in value if isinstance(k, str) and k.startswith("$")]
        if markers:
            return _marker(value, path, loader)
        out = _PathDict(path)
        for key, item in value.items():
            if not isinstance(key, str):
                raise invalid(_field(path), f"keys must be strings, not {key!r}")
            if item is not None:  # null means absent: never print "None" into a contract
                out[key] = _prepare(item, _child_path(path, key) or key, loader)
        return out
    if isinstance(value, (list, tuple)):
        return _PathList(path, [_prepare(v, f"{path}[{i}]", loader) for i, v in enumerate(value)])
    if isinstance(value, str) and (bad := _CONTROL_CHARACTERS.search(value)):
        # XML cannot hold them; docxtpl would even turn \a and \f into paragraphs and page breaks.
        raise invalid(_field(path), f"contains the control character {bad.group()!r}, which cannot appear in a document")
    return value


def _field(path: str) -> str:
    return f"{DATA_FIELD}.{path}" if path else DATA_FIELD


def _marker(value: Mapping, path: str, loader: ImageLoader | None) -> Any:
    field_path = _field(path)
    keys = set(value)
    if HTML_MARKER in keys:
        if keys != {HTML_MARKER} or not isinstance(value[HTML_MARKER], str):
            raise invalid(field_path, f"rich text is {{{HTML_MARKER!r}: <html string>}} and nothing else")
        return HtmlFragment(value[HTML_MARKER])
    image_keys = keys & {IMAGE_MARKER, IMAGE_REF_MARKER}
    if len(image_keys) == 1 and keys <= image_keys | set(_IMAGE_SIZE_KEYS):
        width = _image_size(value.get("width_mm"), "width_mm", field_path)
        height = _image_size(value.get("height_mm"), "height_mm", field_path)
        state = _current_state()
        if IMAGE_REF_MARKER in keys:
            ref = value[IMAGE_REF_MARKER]
            if loader is None:
                raise invalid(field_path, "image references cannot be resolved here; send the image bytes")
            if not isinstance(ref, str) or not ref:
                raise invalid(field_path, "an image reference must be a non-empty string")
            try:
                data = loader(ref)
            except NotFound:
                # The caller's data is wrong, not the service: name the field.
                raise invalid(field_path, f"refers to no stored image ({ref!r})") from None
        else:
            data = _image_bytes(value[IMAGE_MARKER], field_path, state.limits)
        return _inline_image(data, width, height, field_path)
    raise invalid(
        field_path,
        f"unknown special value with keys {sorted(keys)}; expected {{{IMAGE_MARKER!r}: .., 'width_mm': .., "
        f"'height_mm': ..}}, {{{IMAGE_REF_MARKER!r}: ..}} or {{{HTML_MARKER!r}: ..}}",
    )


# --- the sandboxed environment -------------------------------------------------------

_FORBIDDEN_NODES: dict[type, str] = {
    nodes.Extends: "{% extends %}",
    nodes.Include: "{% include %}",
    nodes.Import: "{% import %}",
    nodes.FromImport: "{% from ... import %}",
    nodes.EvalContextModifier: "{% autoescape %}",  # also covers the scoped form
    nodes.MarkSafe: "marking text safe",
    nodes.MarkSafeIfAutoescape: "marking text safe",
}


class _Forbidden(TemplateSyntaxError):
    """Well-formed Jinja that reaches past the sandbox (includes, |safe...): unsafe, not a typo."""


class _ContractEnvironment(SandboxedEnvironment):
    """Jinja2's sandbox with autoescape fixed on and the escape hatches closed."""

    intercepted_binops = frozenset({"*", "**"})

    def __init__(self) -> None:
        super().__init__(autoescape=True, undefined=_CollectingUndefined, finalize=_finalize)
        for name in ("safe", "urlize"):  # urlize emits HTML markup, never valid in Word XML
            self.filters.pop(name, None)
        self.globals.pop("lipsum", None)
        self.filters.update(
            money=_data_filter(format_money, "money"),
            cn_upper=_data_filter(chinese_amount, "cn_upper"),
            cn_date=_data_filter(chinese_date, "cn_date"),
            image=_image_filter,
            html=_html_filter,
            _block=_block_filter,
        )
        self._compiled: OrderedDict[str, Any] = OrderedDict()
        self._compiled_lock = threading.Lock()

    def _parse(self, source: str, name: str | None, filename: str | None) -> nodes.Template:
        tree = super()._parse(source, name, filename)
        for node_type, what in _FORBIDDEN_NODES.items():
            for node in tree.find_all(node_type):
                raise _Forbidden(f"{what} is not allowed in contract templates", node.lineno, name, filename)
        for node in tree.find_all(nodes.Filter):
            if node.name == "safe":
                raise _Forbidden("|safe is not allowed in contract templates", node.lineno, name, filename)
        return tree

    def from_string(self, source: Any, globals: Any = None, template_class: Any = None) -> Any:
        # docxtpl compiles each part on every render; the same template gives the same source.
        if globals or template_class is not None or not isinstance(source, str):
            return super().from_string(source, globals, template_class)
        with self._compiled_lock:
            compiled = self._compiled.get(source)
            if compiled is not None:
                self._compiled.move_to_end(source)
                return compiled
        compiled = super().from_string(source)
        with self._compiled_lock:
            self._compiled[source] = compiled
            while len(self._compiled) > _COMPILED_CACHE_SIZE:
                self._compiled.popitem(last=False)
        return compiled

    def getattr(self, obj: Any, attribute: str) -> Any:
        _refuse_private(attribute)
        return super().getattr(obj, attribute)

    def getitem(self, obj: Any, argument: Any) -> Any:
        _refuse_private(argument)
        return super().getitem(obj, argument)

    def unsafe_undefined(self, obj: Any, attribute: str) -> Undefined:
        # Jinja would hand back an undefined that fails later; refuse at once instead.
        raise SecurityError(f"access to attribute {attribute!r} of a {type(obj).__name__} is not allowed")

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        if operator == "**" and isinstance(left, int) and isinstance(right, int):
            if right > 0 and abs(left) > 1 and left.bit_length() * right > _MAX_INT_BITS:
                raise SecurityError("the power is too large")
        if operator == "*":
            for seq, count in ((left, right), (right, left)):
                if isinstance(seq, (str, list, tuple)) and isinstance(count, int) and len(seq) * count > _MAX_SEQUENCE:
                    raise SecurityError("the repeated sequence is too long")
        return super().call_binop(context, operator, left, right)


def _refuse_private(name: Any) -> None:
    if isinstance(name, str) and name.startswith("_"):
        raise SecurityError(f"access to {name!r} is not allowed in templates")


def _finalize(value: Any) -> Any:
    return "" if value is None else value


_environment: _ContractEnvironment | None = None
_environment_lock = threading.Lock()


def sandbox_environment() -> SandboxedEnvironment:
    """The process's one sandboxed environment, made on first use."""
    global _environment
    if _environment is None:
        with _environment_lock:
            if _environment is None:
                _environment = _ContractEnvironment()
    return _environment


# --- the docxtpl template ------------------------------------------------------------

# docxtpl's first two clean-ups, which join tags Word split across runs; repeating them
# before ours is harmless (they are idempotent) and lets us see whole ``{{p ...}}`` tags.
_SPLIT_BRACES = re.compile(r"(?<={)(<[^>]*>)+(?=[\{%\#])|(?<=[%\}\#])(<[^>]*>)+(?=\})", re.DOTALL)
_TAG_BODY = re.compile(r"{%(?:(?!%}).)*|{#(?:(?!#}).)*|{{(?:(?!}}).)*", re.DOTALL)
_TAG_XML = re.compile(r"</w:t>.*?(<w:t>|<w:t [^>]*>)", re.DOTALL)
_PARAGRAPH_FIELD = re.compile(r"\{\{p\s+([^}%]*?)\s*\}\}")


def _join_split_tags(xml: str) -> str:
    xml = _SPLIT_BRACES.sub("", xml)
    return _TAG_BODY.sub(lambda m: _TAG_XML.sub("", m.group(0)), xml)


@functools.lru_cache(maxsize=256)
def _patched(src_xml: str) -> str:
    """docxtpl's tag clean-up of one part; the same template part always gives the same result,
    so it runs once per template, not once per contract (it is most of a fill's regex time)."""
    # ``{{p x }}`` replaces its paragraph; route the value through ``_block`` so rich
    # text, images and plain text all become well-formed paragraphs there.
    src_xml = _PARAGRAPH_FIELD.sub(r"{{p (\1)|_block }}", _join_split_tags(src_xml))
    return DocxTemplate.patch_xml(None, src_xml)  # uses no instance state


@functools.lru_cache(maxsize=256)
def _compiled(environment: Any, src_xml: str) -> Any:
    """The compiled Jinja template of one patched part (compiling costs more than rendering)."""
    return environment.from_string(src_xml)


# Parts that neither docxtpl nor the filling reads or changes stay bytes: parsing and
# re-serialising them (styles.xml alone is hundreds of KB in Word's stock template) was a
# third of the package work of a fill.
_UNTOUCHED_PARTS = frozenset({
    CONTENT_TYPE.WML_STYLES, CONTENT_TYPE.WML_SETTINGS, CONTENT_TYPE.WML_NUMBERING,
    CONTENT_TYPE.WML_FONT_TABLE, CONTENT_TYPE.WML_WEB_SETTINGS, CONTENT_TYPE.OFC_THEME,
})


def _load_part(partname: Any, content_type: str, reltype: str, blob: bytes, package: Any) -> Part:
    if content_type in _UNTOUCHED_PARTS:
        return Part(partname, content_type, blob, package)
    return PartFactory(partname, content_type, reltype, blob, package)


_LISTING_TEXT = re.compile(r"<w:t(?: [^>]*)?>[^<]*[\t\n\a\f]")


@functools.lru_cache(maxsize=16)
def _package_reader(template: bytes) -> PackageReader:
    """A template's parts unzipped once: unmarshalling only reads them, and each fill
    parses its own copies of the parts it changes."""
    return PackageReader.from_file(io.BytesIO(template))


def _open_document(template: bytes) -> Any:
    """python-docx's ``Document()``, with the untouched parts left unparsed."""
    package = Package()
    Unmarshaller.unmarshal(_package_reader(template), package, _load_part)
    document_part = package.main_document_part
    if document_part.content_type != CONTENT_TYPE.WML_DOCUMENT_MAIN:
        raise ValueError(f"the main part is {document_part.content_type}, not a Word document")
    return document_part.document


class ContractTemplate(DocxTemplate):
    """docxtpl with paragraph-level fields, single-pass footnotes, strict output XML,
    patched, compiled parts cached per template, and only the parts it fills parsed."""

    def init_docx(self, reload: bool = True) -> None:
        if not self.docx or (self.is_rendered and reload):
            self.docx = _open_document(self.template_file.getvalue())
            self.is_rendered = False

    def resolve_listing(self, xml: str) -> str:
        # docxtpl's listing pass only rewrites tabs, newlines, \a and \f inside text; XML
        # with none there comes back unchanged, after nested regex passes over all of it.
        if not _LISTING_TEXT.search(xml):
            return xml
        return super().resolve_listing(xml)

    def patch_xml(self, src_xml: str) -> str:
        return _patched(src_xml)

    def render_xml_part(self, src_xml: str, part: Any, context: dict, jinja_env: Any = None) -> str:
        # docxtpl's own steps, with the compiled template taken from the cache.
        src_xml = re.sub(r"<w:p([ >])", r"\n<w:p\1", src_xml)
        self.current_rendering_part = part
        try:
            dst_xml = _compiled(jinja_env, src_xml).render(context)
        except TemplateError as exc:
            if getattr(exc, "lineno", None) is not None:
                first = max(exc.lineno - 4, 0)
                exc.docx_context = [re.sub(r"<[^>]+>", "", x) for x in src_xml.splitlines()[first : first + 7]]
            raise
        dst_xml = re.sub(r"\n<w:p([ >])", r"<w:p\1", dst_xml)
        dst_xml = dst_xml.replace("{_{", "{{").replace("}_}", "}}").replace("{_%", "{%").replace("%_}", "%}")
        return self.resolve_listing(dst_xml)

    def fix_tables(self, xml: str) -> Any:
        # docxtpl parses with recover=True, which would silently mangle a template whose
        # tags break the XML (an {% if %} spanning table cells); report it instead.
        try:
            etree.fromstring(xml, etree.XMLParser(resolve_entities=False, no_network=True))
        except etree.XMLSyntaxError as exc:
            raise invalid(
                TEMPLATE_FIELD,
                f"filling the template produced broken Word XML ({exc}); a template tag probably "
                "spans paragraphs or table cells without the p/tr/tc prefix",
                "SYNTAX_ERROR",
            ) from None
        return super().fix_tables(xml)

    def render_footnotes(self, context: dict, jinja_env: Any = None) -> None:
        # docxtpl renders footnotes once per section, re-reading data as template text.
        for part in self.docx.part.package.iter_parts():
            if part.content_type != CONTENT_TYPE.WML_FOOTNOTES:
                continue
            xml = self.render_xml_part(self.patch_xml(part.blob.decode("utf-8")), part, context, jinja_env)
            if isinstance(part, XmlPart):
                part._element = parse_xml(xml.encode("utf-8"))
            else:
                part._blob = xml.encode("utf-8")

    def render_properties(self, context: dict, jinja_env: Any = None) -> None:
        # Core properties are plain text: unescape what autoescape produced for XML.
        properties = self.docx.core_properties
        for name in TEXT_PROPERTIES:
            initial = getattr(properties, name) or ""
            if "{" not in initial:
                continue
            try:
                rendered = jinja_env.from_string(initial).render(context)
            except TemplateError as exc:
                raise template_error(exc, "/docProps/core.xml") from None
            setattr(properties, name, Markup(rendered).unescape())


def open_template(template: bytes) -> ContractTemplate:
    """Load template bytes (already checked by ``check_docx``) as a docxtpl template."""
    document = ContractTemplate(io.BytesIO(template))
    try:
        document.init_docx()
    except Exception as exc:  # python-docx reports a broken package in many ways
        raise invalid(TEMPLATE_FIELD, f"is not a valid Word document: {exc}", "NOT_A_DOCX") from None
    return document


# --- errors --------------------------------------------------------------------------

_XML_TAG = re.compile(r"<[^>]+>")


def template_error(exc: TemplateError, part: str | None = None) -> InvalidArgument:
    """Explain a Jinja error in the template author's terms: what, and near which text."""
    where = _in_part(part)
    if isinstance(exc, SecurityError):
        return invalid(TEMPLATE_FIELD, f"the template tries something the sandbox forbids{where}: {exc}",
                       "UNSAFE_EXPRESSION")
    if isinstance(exc, TemplateSyntaxError):
        near = _near(getattr(exc, "source", None), exc.lineno)
        reason = "UNSAFE_EXPRESSION" if isinstance(exc, _Forbidden) else "SYNTAX_ERROR"
        return invalid(TEMPLATE_FIELD, f"template syntax error{where}: {exc.message}{near}", reason)
    return invalid(TEMPLATE_FIELD, f"the template failed while filling{where}: {exc}", "FILL_ERROR")


def _in_part(part: str | None) -> str:
    """Where, for parts other than the body (which authors think of as "the document")."""
    return f" in {part.lstrip('/')}" if part and not part.endswith("/document.xml") else ""


def _near(source: str | None, lineno: int | None) -> str:
    """The visible text of the paragraph (one source line each) where the error is."""
    if not source or not lineno:
        return ""
    lines = source.splitlines()
    for index in (lineno - 1, lineno - 2, lineno):
        if 0 <= index < len(lines):
            text = " ".join(_XML_TAG.sub("", lines[index]).split())
            if text:
                return f', near "{text[:200]}"'
    return ""


def _missing_error(missing_paths: list[str]) -> InvalidArgument:
    violations = [FieldViolation(_field(p), "is required by the template but missing") for p in missing_paths]
    return InvalidArgument(f"missing required fields: {', '.join(missing_paths)}", violations)


# --- filling -------------------------------------------------------------------------


def fill_docx(
    template: bytes,
    data: Mapping[str, Any],
    *,
    limits: Limits = DEFAULT_LIMITS,
    image_loader: ImageLoader | None = None,
    strict: bool = True,
    compress: bool = True,
    slim: bool = False,
) -> bytes:
    """Fill ``template`` (.docx bytes) with ``data`` and return the filled .docx bytes.

    ``strict=False`` (previews) renders missing fields empty instead of refusing.

    The template is checked against ``limits`` first. Raises ``InvalidArgument`` for an
    unsafe or broken template, a refused template construct, bad data, or missing fields
    (all of them, one ``FieldViolation`` each, paths like ``data.plan[3].date``).
    ``image_loader`` resolves ``$image_ref`` values (blob references) to bytes.
    ``compress=False`` stores the zip entries uncompressed and ``slim=True`` drops style
    definitions nothing uses (both for a .docx bound for conversion, see ``slim.py``).
    """
    check_docx(template, limits, field=TEMPLATE_FIELD)
    if not isinstance(data, Mapping):
        raise invalid(DATA_FIELD, "must be an object")
    document = open_template(template)
    state = _RenderState(document, limits)
    token = _STATE.set(state)
    try:
        context = _prepare(data, "", image_loader)
        _render(document, context)
    finally:
        _STATE.reset(token)
    if state.missing and strict:
        raise _missing_error(list(state.missing))
    return _package_bytes(document, compress, slim)


def _package_bytes(document: ContractTemplate, compress: bool, slim: bool) -> bytes:
    """The filled package as .docx bytes: python-docx's writer, with the zip compression chosen.

    A .docx that only travels to LibreOffice next door is written uncompressed: deflating
    its XML is most of what saving costs, and the converter reads a stored entry faster.
    """
    package = document.docx.part.package
    writer = _PartsWriter()
    PackageWriter._write_content_types_stream(writer, package.parts)
    PackageWriter._write_pkg_rels(writer, package.rels)
    PackageWriter._write_parts(writer, package.parts)
    parts = without_unused_styles(writer.parts) if slim else writer.parts
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED) as archive:
        for name, blob in parts.items():
            archive.writestr(name, blob)
    return out.getvalue()


@dataclass
class _PartsWriter:
    """The one method of python-docx's physical package writer that PackageWriter calls."""

    parts: dict[str, bytes] = field(default_factory=dict)

    def write(self, pack_uri: Any, blob: bytes) -> None:
        self.parts[pack_uri.membername] = blob


def _render(document: ContractTemplate, context: dict) -> None:
    try:
        document.render(context, sandbox_environment(), autoescape=True)
    except DomainError:
        raise
    except TemplateError as exc:
        raise template_error(exc, _part_name(document)) from None
    except UnrecognizedImageError as exc:
        raise invalid(DATA_FIELD, f"an image could not be read: {exc}") from None
    except etree.XMLSyntaxError as exc:
        raise invalid(TEMPLATE_FIELD, f"filling the template produced broken Word XML in a header or footer: {exc}",
                      "SYNTAX_ERROR") from None
    except (ArithmeticError, TypeError, ValueError, LookupError, RecursionError) as exc:
        # Template expressions run Python operations; their failures are the template's.
        raise invalid(
            TEMPLATE_FIELD,
            f"the template failed while filling{_in_part(_part_name(document))}: {type(exc).__name__}: {exc}",
        ) from None


def _part_name(document: ContractTemplate) -> str | None:
    part = getattr(document, "current_rendering_part", None)
    return str(part.partname) if part is not None else None
