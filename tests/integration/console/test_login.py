"""Password login, session cookies, logout, and throttling of wrong passwords."""
from __future__ import annotations

import secrets

from tests.integration.console.conftest import ConsoleClient, flash_of, gateway, make_person


def _cookie_header(reply, name: str) -> str:
    found = [h for h in reply.headers.get_list("set-cookie") if h.startswith(name + "=")]
    assert found, reply.headers
    return found[0].lower()


def test_login_page_starts_an_anonymous_session_with_a_strict_cookie(browser):
    reply = browser.get("/console/login")
    assert reply.status_code == 200 and 'name="csrf_token"' in reply.text
    cookie = _cookie_header(reply, "ec_console")
    assert "httponly" in cookie and "samesite=strict" in cookie and "path=/console" in cookie
    assert "secure" not in cookie  # the public URL is plain http in tests; https turns Secure on


def test_pages_need_a_login(browser):
    reply = browser.get("/console/templates?q=x")
    assert reply.status_code == 303
    assert reply.headers["location"] == "/console/login?next=/console/templates%3Fq%3Dx"


def test_login_replaces_the_session_id_and_logout_ends_it(browser, people):
    person = people["reviewer"]
    browser.get("/console/login")
    anonymous = browser.http.cookies["ec_console"]
    reply = browser.login(person.name, person.password)
    assert reply.status_code == 303 and reply.headers["location"] == "/console/"
    signed_in = browser.http.cookies["ec_console"]
    assert signed_in != anonymous  # no session fixation
    assert browser.get("/console/dictionaries").status_code == 200

    reply = browser.post("/console/logout")
    assert reply.status_code == 303 and reply.headers["location"] == "/console/login"
    stale = ConsoleClient(str(browser.http.base_url))
    stale.http.cookies.set("ec_console", signed_in, path="/console")
    assert stale.get("/console/dictionaries").status_code == 303  # the old id opens nothing
    stale.close()


def test_login_goes_back_to_the_page_asked_for_but_never_off_site(browser, people):
    person = people["reviewer"]
    reply = browser.post("/console/login", {"name": person.name, "password": person.password,
                                            "next": "/console/dictionaries"})
    assert reply.headers["location"] == "/console/dictionaries"
    other = ConsoleClient(str(browser.http.base_url))
    for target in ("https://evil.example/", "//evil.example/console/", "/console/\\evil.example", "/v1/apps/self"):
        reply = other.post("/console/login", {"name": person.name, "password": person.password, "next": target})
        assert reply.headers["location"] == "/console/", target
        other.post("/console/logout")
    other.close()


def test_wrong_password_is_refused_with_the_name_kept(browser, people):
    person = people["operator"]
    reply = browser.login(person.name, "wrong-password-here")
    assert reply.status_code == 303 and reply.headers["location"].startswith("/console/login")
    page = browser.open(reply.headers["location"])
    assert flash_of(page) == "用户名或密码错误。"
    assert f'value="{person.name}"' in page.text and "wrong-password-here" not in page.text
    assert browser.get("/console/dictionaries").status_code == 303  # still not logged in


def test_unknown_user_gets_the_same_answer(browser):
    reply = browser.login("nobody-" + secrets.token_hex(3), "whatever-password")
    assert flash_of(browser.open(reply.headers["location"])) == "用户名或密码错误。"


def test_repeated_failures_lock_the_user_even_with_the_right_password(mesh, browser):
    person = make_person(mesh.settings("gateway"), "operator")
    for _ in range(5):
        browser.login(person.name, "guess-" + secrets.token_hex(4))
    reply = browser.login(person.name, person.password)
    page = browser.open(reply.headers["location"])
    assert flash_of(page) == "登录失败次数过多，请 15 分钟后再试。"
    assert browser.get("/console/dictionaries").status_code == 303


def test_failures_from_one_address_lock_every_name_tried_from_it(mesh, monkeypatch, people):
    # A gateway with its own Redis keys, so locking 127.0.0.1 there locks no other test out.
    person = people["reviewer"]
    with gateway(mesh, monkeypatch, {"CONSOLE_LOGIN_MAX_FAILURES_PER_IP": "3"},
                 ECONTRACT_REDIS_PREFIX=mesh.env["ECONTRACT_REDIS_PREFIX"] + "ip-lock:") as client:
        for _ in range(3):
            client.login("guess-" + secrets.token_hex(3), "some-password-guess")
        reply = client.login(person.name, person.password)
        assert flash_of(client.open(reply.headers["location"])) == "登录失败次数过多，请 15 分钟后再试。"


def test_a_disabled_user_cannot_log_in_and_loses_open_sessions(mesh, console_as, people):
    person = make_person(mesh.settings("gateway"), "reviewer")
    session = console_as(person)
    admin = console_as(people["admin"])
    reply = admin.post(f"/console/users/{person.user.user_id}", {"role": "reviewer", "status": "DISABLED"})
    assert reply.status_code == 303, reply.text
    assert session.get("/console/dictionaries").status_code == 303
    fresh = ConsoleClient(str(session.http.base_url))
    reply = fresh.login(person.name, person.password)
    assert flash_of(fresh.open(reply.headers["location"])) == "用户名或密码错误。"
    fresh.close()


def test_a_password_reset_ends_the_users_sessions(mesh, console_as, people):
    person = make_person(mesh.settings("gateway"), "operator")
    session = console_as(person)
    admin = console_as(people["admin"])
    reply = admin.post(f"/console/users/{person.user.user_id}/password")
    assert reply.status_code == 200 and 'data-testid="user-password"' in reply.text
    assert session.get("/console/dictionaries").status_code == 303


def test_every_console_answer_carries_the_security_headers(browser):
    for path in ("/console/login", "/console/static/console.css", "/console/nothing-here"):
        reply = browser.get(path)
        csp = reply.headers["content-security-policy"]
        assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp and "unsafe-inline" not in csp, path
        assert reply.headers["x-frame-options"] == "DENY"
        assert reply.headers["referrer-policy"] == "same-origin"
        assert reply.headers["x-content-type-options"] == "nosniff"
    assert browser.get("/console/login").headers["cache-control"] == "no-store"


def test_pages_use_no_inline_script_or_style(console_as, people):
    admin = console_as(people["admin"])
    for path in ("/console/login", "/console/", "/console/templates/new", "/console/apps", "/console/users"):
        html = admin.open(path).text
        assert "<script>" not in html and " style=" not in html and "<style" not in html, path
        assert " on" + "click=" not in html
