"""Every POST needs the session's CSRF token; without it nothing happens."""
from __future__ import annotations

import secrets

import pytest


@pytest.mark.parametrize("path", ["/console/dictionaries/groups", "/console/logout", "/console/lang"])
def test_a_post_without_the_token_is_refused(console_as, people, path):
    admin = console_as(people["admin"])
    group = "g" + secrets.token_hex(4)
    reply = admin.post(path, {"group_id": group, "name": group, "lang": "en"}, csrf=False)
    assert reply.status_code == 403
    assert "表单已失效，操作未执行" in reply.text
    assert "ec_console_lang" not in reply.headers.get("set-cookie", "")
    page = admin.open("/console/dictionaries")
    assert page.status_code == 200 and group not in page.text  # still logged in, nothing created


def test_the_token_of_another_session_is_refused(console_as, people):
    operator = console_as(people["operator"])
    admin = console_as(people["admin"])
    group = "g" + secrets.token_hex(4)
    reply = admin.http.post("/console/dictionaries/groups",
                            data={"group_id": group, "name": group, "csrf_token": operator.token()})
    assert reply.status_code == 403
    assert group not in admin.open("/console/dictionaries").text


def test_the_login_form_is_protected_too(browser, people):
    person = people["reviewer"]
    reply = browser.post("/console/login", {"name": person.name, "password": person.password}, csrf=False)
    assert reply.status_code == 403
    assert browser.get("/console/dictionaries").status_code == 303


def test_with_the_token_the_same_post_works(console_as, people):
    admin = console_as(people["admin"])
    group = "g" + secrets.token_hex(4)
    reply = admin.post("/console/dictionaries/groups", {"group_id": group, "name": "分类 " + group})
    assert reply.status_code == 303 and reply.headers["location"] == "/console/dictionaries"
    assert group in admin.open("/console/dictionaries").text
