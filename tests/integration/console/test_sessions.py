"""Session expiry (idle and absolute) and the Secure flag, on gateways of their own."""
from __future__ import annotations

import time

from tests.integration.console.conftest import gateway


def test_an_idle_session_expires_and_says_so(mesh, monkeypatch, people):
    person = people["reviewer"]
    with gateway(mesh, monkeypatch, {"CONSOLE_SESSION_IDLE_SECONDS": "2", "CONSOLE_SESSION_MAX_SECONDS": "60"}) as client:
        assert client.login(person.name, person.password).status_code == 303
        assert client.get("/console/dictionaries").status_code == 200
        time.sleep(2.5)
        reply = client.get("/console/dictionaries")
        assert reply.status_code == 303
        assert reply.headers["location"] == "/console/login?next=/console/dictionaries&expired=1"
        assert "会话已过期，请重新登录。" in client.open(reply.headers["location"]).text


def test_an_active_session_still_ends_at_its_absolute_limit(mesh, monkeypatch, people):
    person = people["reviewer"]
    with gateway(mesh, monkeypatch, {"CONSOLE_SESSION_IDLE_SECONDS": "2", "CONSOLE_SESSION_MAX_SECONDS": "4"}) as client:
        started = time.monotonic()
        assert client.login(person.name, person.password).status_code == 303
        while time.monotonic() - started < 3.5:  # busy all along: idle expiry never strikes
            assert client.get("/console/dictionaries").status_code == 200
            time.sleep(0.5)
        time.sleep(1.0)
        assert client.get("/console/dictionaries").status_code == 303


def test_cookies_are_secure_when_the_public_url_is_https(mesh, monkeypatch):
    with gateway(mesh, monkeypatch, {}, ECONTRACT_PUBLIC_URL="https://contracts.example.com") as client:
        reply = client.get("/console/login")
        cookie = [h for h in reply.headers.get_list("set-cookie") if h.startswith("ec_console=")][0].lower()
        assert "; secure" in cookie and "httponly" in cookie and "samesite=strict" in cookie
