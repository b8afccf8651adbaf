"""Steps the console tests share: logging in, uploading a template through the form."""
from __future__ import annotations

from pathlib import Path

from playwright.sync_api import Page, expect

from tests.fixtures.docx_fixtures import simple_docx

CLAUSES = [
    "个人借款合同",
    "甲方（出借人）：{{ lender_name }}",
    "乙方（借款人）：{{ borrower_name }}",
    "第一条 借款金额为人民币{{ amount }}元。",
    "第二条 借款期限为十二个月。",
    "甲方（盖章）",
    "乙方（签字）",
]


def loan_docx(tmp_path: Path, name: str, *, revised: bool = False) -> Path:
    """A real .docx on disk; the revised one changes a clause and adds another."""
    clauses = list(CLAUSES)
    if revised:
        clauses[4] = "第二条 借款期限为二十四个月。"
        clauses.insert(5, "第三条 逾期利息按年利率百分之十五计算。")
    path = tmp_path / name
    path.write_bytes(simple_docx(*clauses))
    return path


def log_in(page: Page, name: str, password: str) -> None:
    page.goto("/console/login")
    page.get_by_label("用户名").fill(name)
    page.get_by_label("密码").fill(password)
    page.get_by_role("button", name="登录").click()


def logged_in(page: Page, person) -> Page:
    log_in(page, person.name, person.password)
    expect(page.get_by_role("button", name="退出登录")).to_be_visible()
    return page


def upload_template(page: Page, name: str, docx: Path) -> str:
    """Upload through the new-template form; returns the template id from the landing page."""
    page.goto("/console/templates/new")
    page.get_by_label("模板名称").fill(name)
    page.get_by_label("Word 文件（.docx）").set_input_files(str(docx))
    page.get_by_label("角色 1").fill("lender")
    page.get_by_label("类型 1").select_option("ORG")
    page.get_by_label("关键字 1").fill("甲方（盖章）")
    page.get_by_label("角色 2").fill("borrower")
    page.get_by_label("类型 2").select_option("PERSON")
    page.get_by_label("关键字 2").fill("乙方（签字）")
    page.get_by_role("button", name="上传并提交审核").click()
    expect(page.get_by_test_id("flash")).to_contain_text("已上传版本 v1")
    return page.url.split("/templates/")[1].split("/")[0]


def upload_version(page: Page, template_id: str, docx: Path, note: str) -> None:
    page.goto(f"/console/templates/{template_id}")
    page.get_by_label("Word 文件（.docx）").set_input_files(str(docx))
    page.get_by_label("修改说明").fill(note)
    page.get_by_role("button", name="上传新版本").click()
    expect(page.get_by_test_id("flash")).to_contain_text("已上传版本 v2")
