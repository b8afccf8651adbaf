"""The admin console in headless Chromium: upload, legal review with the redline, the
refusals people must see clearly, and the language switch."""
from __future__ import annotations

import secrets

from playwright.sync_api import expect

from tests.browser.steps import log_in, loan_docx, logged_in, upload_template, upload_version


def test_operator_uploads_and_reviewer_approves_the_second_version(new_page, people, shot, tmp_path):
    operator = logged_in(new_page(), people["operator"])
    name = f"借款合同-{secrets.token_hex(3)}"
    template_id = upload_template(operator, name, loan_docx(tmp_path, "loan-v1.docx"))
    expect(operator.get_by_role("heading", level=1)).to_contain_text(f"{name} · 版本 v1")
    shot(operator, "operator-uploaded-v1")
    upload_version(operator, template_id, loan_docx(tmp_path, "loan-v2.docx", revised=True), "期限改为二十四个月")
    # An operator has no review rights: the page offers no decision.
    expect(operator.get_by_role("button", name="批准")).to_have_count(0)
    shot(operator, "operator-uploaded-v2")

    reviewer = logged_in(new_page(), people["reviewer"])
    expect(reviewer.get_by_role("link", name=name)).to_be_visible()  # the review queue on the home page
    shot(reviewer, "reviewer-queue")
    reviewer.get_by_role("link", name=name).click()
    redline = reviewer.get_by_test_id("redline")
    expect(redline).to_contain_text("与 v1 的差异")
    expect(redline.locator("ins")).to_contain_text(["第二条 借款期限为二十四个月。", "第三条 逾期利息按年利率百分之十五计算。"])
    expect(redline.locator("del")).to_contain_text(["第二条 借款期限为十二个月。"])
    expect(reviewer.get_by_text("Operator（管理台）").first).to_be_visible()  # uploader shown by name
    shot(reviewer, "reviewer-redline")
    reviewer.get_by_label("审核意见").fill("条款已核对，同意。")
    reviewer.get_by_role("button", name="批准").click()
    expect(reviewer.get_by_test_id("flash")).to_contain_text("已批准版本 v2")
    expect(reviewer.locator(".heading .badge")).to_have_text("已批准")
    shot(reviewer, "reviewer-approved")

    reviewer.goto(f"/console/templates/{template_id}")
    expect(reviewer.locator("dl.facts")).to_contain_text("v2")


def test_reviewing_your_own_upload_is_refused_with_a_clear_message(new_page, people, shot, tmp_path):
    admin = logged_in(new_page(), people["admin"])  # may upload and review, but not both on one version
    template_id = upload_template(admin, f"自审-{secrets.token_hex(3)}", loan_docx(tmp_path, "own.docx"))
    admin.get_by_label("审核意见").fill("我自己批准")
    admin.get_by_role("button", name="批准").click()
    flash = admin.get_by_test_id("flash")
    expect(flash).to_contain_text("不能审核自己上传的版本")
    expect(flash).to_contain_text("separation of duties")
    expect(admin.locator(".heading .badge")).to_have_text("待审核")
    assert admin.url.endswith(f"/console/templates/{template_id}/versions/1")
    shot(admin, "self-approval-refused")


def test_a_form_without_its_csrf_token_is_refused(new_page, people, shot, tmp_path):
    operator = logged_in(new_page(), people["operator"])
    template_id = upload_template(operator, f"防伪-{secrets.token_hex(3)}", loan_docx(tmp_path, "csrf.docx"))
    reviewer = logged_in(new_page(), people["reviewer"])
    reviewer.goto(f"/console/templates/{template_id}/versions/1")
    # What a forged cross-site form would send: everything but the session's token.
    reviewer.evaluate("for (const f of document.querySelectorAll('input[name=csrf_token]')) f.value = 'forged'")
    reviewer.get_by_role("button", name="批准").click()
    expect(reviewer.get_by_test_id("problem")).to_contain_text("表单已失效，操作未执行")
    shot(reviewer, "csrf-refused")
    # Posting with no token at all, with the session cookie, is refused the same way.
    reply = reviewer.request.post(f"/console/templates/{template_id}/versions/1/approve", form={"comment": "x"},
                                  max_redirects=0)
    assert reply.status == 403
    reviewer.goto(f"/console/templates/{template_id}/versions/1")
    expect(reviewer.locator(".heading .badge")).to_have_text("待审核")


def test_wrong_passwords_are_refused_then_throttled(new_page, people, shot):
    page = new_page()
    person = people["locked"]
    log_in(page, person.name, "not-the-password")
    expect(page.get_by_test_id("flash")).to_contain_text("用户名或密码错误")
    expect(page.get_by_label("用户名")).to_have_value(person.name)  # what was typed is kept; the password is not
    expect(page.get_by_label("密码")).to_have_value("")
    shot(page, "wrong-password")
    for _ in range(4):
        log_in(page, person.name, "still-not-the-password")
    log_in(page, person.name, person.password)  # even the right password, while locked
    expect(page.get_by_test_id("flash")).to_contain_text("登录失败次数过多")
    expect(page.get_by_role("button", name="退出登录")).to_have_count(0)
    shot(page, "throttled")


def test_language_switch_changes_every_text_and_sticks(new_page, people, shot):
    page = new_page()
    page.goto("/console/login")
    expect(page.get_by_role("heading", level=1)).to_have_text("登录")
    expect(page.locator("html")).to_have_attribute("lang", "zh-CN")
    page.get_by_role("button", name="English").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Log in")
    expect(page.locator("html")).to_have_attribute("lang", "en")
    shot(page, "login-english")
    page.get_by_label("User name").fill(people["reviewer"].name)
    page.get_by_label("Password").fill(people["reviewer"].password)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name="Templates waiting for legal review")).to_be_visible()
    page.get_by_role("link", name="Dictionaries").click()
    expect(page.get_by_role("cell", name="Unified social credit code")).to_be_visible()
    shot(page, "dictionaries-english")
    page.get_by_role("button", name="中文").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("字典")
    expect(page.get_by_role("cell", name="统一社会信用代码")).to_be_visible()
    shot(page, "dictionaries-chinese")


def test_reviewer_previews_the_pages_and_the_html(new_page, people, shot, tmp_path):
    operator = logged_in(new_page(), people["operator"])
    template_id = upload_template(operator, f"预览-{secrets.token_hex(3)}", loan_docx(tmp_path, "preview.docx"))
    reviewer = logged_in(new_page(), people["reviewer"])
    reviewer.goto(f"/console/templates/{template_id}/versions/1")
    reviewer.get_by_role("link", name="页面预览").click()
    page_one = reviewer.get_by_role("img", name="第 1 页")
    expect(page_one).to_be_visible(timeout=60_000)
    assert reviewer.evaluate("document.querySelector('.page img').naturalWidth") > 300  # a real rendered page
    shot(reviewer, "png-pages")
    reviewer.get_by_role("link", name="网页预览（深色）").click()
    framed = reviewer.frame_locator("iframe.html-preview")
    expect(framed.get_by_text("第二条 借款期限为十二个月。")).to_be_visible(timeout=60_000)
    shot(reviewer, "html-dark")
