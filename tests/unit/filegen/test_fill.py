"""Filling templates: values, tables, conditions, images, rich text, escaping, the sandbox."""
from __future__ import annotations

import base64
import io
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from docx import Document
from docx.shared import Mm
from jinja2.sandbox import SandboxedEnvironment
from lxml import etree

from core.errors import InvalidArgument, NotFound
from services.filegen.fill import fill_docx, sandbox_environment
from tests.fixtures.docx_fixtures import (
    png_header_only,
    with_footnote,
    read_docx_text,
    seal_png,
    simple_docx,
)

W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
WP_EXTENT = "{http://schemas.openxmlformats.org/drawingml/2006/wordprocessingDrawing}extent"
REPO = Path(__file__).resolve().parents[3]


def _document_xml(docx: bytes) -> etree._Element:
    with zipfile.ZipFile(io.BytesIO(docx)) as archive:
        return etree.fromstring(archive.read("word/document.xml"))


def _images(docx: bytes) -> list[bytes]:
    document = Document(io.BytesIO(docx))
    return [p.blob for p in document.part.package.iter_parts() if p.partname.startswith("/word/media/")]


def _fill_text(paragraphs: list[str], data: dict) -> str:
    return read_docx_text(fill_docx(simple_docx(*paragraphs), data)).body


# --- the loan contract ---------------------------------------------------------------


def test_loan_contract_values_header_and_amounts(loan_template, loan_data):
    text = read_docx_text(fill_docx(loan_template, loan_data))
    assert text.headers[0] == "合同编号：JK-2026-000123"
    assert "合同编号：JK-2026-000123        签订日期：2026年1月1日" in text.paragraphs
    assert "出借人（甲方）：北京示例小额贷款有限公司" in text.paragraphs
    assert "借款人（乙方）：张三" in text.paragraphs
    assert "甲方同意向乙方提供借款，借款金额为人民币（大写）壹拾贰万元整（小写：¥120,000.00元）。" in text.paragraphs
    assert any("自2026年1月1日起至2027年1月1日止" in p for p in text.paragraphs)
    assert any("开户行中国工商银行北京中关村支行，账号6222020200001234567" in p for p in text.paragraphs)
    # No template syntax survives anywhere.
    for marker in ("{{", "}}", "{%", "%}"):
        assert marker not in text.everything


def test_loan_contract_repayment_table_has_every_row(loan_template, loan_data):
    table = read_docx_text(fill_docx(loan_template, loan_data)).tables[0]
    assert table[0] == ["期数", "还款日期", "应还本金（元）", "应还利息（元）", "合计（元）"]
    assert len(table) == 1 + 12 + 1
    expected_dates = [f"2026年{m}月1日" for m in range(2, 13)] + ["2027年1月1日"]
    for index, row in enumerate(table[1:13]):
        interest = 600 - 50 * index
        assert row == [str(index + 1), expected_dates[index], "10,000.00", f"{interest:,.2f}", f"{10000 + interest:,.2f}"]
    assert table[13] == ["合计", "", "120,000.00", "3,900.00", "123,900.00"]


def test_loan_contract_conditional_clause(loan_template):
    from tests.fixtures.docx_fixtures import loan_contract_data

    with_guarantor = read_docx_text(fill_docx(loan_template, loan_contract_data(guarantor=True))).body
    without = read_docx_text(fill_docx(loan_template, loan_contract_data(guarantor=False))).body
    assert "第七条 担保" in with_guarantor
    assert "本合同项下借款由李四（身份证号码：110101198505051234）提供连带责任保证" in with_guarantor
    # The clause is gone, and its fields are not demanded when the condition is false.
    assert "第七条 担保" not in without
    assert "李四" not in without and "连带责任保证" not in without


def test_loan_contract_seal_image(loan_template, loan_data):
    out = fill_docx(loan_template, loan_data)
    assert _images(out) == [seal_png()]
    extents = list(_document_xml(out).iter(WP_EXTENT))
    assert [(int(e.get("cx")), int(e.get("cy"))) for e in extents] == [(Mm(40), Mm(40))]


def test_loan_contract_rich_text_clause(loan_template, loan_data):
    out = fill_docx(loan_template, loan_data)
    paragraphs = Document(io.BytesIO(out)).paragraphs
    texts = [p.text for p in paragraphs]
    start = texts.index("第十五条 其他约定")
    assert texts[start + 1 : start + 5] == [
        "双方另行约定如下：",
        "1.\t乙方应每月五日前确认还款账户余额充足。",
        "2.\t甲方可通过短信提醒乙方还款。",
        "本条约定与其他条款不一致的，以本条为准。",
    ]
    runs = {r.text: r for p in paragraphs[start + 1 : start + 5] for r in p.runs}
    assert runs["五日前"].bold and not runs["乙方应每月"].bold
    assert runs["短信"].italic
    assert runs["本条约定"].underline


def test_loan_contract_path_fixture(loan_template_path, loan_data):
    assert loan_template_path.read_bytes()[:2] == b"PK"
    assert "张三" in read_docx_text(fill_docx(loan_template_path.read_bytes(), loan_data)).body


# --- escaping ----------------------------------------------------------------------------

HOSTILE = [
    "<b>粗体</b> & \"引号\" '单引号'",
    "</w:t></w:r><w:r><w:t>injected",
    '<w:p><w:r><w:t>new paragraph</w:t></w:r></w:p>',
    "&amp; &lt;already escaped&gt; &#x41;",
    "{{ 7*7 }} {% if true %}x{% endif %}",
]


@pytest.mark.parametrize("value", HOSTILE)
def test_values_are_literal_text(value):
    out = fill_docx(simple_docx("前[{{ v }}]后", "第二段"), {"v": value})
    assert read_docx_text(out).paragraphs == [f"前[{value}]后", "第二段"]
    assert len(list(_document_xml(out).iter(f"{W}p"))) == 2


def test_values_are_literal_in_table_rows_and_headers():
    template = simple_docx("{{ title }}", header="{{ title }}", table=[["{%tr for r in rows %}"], ["{{ r }}"], ["{%tr endfor %}"]])
    out = read_docx_text(fill_docx(template, {"title": "A&B <公司>", "rows": ["<1>", "&2"]}))
    assert out.paragraphs[0] == out.headers[0] == "A&B <公司>"
    assert out.tables[0] == [["<1>"], ["&2"]]


# --- missing fields ------------------------------------------------------------------


def test_every_missing_field_is_named_at_once(loan_template, loan_data):
    del loan_data["borrower"]["name"]
    del loan_data["amount"]
    del loan_data["plan"][3]["date"]
    loan_data["special_terms"] = None  # null is missing too, never the text "None"
    with pytest.raises(InvalidArgument) as error:
        fill_docx(loan_template, loan_data)
    fields = {v.field for v in error.value.violations}
    assert fields == {"data.borrower.name", "data.amount", "data.plan[3].date", "data.special_terms"}
    for name in ("borrower.name", "amount", "plan[3].date", "special_terms"):
        assert name in error.value.message


def test_missing_fields_in_every_kind_of_use():
    template = [
        "{{ a }}",
        "{{ b.c.d }}",
        "{{ n * 2 }}",
        "{{ when.strftime('%Y') }}",
        "{% for x in items %}{{ x }}{% endfor %}",
        "{{ total|money }}",
    ]
    with pytest.raises(InvalidArgument) as error:
        fill_docx(simple_docx(*template), {})
    assert [v.field for v in error.value.violations] == [
        "data.a",
        "data.b.c.d",
        "data.n",
        "data.when",
        "data.items",
        "data.total",
    ]


def test_optional_forms_are_not_missing():
    template = [
        "[{{ nickname|default('无') }}]",
        "{% if guarantor is defined %}{{ guarantor.name }}{% endif %}",
        "{% if vip %}贵宾{% endif %}",
        "{% for p in plan %}{{ loop.previtem }}{% endfor %}",
    ]
    assert _fill_text(template, {"plan": [1]}) == "[无]\n\n\n"


# --- the sandbox ---------------------------------------------------------------------

ESCAPES = [
    "{{ ''.__class__.__mro__ }}",
    "{{ ''.__class__.__mro__[1].__subclasses__() }}",
    "{{ x.__globals__ }}",
    "{{ cycler.__init__.__globals__.os }}",
    "{{ joiner.__init__.__globals__ }}",
    "{{ namespace.__init__.__globals__ }}",
    "{{ self.__init__.__globals__ }}",
    "{{ range.__self__ }}",
    "{{ ''|attr('__class__') }}",
    "{{ ''|attr('\\x5f\\x5fclass\\x5f\\x5f') }}",
    "{{ '{0.__class__}'.format('') }}",
    "{{ borrower._path }}",
    "{{ lipsum.__globals__ }}",
    "{{ (1).__class__.__base__.__subclasses__() }}",
    "{{ config.items() }}{{ request.application.__globals__ }}",
]


@pytest.mark.parametrize("template", ESCAPES)
def test_sandbox_escapes_are_refused(template):
    with pytest.raises(InvalidArgument) as error:
        fill_docx(simple_docx(template), {"x": 1, "borrower": {"name": "张三"}})
    assert [v.field for v in error.value.violations] == ["template"]
    assert "forbid" in error.value.message or "not allowed" in error.value.message or "undefined" in error.value.message
    assert "<class" not in error.value.message and "module" not in error.value.message


@pytest.mark.parametrize(
    ("template", "reason"),
    [
        ("{{ v|safe }}", "|safe is not allowed"),
        ("{% autoescape false %}{{ v }}{% endautoescape %}", "{% autoescape %} is not allowed"),
        ("{% include 'other.docx' %}", "{% include %} is not allowed"),
        ("{% import 'macros' as m %}", "{% import %} is not allowed"),
        ("{% from 'macros' import m %}", "import %} is not allowed"),
        ("{% extends 'base' %}", "{% extends %} is not allowed"),
        ("{{ v|urlize }}", "No filter named 'urlize'"),
        ("{{ 2 ** 100000 }}", "the power is too large"),
        ("{{ 'x' * 10000000 }}", "the repeated sequence is too long"),
        ("{% for i in range(100000000) %}{% endfor %}", "Range too big"),
    ],
)
def test_escape_hatches_and_resource_bombs_are_refused(template, reason):
    with pytest.raises(InvalidArgument) as error:
        fill_docx(simple_docx(template), {"v": "<w:t>"})
    assert reason in error.value.message


def test_missing_fields_found_with_a_sandbox_escape_are_still_refused():
    with pytest.raises(InvalidArgument, match="not allowed"):
        fill_docx(simple_docx("{{ missing.__class__ }}"), {})


def test_one_sandboxed_environment_per_process():
    environment = sandbox_environment()
    assert environment is sandbox_environment()
    assert isinstance(environment, SandboxedEnvironment)
    assert environment.autoescape is True


def test_nothing_is_built_at_import_time():
    code = "import services.filegen.fill as f, services.filegen.schema; assert f._environment is None"
    subprocess.run([sys.executable, "-c", code], cwd=REPO, check=True)


# --- template errors -----------------------------------------------------------------


def test_syntax_error_says_what_and_where():
    with pytest.raises(InvalidArgument) as error:
        fill_docx(simple_docx("第一条 总则", "借款金额为{{ amount|money }元", "第三条"), {"amount": 1})
    message = error.value.message
    assert "template syntax error" in message
    assert "unexpected '}'" in message
    assert "借款金额为{{ amount|money }" in message


def test_syntax_error_in_a_header_names_the_part():
    with pytest.raises(InvalidArgument) as error:
        fill_docx(simple_docx("正文", header="{% if x %}页眉"), {"x": 1})
    assert "header1.xml" in error.value.message
    assert "页眉" in error.value.message


def test_unknown_filter_is_reported():
    with pytest.raises(InvalidArgument, match="No filter named 'rmb'"):
        fill_docx(simple_docx("{{ a|rmb }}"), {"a": 1})


def test_runtime_error_is_the_templates():
    with pytest.raises(InvalidArgument, match="ZeroDivisionError"):
        fill_docx(simple_docx("{{ a / 0 }}"), {"a": 1})


def test_tags_that_break_the_document_structure_are_reported():
    # An {% if %} opened in a paragraph and closed in a table cell cuts the XML apart.
    template = simple_docx("{% if show %}", table=[["{% endif %}"]])
    with pytest.raises(InvalidArgument, match="broken Word XML"):
        fill_docx(template, {"show": False})


def test_data_must_be_an_object():
    with pytest.raises(InvalidArgument, match="must be an object"):
        fill_docx(simple_docx("x"), ["not", "a", "mapping"])  # type: ignore[arg-type]


# --- images --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "encode",
    [
        lambda b: b,
        lambda b: base64.b64encode(b).decode(),
        lambda b: "data:image/png;base64," + base64.b64encode(b).decode(),
        lambda b: base64.encodebytes(b).decode(),  # wrapped every 76 characters
    ],
)
def test_image_forms(encode):
    out = fill_docx(simple_docx("签章：{{ seal }}"), {"seal": {"$image": encode(seal_png()), "width_mm": 30}})
    assert _images(out) == [seal_png()]
    extent = next(_document_xml(out).iter(WP_EXTENT))
    assert int(extent.get("cx")) == Mm(30) == int(extent.get("cy"))  # square: the ratio is kept


def test_image_sizes_from_the_template_and_from_the_data():
    template = simple_docx("{{ a|image(20, 10) }}", "{{ b|image(20, 10) }}", "{{ c|image(25) }}")
    data = {
        "a": {"$image": seal_png()},
        "b": {"$image": seal_png(), "width_mm": 50, "height_mm": 50},
        "c": base64.b64encode(seal_png()).decode(),
    }
    extents = [(int(e.get("cx")), int(e.get("cy"))) for e in _document_xml(fill_docx(template, data)).iter(WP_EXTENT)]
    assert extents == [(Mm(20), Mm(10)), (Mm(50), Mm(50)), (Mm(25), Mm(25))]


def test_image_in_its_own_paragraph():
    out = fill_docx(simple_docx("前", "{{p logo }}", "后"), {"logo": {"$image": seal_png(), "height_mm": 15}})
    paragraphs = list(_document_xml(out).iter(f"{W}p"))
    assert len(paragraphs) == 3
    assert next(paragraphs[1].iter(WP_EXTENT)) is not None


def test_image_reference_through_a_loader():
    seen = []

    def loader(ref: str) -> bytes:
        seen.append(ref)
        return seal_png()

    out = fill_docx(simple_docx("{{ seal }}"), {"seal": {"$image_ref": "sha256:abc", "width_mm": 40}}, image_loader=loader)
    assert seen == ["sha256:abc"] and _images(out) == [seal_png()]


def test_an_image_reference_to_nothing_stored_names_the_field():
    def loader(ref: str) -> bytes:
        raise NotFound(f"blob {ref} not found")

    with pytest.raises(InvalidArgument) as error:
        fill_docx(simple_docx("{{ party.seal }}"), {"party": {"seal": {"$image_ref": "sha256:" + "0" * 64}}},
                  image_loader=loader)
    assert [v.field for v in error.value.violations] == ["data.party.seal"]
    assert "refers to no stored image" in error.value.message


@pytest.mark.parametrize(
    ("value", "field", "reason"),
    [
        ({"$image": b"<html>pretending</html>"}, "data.party.seal", "not an accepted image"),
        ({"$image": png_header_only(20_000, 20_000)}, "data.party.seal", "decompression bomb"),
        ({"$image": "not base64!!"}, "data.party.seal", "not valid base64"),
        ({"$image": 42}, "data.party.seal", "must be bytes"),
        ({"$image": seal_png(), "width_mm": -5}, "data.party.seal.width_mm", "millimetres"),
        ({"$image": seal_png(), "width": 5}, "data.party.seal", "unknown special value"),
        ({"$image_ref": "sha256:abc"}, "data.party.seal", "cannot be resolved"),
        ({"$img": "x"}, "data.party.seal", "unknown special value"),
        ({"$html": "<p>x</p>", "extra": 1}, "data.party.seal", "rich text is"),
    ],
)
def test_bad_special_values_are_refused_with_their_path(value, field, reason):
    with pytest.raises(InvalidArgument) as error:
        fill_docx(simple_docx("{{ party.seal }}"), {"party": {"seal": value}})
    assert [v.field for v in error.value.violations] == [field]
    assert reason in error.value.message


def test_a_bad_image_through_the_image_filter():
    with pytest.raises(InvalidArgument, match="not an accepted image"):
        fill_docx(simple_docx("{{ seal|image(20) }}"), {"seal": base64.b64encode(b"just some text").decode()})


# --- rich text -----------------------------------------------------------------------


def test_rich_text_block_becomes_paragraphs_lists_and_tables():
    html = (
        "<p>第一段<b>加粗</b><i>斜体</i><u>下划线</u></p>"
        "<ul><li>甲</li><li>乙<ol><li>子项</li></ol></li></ul>"
        "<table><tr><th>项目</th><th>金额</th></tr><tr><td>本金</td><td>1,000.00</td></tr></table>"
        "<p>结束</p>"
    )
    out = fill_docx(simple_docx("前文", "{{p terms }}", "后文"), {"terms": {"$html": html}})
    text = read_docx_text(out)
    assert text.paragraphs == ["前文", "第一段加粗斜体下划线", "•\t甲", "•\t乙", "1.\t子项", "结束", "后文"]
    assert text.tables == [[["项目", "金额"], ["本金", "1,000.00"]]]
    document = Document(io.BytesIO(out))
    runs = {r.text: r for r in document.paragraphs[1].runs}
    assert runs["加粗"].bold and runs["斜体"].italic and runs["下划线"].underline
    assert document.tables[0].rows[0].cells[0].paragraphs[0].runs[0].bold
    # Nested list items are indented further than their parents.
    indents = [document.paragraphs[i].paragraph_format.left_indent for i in (2, 4)]
    assert indents[0] < indents[1]


def test_rich_text_inline_stays_in_its_line():
    out = fill_docx(simple_docx("约定：{{ note }}。"), {"note": {"$html": "<p>按<b>月</b>还款</p><p>次段</p>"}})
    assert read_docx_text(out).paragraphs == ["约定：按月还款\n次段。"]


def test_rich_text_never_passes_xml_or_active_content():
    html = (
        '<p onclick="steal()" style="color:red">安全<script>alert("x")</script><style>p{}</style></p>'
        "<w:p><w:r><w:t>raw</w:t></w:r></w:p>"
        "<p>&lt;w:t&gt; &amp; <a href='http://evil.example'>链接</a><img src=x onerror=alert(1)></p>"
    )
    out = fill_docx(simple_docx("{{p terms }}"), {"terms": {"$html": html}})
    assert read_docx_text(out).paragraphs == ["安全", "raw", "<w:t> & 链接"]
    xml = etree.tostring(_document_xml(out), encoding="unicode")
    assert "alert" not in xml and "evil.example" not in xml and "onclick" not in xml


def test_html_filter_and_plain_text_in_its_own_paragraph():
    template = simple_docx("{{p note|html }}", "{{p plain }}")
    out = fill_docx(template, {"note": "<p><b>条款</b></p>", "plain": "普通 <文本> & 符号"})
    document = Document(io.BytesIO(out))
    assert [p.text for p in document.paragraphs] == ["条款", "普通 <文本> & 符号"]
    assert document.paragraphs[0].runs[0].bold


# --- odd text and concurrency --------------------------------------------------------


def test_newlines_in_values_become_line_breaks():
    assert _fill_text(["地址：{{ a }}"], {"a": "第一行\n第二行"}) == "地址：第一行\n第二行"


@pytest.mark.parametrize("bad", ["\x00", "\x0c", "\x07", "\x1b[31m"])
def test_control_characters_in_values_are_refused_with_their_path(bad):
    with pytest.raises(InvalidArgument) as error:
        fill_docx(simple_docx("{{ rows[0].note }}"), {"rows": [{"note": f"备注{bad}"}]})
    assert [v.field for v in error.value.violations] == ["data.rows[0].note"]
    assert "control character" in error.value.message


def test_concurrent_fills_keep_their_own_data_and_missing_fields(loan_template):
    from concurrent.futures import ThreadPoolExecutor

    from tests.fixtures.docx_fixtures import loan_contract_data

    def fill(index: int) -> str:
        data = loan_contract_data()
        data["contract_no"] = f"JK-{index:04d}"
        if index % 3 == 0:
            del data["borrower"]["phone"]
        try:
            return read_docx_text(fill_docx(loan_template, data)).headers[0]
        except InvalidArgument as error:
            return ",".join(v.field for v in error.violations)

    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(fill, range(12)))
    assert results == ["data.borrower.phone" if i % 3 == 0 else f"合同编号：JK-{i:04d}" for i in range(12)]


# --- the parts docxtpl renders besides body, headers and footers ---------------------


def _footnotes_text(docx: bytes) -> str:
    with zipfile.ZipFile(io.BytesIO(docx)) as archive:
        root = etree.fromstring(archive.read("word/footnotes.xml"))
    return "".join(t.text or "" for t in root.iter(f"{W}t"))


def test_footnotes_are_filled_once_so_data_stays_data():
    document = Document()
    document.add_paragraph("第一节")
    document.add_section()
    document.add_paragraph("第二节")  # docxtpl itself renders footnotes once per section
    buffer = io.BytesIO()
    document.save(buffer)
    template = with_footnote(buffer.getvalue(), "注：{{ note }}")
    out = fill_docx(template, {"note": "{{ secret }} & <b>", "secret": "泄露"})
    assert _footnotes_text(out) == "注：{{ secret }} & <b>"
    with pytest.raises(InvalidArgument, match="missing required fields: note"):
        fill_docx(template, {})


def test_core_properties_are_plain_text():
    document = Document()
    document.core_properties.title = "{{ party }}借款合同"
    buffer = io.BytesIO()
    document.save(buffer)
    out = fill_docx(buffer.getvalue(), {"party": "A&B <公司>"})
    assert Document(io.BytesIO(out)).core_properties.title == "A&B <公司>借款合同"


def test_an_uncompressed_fill_has_the_same_parts_stored(loan_template: bytes, loan_data: dict) -> None:
    packed = zipfile.ZipFile(io.BytesIO(fill_docx(loan_template, loan_data)))
    stored = zipfile.ZipFile(io.BytesIO(fill_docx(loan_template, loan_data, compress=False)))
    assert {i.compress_type for i in packed.infolist()} == {zipfile.ZIP_DEFLATED}
    assert {i.compress_type for i in stored.infolist()} == {zipfile.ZIP_STORED}
    assert packed.namelist() == stored.namelist()
    assert all(packed.read(name) == stored.read(name) for name in packed.namelist() if name != "docProps/core.xml")
    assert read_docx_text(stored.fp.getvalue()).body == read_docx_text(packed.fp.getvalue()).body  # type: ignore[union-attr]


def test_parts_the_fill_does_not_touch_are_kept_byte_for_byte(loan_template: bytes, loan_data: dict) -> None:
    source = zipfile.ZipFile(io.BytesIO(loan_template))
    filled = zipfile.ZipFile(io.BytesIO(fill_docx(loan_template, loan_data)))
    for name in ("word/styles.xml", "word/settings.xml", "word/numbering.xml", "word/fontTable.xml"):
        assert filled.read(name) == source.read(name), name
    assert filled.read("word/document.xml") != source.read("word/document.xml")


def test_line_breaks_and_tabs_in_values_become_word_breaks_and_tabs() -> None:
    body = _document_xml(fill_docx(simple_docx("地址：{{ address }}"), {"address": "北京市\n海淀区\t100080"}))
    assert len(list(body.iter(f"{W}br"))) == 1 and len(list(body.iter(f"{W}tab"))) == 1
    texts = [t.text for t in body.iter(f"{W}t")]
    assert "\n" not in "".join(texts) and "北京市" in "".join(texts) and "100080" in "".join(texts)


def test_a_template_is_unzipped_once_and_each_fill_gets_its_own_parts(loan_template: bytes, loan_data: dict) -> None:
    first = fill_docx(loan_template, {**loan_data, "contract_no": "JK-ONE"})
    second = fill_docx(loan_template, {**loan_data, "contract_no": "JK-TWO"})
    assert "JK-ONE" in read_docx_text(first).body and "JK-ONE" not in read_docx_text(second).body
    assert "JK-TWO" in read_docx_text(second).body
