"""Template pages over HTTP: upload as the console user, roles, review, previews."""
from __future__ import annotations

import re
import secrets

import pytest

from tests.fixtures.docx_fixtures import simple_docx
from tests.integration.console.conftest import flash_of
from tests.unit.template.docx_builders import parts_docx

DOCX_TYPE = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
CLAUSES = ("保密协议", "甲方：{{ party_a }}", "第一条 双方对合作中获知的信息保密。", "甲方（盖章）")


def _upload(console, name: str, docx: bytes, **extra) -> tuple[str, str]:
    """POST the new-template form; returns the template id and the page it lands on."""
    form = {"name": name, "signer-0-role": "party_a", "signer-0-kind": "ORG", "signer-0-keyword": "甲方（盖章）",
            "signer-1-role": "", "signer-1-kind": "PERSON", **extra}
    reply = console.post("/console/templates", form, files={"docx": ("nda.docx", docx, DOCX_TYPE)})
    assert reply.status_code == 303, reply.text
    location = reply.headers["location"]
    found = re.match(r"^/console/templates/(tpl_[0-9a-f]+)/versions/1$", location)
    assert found, location
    return found.group(1), location


@pytest.fixture(scope="module")
def uploaded(console_as, people) -> dict:
    operator = console_as(people["operator"])
    name = "保密协议-" + secrets.token_hex(3)
    template_id, location = _upload(operator, name, simple_docx(*CLAUSES))
    return {"id": template_id, "name": name, "landing": operator.open(location)}


def test_upload_lands_on_the_version_waiting_for_review(uploaded):
    page = uploaded["landing"]
    assert flash_of(page) == "已上传版本 v1，等待法务审核。"
    assert uploaded["name"] in page.text and "待审核" in page.text
    assert "party_a" in page.text and "首个版本：全文均为新增" in page.text


def test_the_services_see_the_console_user_as_the_caller(uploaded, people, client):
    reply = client.get(f"/v1/templates/{uploaded['id']}")
    assert reply.status_code == 200
    body = reply.json()
    operator = people["operator"].user
    assert body["creator"] == f"console:{operator.user_id}"
    assert body["versions"][0]["uploader"] == f"console:{operator.user_id}"


def test_a_bad_upload_comes_back_with_the_reason_and_the_typed_values(console_as, people):
    operator = console_as(people["operator"])
    page_path = "/console/templates/new"
    reply = operator.post("/console/templates", {"name": "坏文件", "description": "保留我", "back": page_path,
                                                 "signer-0-role": "x", "signer-0-kind": "ORG"},
                          files={"docx": ("bad.docx", b"not a zip at all", DOCX_TYPE)})
    assert reply.status_code == 303 and reply.headers["location"] == page_path
    page = operator.open(page_path)
    assert flash_of(page) == "上传的模板有误，请检查文件和签署方后重试。"
    assert 'value="坏文件"' in page.text and "保留我" in page.text


def test_a_reviewer_cannot_upload_and_an_operator_cannot_approve(console_as, people, uploaded):
    reviewer = console_as(people["reviewer"])
    assert reviewer.open("/console/templates/new").status_code == 403
    reply = reviewer.post("/console/templates", {"name": "x", "back": "/console/templates"},
                          files={"docx": ("x.docx", simple_docx("x"), DOCX_TYPE)})
    assert flash_of(reviewer.open(reply.headers["location"])) == "您的角色无权进行此操作。"

    operator = console_as(people["operator"])
    version = f"/console/templates/{uploaded['id']}/versions/1"
    reply = operator.post(version + "/approve", {"comment": "ok", "back": version})
    assert flash_of(operator.open(reply.headers["location"])) == "您的角色无权进行此操作。"
    assert "批准</button>" not in operator.open(version).text


def test_new_version_redline_and_rejection_with_a_reason(console_as, people):
    operator = console_as(people["operator"])
    template_id, _ = _upload(operator, "协议-" + secrets.token_hex(3), simple_docx(*CLAUSES))
    revised = simple_docx(*CLAUSES[:2], "第一条 双方对合作中获知的全部信息永久保密。", CLAUSES[3])
    reply = operator.post(f"/console/templates/{template_id}/versions", {"change_note": "保密期限改为永久"},
                          files={"docx": ("v2.docx", revised, DOCX_TYPE)})
    assert reply.headers["location"] == f"/console/templates/{template_id}/versions/2"

    reviewer = console_as(people["reviewer"])
    version = f"/console/templates/{template_id}/versions/2"
    page = reviewer.open(version).text
    assert "与 v1 的差异" in page
    assert "<del>第一条 双方对合作中获知的信息保密。</del>" in page
    assert "<ins>第一条 双方对合作中获知的全部信息永久保密。</ins>" in page
    reply = reviewer.post(version + "/reject", {"comment": "", "back": version})
    assert "a rejection needs the reviewer" in reviewer.open(reply.headers["location"]).text
    reply = reviewer.post(version + "/reject", {"comment": "措辞过宽", "back": version})
    page = reviewer.open(reply.headers["location"])
    assert flash_of(page) == "已驳回版本 v2。" and "措辞过宽" in page.text


def test_the_redline_names_where_each_change_lives(console_as, people):
    operator = console_as(people["operator"])
    body = list(CLAUSES)
    template_id, _ = _upload(operator, "协议-" + secrets.token_hex(3),
                             parts_docx(body, header="保密协议", footnotes=["注：保密期限为三年。"],
                                        text_box=["提示：三年"]))
    revised = parts_docx(body, header="保密协议", footnotes=["注：保密期限为五年。"], text_box=["提示：五年"])
    operator.post(f"/console/templates/{template_id}/versions", {"change_note": "保密期限改为五年"},
                  files={"docx": ("v2.docx", revised, DOCX_TYPE)})

    reviewer = console_as(people["reviewer"])
    version = f"/console/templates/{template_id}/versions/2"
    changes = _redline_items(reviewer.open(version).text)
    assert sorted(changes) == [("change-deleted", "正文文本框", "<del>提示：三年</del>"),
                               ("change-deleted", "脚注", "<del>注：保密期限为三年。</del>"),
                               ("change-inserted", "正文文本框", "<ins>提示：五年</ins>"),
                               ("change-inserted", "脚注", "<ins>注：保密期限为五年。</ins>")]
    reviewer.post("/console/lang", {"lang": "en", "back": version})
    english = _redline_items(reviewer.open(version).text)
    assert sorted(where for _, where, _ in english) == ["Footnote", "Footnote", "Text box (Body)", "Text box (Body)"]
    reviewer.post("/console/lang", {"lang": "zh", "back": version})


def _redline_items(page: str) -> list[tuple[str, str, str]]:
    """(class, location, marked-up text) of each change in the redline list."""
    items = re.findall(r'<li class="(change-\w+)">(.*?)</li>', page, re.S)
    found = []
    for kind, item in items:
        where = re.search(r'<small class="where" data-testid="location">(.*?)</small>', item)
        text = re.search(r"<(ins|del)>.*?</\1>", item)
        found.append((kind, where.group(1) if where else "", text.group(0) if text else ""))
    return found


def test_png_preview_shows_the_pages(console_as, people, uploaded):
    page = console_as(people["reviewer"]).open(f"/console/templates/{uploaded['id']}/versions/1/preview")
    assert page.status_code == 200, page.text
    assert page.text.count('src="data:image/png;base64,') >= 1 and "第 1 页，共" in page.text


def test_html_preview_is_framed_sandboxed(console_as, people, uploaded):
    reviewer = console_as(people["reviewer"])
    base = f"/console/templates/{uploaded['id']}/versions/1"
    page = reviewer.open(base + "/preview?format=html&theme=dark")
    assert f'src="{base}/preview.html?theme=dark"' in page.text and "sandbox" in page.text
    framed = reviewer.get(base + "/preview.html?theme=dark")
    assert framed.status_code == 200 and framed.headers["content-type"].startswith("text/html")
    assert "sandbox" in framed.headers["content-security-policy"]
    assert "frame-ancestors 'self'" in framed.headers["content-security-policy"]
    assert framed.headers["x-frame-options"] == "SAMEORIGIN"
    assert "保密协议" in framed.text and 'data-theme="dark"' in framed.text


def test_the_docx_of_a_version_downloads(console_as, people, uploaded):
    reply = console_as(people["reviewer"]).get(f"/console/templates/{uploaded['id']}/versions/1/docx")
    assert reply.status_code == 200 and reply.content.startswith(b"PK")
    assert reply.headers["content-disposition"] == f'attachment; filename="{uploaded["id"]}-v1.docx"'


def test_search_by_name_and_review_status(console_as, people, uploaded):
    reviewer = console_as(people["reviewer"])
    page = reviewer.open(f"/console/templates?q={uploaded['name']}&review=PENDING_REVIEW")
    assert f'/console/templates/{uploaded["id"]}"' in page.text
    page = reviewer.open(f"/console/templates?q={uploaded['name']}&review=APPROVED")
    assert "没有符合条件的模板。" in page.text


def test_an_unknown_template_is_a_clear_page(console_as, people):
    page = console_as(people["reviewer"]).open("/console/templates/tpl_nothing")
    assert page.status_code == 404 and "找不到要访问的内容。" in page.text


def test_the_templates_signing_page_override_is_set_in_the_console(uploaded, console_as, people, client):
    operator = console_as(people["operator"])
    path = f"/console/templates/{uploaded['id']}"
    form = {"page_theme_color": "#E4393C", "page_show_reject": "inherit", "page_forced_reading": "on",
            "page_min_reading_seconds": "20", "page_show_success_page": "off", "page_success_page": "",
            "page_redirect_url": "", "page_redirect_mode": "DELAYED", "page_redirect_delay_seconds": ""}
    reply = operator.post(path + "/signing-page", form)
    assert reply.status_code == 303 and reply.headers["location"] == path
    page = operator.open(path)
    assert flash_of(page) == "签署页配置已保存。"
    override = {"themeColor": "#E4393C", "forcedReading": True, "minReadingSeconds": 20, "showSuccessPage": False,
                "redirectMode": "DELAYED"}
    assert client.get(f"/v1/templates/{uploaded['id']}").json()["signingPage"] == override
    # The form shows what is set, and "as the business line" for what is not.
    assert 'name="page_min_reading_seconds" type="number" value="20"' in page.text
    assert re.search(r'name="page_show_success_page">.*?<option value="off" selected>', page.text, re.S)
    assert re.search(r'name="page_show_reject">\s*<option value="inherit" selected>', page.text)

    bad = operator.post(path + "/signing-page", {**form, "page_min_reading_seconds": "9999", "back": path})
    assert bad.status_code == 303
    assert "minReadingSeconds" in operator.open(bad.headers["location"]).text
    assert client.get(f"/v1/templates/{uploaded['id']}").json()["signingPage"] == override  # unchanged

    cleared = {name: ("inherit" if name in ("page_show_reject", "page_forced_reading", "page_show_success_page")
                      else "") for name in form}
    assert operator.post(path + "/signing-page", cleared).status_code == 303
    assert "signingPage" not in client.get(f"/v1/templates/{uploaded['id']}").json()  # the business line's again


def test_a_reviewer_cannot_change_a_templates_signing_page(uploaded, console_as, people, client):
    reviewer = console_as(people["reviewer"])
    assert 'action="/console/templates/' + uploaded["id"] + '/signing-page"' not in reviewer.open(
        f"/console/templates/{uploaded['id']}").text
    path = f"/console/templates/{uploaded['id']}"
    reply = reviewer.post(path + "/signing-page", {"page_show_reject": "on", "back": path})
    assert flash_of(reviewer.open(reply.headers["location"])) == "您的角色无权进行此操作。"
    assert "signingPage" not in client.get(f"/v1/templates/{uploaded['id']}").json()
