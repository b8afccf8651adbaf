"""Extracting the fill schema from a template, and sample data for trial renders."""
from __future__ import annotations

import pytest

from core.errors import InvalidArgument
from services.filegen.fill import fill_docx
from services.filegen.schema import Field, extract_schema, sample_data
from tests.fixtures.docx_fixtures import malicious_docx, read_docx_text, simple_docx, with_footnote


def _fields(schema) -> dict[str, Field]:
    return {f.path: f for f in schema.fields}


def test_loan_contract_schema(loan_template):
    schema = extract_schema(loan_template)
    fields = _fields(schema)
    assert set(fields) == {
        "contract_no",
        "sign_date",
        "sign_place",
        "lender.name",
        "lender.credit_code",
        "lender.legal_rep",
        "lender.address",
        "borrower.name",
        "borrower.id_no",
        "borrower.phone",
        "borrower.address",
        "borrower.bank",
        "borrower.account",
        "purpose",
        "amount",
        "term_months",
        "annual_rate",
        "start_date",
        "end_date",
        "guarantor.name",
        "guarantor.id_no",
        "special_terms",
        "lender_seal",
    }
    assert fields["amount"].type == "number"
    assert fields["sign_date"].type == "date"
    assert fields["contract_no"].type == "string"
    assert fields["lender_seal"].type == "image"
    assert fields["special_terms"].type == "html"
    assert fields["borrower.name"].required and not fields["borrower.name"].conditional
    assert fields["guarantor.name"].conditional  # only inside {%p if guarantor %}
    assert schema.images == ("lender_seal",)
    assert schema.rich_text == ("special_terms",)

    (plan,) = schema.loops
    assert (plan.path, plan.item, plan.required) == ("plan", "p", True)
    item = {f.path: f.type for f in plan.fields}
    assert item == {"no": "string", "date": "date", "principal": "number", "interest": "number", "total": "number"}


def test_header_fields_are_included():
    schema = extract_schema(simple_docx("正文", header="编号：{{ contract_no }}"))
    assert [f.path for f in schema.fields] == ["contract_no"]


def test_optional_and_boolean_fields():
    template = simple_docx(
        "{{ nickname|default('无') }}",
        "{% if guarantor is defined %}{{ guarantor.name }}{% endif %}",
        "{% if vip %}贵宾{% endif %}",
        "{% if amount > 100000 %}大额{% endif %}",
        "{{ name }}",
    )
    fields = _fields(extract_schema(template))
    assert not fields["nickname"].required
    assert not fields["guarantor.name"].required
    assert (fields["vip"].type, fields["vip"].required) == ("boolean", False)
    assert fields["amount"].type == "number"
    assert fields["name"].required


def test_nested_loops_locals_and_item_types():
    template = simple_docx(
        "{% set total = 0 %}{{ total }}",
        "{% for party in parties %}{{ party.name }}{% for s in party.signers %}{{ s.name }}{{ s.seal|image }}{% endfor %}{% endfor %}",
        "{% for tag in tags %}{{ tag }}{{ loop.index }}{% endfor %}",
        "{% for k in range(3) %}{{ k }}{% endfor %}",
        "{{ rows|length }}{% for r in rows|sort(attribute='no') %}{{ r.no }}{% endfor %}",
    )
    schema = extract_schema(template)
    assert [f.path for f in schema.fields] == []  # total, loop, k are not data
    loops = {loop.path: loop for loop in schema.loops}
    assert set(loops) == {"parties", "tags", "rows"}
    parties = loops["parties"]
    assert [f.path for f in parties.fields] == ["name"]
    (signers,) = parties.loops
    assert signers.path == "signers"
    assert {f.path: f.type for f in signers.fields} == {"name": "string", "seal": "image"}
    assert loops["tags"].item_type == "string" and loops["tags"].fields == ()
    assert [f.path for f in loops["rows"].fields] == ["no"]
    assert schema.images == ("parties[].signers[].seal",)


def test_paragraph_fields_are_rich_text_and_images_by_filter():
    template = simple_docx("{{p clause }}", "{{p logo|image(30) }}", "{{ note|html }}")
    fields = _fields(extract_schema(template))
    assert {p: f.type for p, f in fields.items()} == {"clause": "html", "logo": "image", "note": "html"}


def test_schema_of_a_broken_template_is_invalid_argument():
    with pytest.raises(InvalidArgument, match="template syntax error"):
        extract_schema(simple_docx("{% for p in plan %}{{ p.no }}"))


def test_schema_refuses_unsafe_templates():
    with pytest.raises(InvalidArgument, match="DOCTYPE"):
        extract_schema(malicious_docx("billion_laughs"))
    with pytest.raises(InvalidArgument, match="not allowed"):
        extract_schema(simple_docx("{% include 'x' %}"))


def test_sample_data_fills_the_loan_contract(loan_template):
    schema = extract_schema(loan_template)
    data = sample_data(schema)
    assert data["borrower"]["phone"] == "13800138000"
    assert [row["no"] for row in data["plan"]] == [1, 2, 3]
    assert data["lender_seal"]["$image"].startswith(b"\x89PNG")
    text = read_docx_text(fill_docx(loan_template, data))  # a trial render: nothing missing
    assert "人民币（大写）伍万元整（小写：¥50,000.00元）" in text.body
    assert "第七条 担保" in text.body  # conditional sections are shown in previews
    assert len(text.tables[0]) == 1 + 3 + 1


def test_sample_data_for_nested_loops_renders():
    template = simple_docx(
        "{% for party in parties %}{{ party.name }}：{% for s in party.signers %}{{ s.name }}{% endfor %}{% endfor %}",
        "{% for tag in tags %}[{{ tag }}]{% endfor %}",
    )
    data = sample_data(extract_schema(template), rows=2)
    assert len(data["parties"]) == 2 and len(data["parties"][0]["signers"]) == 2
    body = read_docx_text(fill_docx(template, data)).body
    assert body.count("张三") == 6
    assert body.splitlines()[1] == "[【tags】][【tags】]"


def test_footnote_fields_are_included():
    schema = extract_schema(with_footnote(simple_docx("正文{{ a }}"), "注：{{ note|cn_date }}"))
    assert {f.path: f.type for f in schema.fields} == {"a": "string", "note": "date"}
