import pytest

from gateway.routes import compile_template


@pytest.mark.parametrize(
    "template,path,expected",
    [
        ("/v1/contracts/{contract_id}:sign", "/v1/contracts/ct_1:sign", {"contract_id": "ct_1"}),
        ("/v1/contracts/{contract_id}", "/v1/contracts/ct_1", {"contract_id": "ct_1"}),
        (
            "/v1/templates/{template_id}/versions/{version}:approve",
            "/v1/templates/tpl_9/versions/2:approve",
            {"template_id": "tpl_9", "version": "2"},
        ),
        ("/v1/seals:generate", "/v1/seals:generate", {}),
        ("/v1/files/{name=docs/**}", "/v1/files/docs/a/b.pdf", {"name": "docs/a/b.pdf"}),
    ],
)
def test_templates_bind_variables(template, path, expected):
    pattern, fields = compile_template(template)
    found = pattern.fullmatch(path)
    assert found is not None
    assert {field: found.group(f"v{i}") for i, field in enumerate(fields)} == expected


@pytest.mark.parametrize(
    "template,path",
    [
        ("/v1/contracts/{contract_id}", "/v1/contracts/ct_1:sign"),  # a verb is not part of the id
        ("/v1/contracts/{contract_id}:sign", "/v1/contracts/ct_1:revoke"),
        ("/v1/contracts/{contract_id}", "/v1/contracts/a/b"),
        ("/v1/seals:generate", "/v1/sealsXgenerate"),  # literal ':' and '.' are escaped
    ],
)
def test_templates_do_not_overmatch(template, path):
    pattern, _ = compile_template(template)
    assert pattern.fullmatch(path) is None
