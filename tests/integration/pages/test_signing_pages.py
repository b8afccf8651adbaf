"""The signing pages over HTTP: the whole E_SIGN flow a signer walks, what the server
refuses whatever the page's script does, and how pages are protected."""
from __future__ import annotations

import base64
import re

import httpx

from tests.integration.contract.helpers import borrower, create_contract, lender, ok, signer_of
from tests.integration.pages.flow import Signer, code_for


def _link(client, contract: dict, role: str = "borrower", **extra) -> str:
    signer = signer_of(contract, role)
    body = {"signerId": signer["signerId"], "source": "PC", "scene": "NORMAL", **extra}
    return ok(client.post(f"/v1/contracts/{contract['contractId']}:signUrl", body))["url"]


def _events(client, contract_id: str) -> list[str]:
    return [e["type"] for e in ok(client.get(f"/v1/contracts/{contract_id}/events"))["events"]]


def test_a_signer_walks_consent_intent_and_signing(business_line):
    line = business_line()
    person = borrower(order=1)
    contract = create_contract(line.client, line.template_id, signers=[lender(order=2), person])
    page = Signer(_link(line.client, contract))
    try:
        assert page.page.status_code == 200 and "开通云签服务" in page.page.text
        assert "意愿验证" in page.post("consent", agree="on").text
        sent = page.post("intent", method="SMS")
        assert "验证码已发送至" in sent.text and person["mobile"][-4:] in sent.text
        read = page.post("intent/confirm", code=code_for(line.client, person["mobile"]))
        assert "阅读并签署" in read.text
        images = re.findall(r'src="(/sign/[^"]+\.png)"', read.text)
        assert images and page.http.get(images[0]).headers["content-type"] == "image/png"
        done = page.post("sign", appearance="default")
        assert done.status_code == 200 and "签署完成" in done.text
        assert "签署完成" in page.http.get(page.base).text  # the same browser sees its outcome again
    finally:
        page.close()
    fetched = ok(line.client.get(f"/v1/contracts/{contract['contractId']}"))
    assert signer_of(fetched, "borrower")["status"] == "SIGNED"
    events = _events(line.client, contract["contractId"])
    assert events.index("signer.viewed") < events.index("signer.consented") < events.index("signer.signed")


def test_consent_is_asked_once_per_subject(business_line):
    line = business_line()
    person = borrower(order=1)
    first = create_contract(line.client, line.template_id, signers=[lender(order=2), dict(person)])
    page = Signer(_link(line.client, first))
    assert "开通云签服务" in page.page.text
    page.post("consent", agree="on")
    page.close()
    second = create_contract(line.client, line.template_id, signers=[lender(order=2), dict(person)])
    again = Signer(_link(line.client, second))
    assert "意愿验证" in again.page.text and "开通云签服务" not in again.page.text
    again.close()


def test_a_spent_link_shows_a_clear_page_in_either_language(business_line):
    line = business_line()
    contract = create_contract(line.client, line.template_id, signers=[lender(order=2), borrower(order=1)])
    url = _link(line.client, contract)
    assert httpx.head(url).status_code == 204 and httpx.get(url, headers={"Sec-Purpose": "prefetch"}).status_code == 204
    first = Signer(url)  # neither spent it: the signer opens it now
    assert first.page.status_code == 200
    first.close()
    other = Signer(url)
    assert other.page.status_code == 410 and "此签署链接已使用" in other.page.text
    english = other.http.get(other.base + "?lang=en")
    assert english.status_code == 410 and "This signing link was already used" in english.text
    assert "Traceback" not in english.text
    unknown = other.http.get("/sign/" + "x" * 43)
    assert unknown.status_code == 404 and "签署链接无效" in unknown.text
    other.close()


def test_forced_reading_is_enforced_by_the_server(business_line):
    line = business_line(signing_page={"forcedReading": True, "minReadingSeconds": 60})
    person = borrower(order=1)
    contract = create_contract(line.client, line.template_id, signers=[lender(order=2), person])
    page = Signer(_link(line.client, contract))
    page.post("consent", agree="on")
    page.post("intent", method="SMS")
    read = page.post("intent/confirm", code=code_for(line.client, person["mobile"]))
    assert 'data-seconds-left="60"' in read.text or 'data-seconds-left="59"' in read.text
    refused = page.post("sign", appearance="default")
    assert refused.status_code == 400 and "阅读时间不足" in refused.text
    page.close()
    assert signer_of(ok(line.client.get(f"/v1/contracts/{contract['contractId']}")), "borrower")["status"] == "PENDING"


def test_pages_are_protected(business_line):
    line = business_line()
    contract = create_contract(line.client, line.template_id, signers=[lender(order=2), borrower(order=1)])
    url = _link(line.client, contract)
    page = Signer(url)
    cookie = page.page.headers["set-cookie"]  # set when the link was opened
    first = page.http.get(page.base)
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie.replace("Strict", "strict")
    assert f"Path={page.base}" in cookie
    csp = first.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp and "unsafe-inline" not in csp
    assert first.headers["x-frame-options"] == "DENY" and first.headers["cache-control"] == "no-store"
    assert first.headers["referrer-policy"] == "no-referrer"
    forged = page.http.post(page.base + "/consent", data={"csrf": "forged", "agree": "on"})
    assert forged.status_code == 403 and "页面已失效" in forged.text
    assert "signer.consented" not in _events(line.client, contract["contractId"])
    page.close()
    headless = create_contract(line.client, line.template_id, signers=[lender(order=2), borrower(order=1)])
    embedded = Signer(_link(line.client, headless, scene="HEADLESS"))
    assert embedded.page.headers["content-security-policy"].endswith("frame-ancestors *")  # none listed: any site
    assert "x-frame-options" not in embedded.page.headers
    assert 'data-testid="platform-header"' not in embedded.page.text
    # Framed by another site, where only a SameSite=None cookie is sent; kept apart per embedding site.
    framed_cookie = embedded.page.headers["set-cookie"]
    assert all(part in framed_cookie.split("; ") for part in ("HttpOnly", "Secure", "SameSite=None", "Partitioned"))
    assert f"Path={embedded.base}" in framed_cookie
    embedded.close()


def test_headless_pages_may_be_framed_only_by_the_listed_origins(business_line):
    # Malformed entries are refused on saving (tests/integration/identity/test_frame_ancestors_rest.py).
    line = business_line(signing_page={"frameAncestors": ["https://shop.example", "https://m.shop.example:8443/"]})
    contract = create_contract(line.client, line.template_id, signers=[lender(order=2), borrower(order=1)])
    embedded = Signer(_link(line.client, contract, scene="HEADLESS"))
    csp = embedded.page.headers["content-security-policy"]
    assert csp.endswith("frame-ancestors https://shop.example https://m.shop.example:8443")
    embedded.close()
    normal = create_contract(line.client, line.template_id, signers=[lender(order=2), borrower(order=1)])
    page = Signer(_link(line.client, normal))
    assert page.page.headers["content-security-policy"].endswith("frame-ancestors 'none'")  # only HEADLESS is framed
    page.close()


def test_face_verification_through_the_provider(business_line):
    line = business_line(intent_policy={"allowedMethods": ["SMS", "FACE"], "faceAboveAmount": "1000"})
    contract = create_contract(line.client, line.template_id, signers=[lender(order=2), borrower(order=1)],
                               amount="50000.00")
    page = Signer(_link(line.client, contract))
    intent = page.post("consent", agree="on")
    assert "人脸识别" in intent.text and "短信验证码" not in intent.text  # above the amount only FACE counts
    assert "data-face-input" in page.post("intent", method="FACE").text
    read = page.post("intent/face", photo="data:image/jpeg;base64," + base64.b64encode(b"a face").decode())
    assert read.status_code == 200 and "阅读并签署" in read.text
    page.close()


def test_a_form_after_the_session_ended_shows_a_clear_page(business_line):
    line = business_line()
    contract = create_contract(line.client, line.template_id, signers=[lender(order=2), borrower(order=1)])
    page = Signer(_link(line.client, contract))
    page.http.cookies.clear()
    gone = page.http.post(page.base + "/consent", data={"csrf": "x", "agree": "on"})
    assert gone.status_code == 410 and "页面已过期" in gone.text
    page.close()


def test_link_tokens_stay_out_of_traces(business_line, mesh):
    line = business_line()
    contract = create_contract(line.client, line.template_id, signers=[lender(order=2), borrower(order=1)])
    url = _link(line.client, contract)
    token = url.rsplit("/", 1)[1]
    page = Signer(url)
    page.post("consent", agree="on")
    page.close()
    spans = mesh.exporter.get_finished_spans()
    assert any(s.name.startswith("GET /sign/sha256:") for s in spans)
    assert not [s.name for s in spans if token in s.name or any(token in str(v) for v in s.attributes.values())]


def test_a_code_is_not_resent_before_its_cooldown(business_line):
    line = business_line()
    contract = create_contract(line.client, line.template_id, signers=[lender(order=2), borrower(order=1)])
    page = Signer(_link(line.client, contract))
    page.post("consent", agree="on")
    sent = page.post("intent", method="SMS")
    assert re.search(r'data-countdown="(5\d|60)"', sent.text)  # the cooldown, as the page counts it down
    early = page.post("intent/resend")
    assert early.status_code == 429 and "操作太频繁" in early.text and "验证码已发送至" in early.text
    page.close()


def test_a_signer_out_of_turn_or_a_revoked_contract_gets_a_clear_page(business_line):
    line = business_line()
    contract = create_contract(line.client, line.template_id, signers=[lender(order=1), borrower(order=2)])
    waiting = Signer(_link(line.client, contract))
    assert waiting.page.status_code == 409 and "尚未轮到您签署" in waiting.page.text
    waiting.close()
    ready = Signer(_link(line.client, contract, role="lender"))
    assert "开通云签服务" in ready.page.text
    ok(line.client.post(f"/v1/contracts/{contract['contractId']}:revoke", {"reason": "业务取消"}))
    closed = ready.http.get(ready.base)
    assert closed.status_code == 410 and "合同已不能签署" in closed.text and "REVOKED" in closed.text
    ready.close()
