"""Steps a signer takes on the pages, and what a business line checks afterwards."""
from __future__ import annotations

import re
import time
from urllib.parse import urlencode

from playwright.sync_api import Locator, Page, expect

from tests.integration.contract.helpers import b64, ok, signer_of
from tests.support.signed import SignedClient


def sign_url(client: SignedClient, contract: dict, role: str = "borrower", **extra) -> str:
    body = {"signerId": signer_of(contract, role)["signerId"], "source": "PC", "scene": "NORMAL", **extra}
    return ok(client.post(f"/v1/contracts/{contract['contractId']}:signUrl", body))["url"]


def newest_code(client: SignedClient, recipient: str, seen: int = 0) -> tuple[str, int]:
    """The newest one-time code sent to ``recipient`` once more than ``seen`` were sent, and the count."""
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        messages = ok(client.get("/v1/dev/outbox?" + urlencode({"recipient": recipient}))).get("messages", [])
        if len(messages) > seen and messages[0].get("code"):
            return messages[0]["code"], len(messages)
        time.sleep(0.2)
    raise AssertionError(f"no new code for {recipient} in the dev outbox")


def open_cloud_signing(page: Page) -> None:
    expect(page.get_by_role("heading", name="开通云签服务")).to_be_visible()
    consent = page.get_by_role("button", name="同意并开通")
    expect(consent).to_be_disabled()
    page.get_by_label(re.compile("数字证书服务协议")).check()
    consent.click()


def verify_by_sms(page: Page, client: SignedClient, mobile: str) -> None:
    expect(page.get_by_role("heading", name="意愿验证")).to_be_visible()
    page.get_by_role("button", name=re.compile("短信验证码")).click()
    expect(page.get_by_test_id("code-sent")).to_contain_text(mobile[:3] + "****" + mobile[-4:])
    expect(page.get_by_test_id("resend")).to_be_disabled()  # the resend cooldown
    expect(page.get_by_test_id("resend")).to_contain_text("秒后可重新发送")
    code, _ = newest_code(client, mobile)
    page.get_by_label("验证码").fill(code)
    page.get_by_role("button", name="确认").click()


def read_to_the_end(page: Page) -> None:
    """Scroll every contract's viewer to its end, as a reader would with the wheel."""
    for viewer in page.locator("[data-viewer]").all():
        scroll_to_the_end(page, viewer)


def scroll_to_the_end(page: Page, viewer: Locator) -> None:
    """Scroll one contract's viewer to its end with the mouse wheel."""
    viewer.scroll_into_view_if_needed()
    viewer.hover()
    for _ in range(40):
        page.mouse.wheel(0, 800)
        if viewer.evaluate("v => v.scrollTop + v.clientHeight >= v.scrollHeight - 4"):
            return
    raise AssertionError("the viewer did not reach its end")


def draw_with_touch(page: Page, canvas_test_id: str = "signature-pad") -> None:
    """Two strokes with a finger (touch events through the DevTools protocol)."""
    box = page.get_by_test_id(canvas_test_id).bounding_box()
    assert box is not None
    cdp = page.context.new_cdp_session(page)
    for row in (0.35, 0.65):
        points = [(box["x"] + box["width"] * (0.15 + 0.7 * i / 20),
                   box["y"] + box["height"] * (row + 0.15 * ((-1) ** i) * 0.5)) for i in range(21)]
        (x0, y0), rest = points[0], points[1:]
        cdp.send("Input.dispatchTouchEvent", {"type": "touchStart", "touchPoints": [{"x": x0, "y": y0}]})
        for x, y in rest:
            cdp.send("Input.dispatchTouchEvent", {"type": "touchMove", "touchPoints": [{"x": x, "y": y}]})
        cdp.send("Input.dispatchTouchEvent", {"type": "touchEnd", "touchPoints": []})
    cdp.detach()


def status_of(client: SignedClient, contract_id: str) -> dict:
    return ok(client.get(f"/v1/contracts/{contract_id}"))


def verify_document(client: SignedClient, contract_id: str) -> dict:
    """POST /v1/documents:verify on the contract's current PDF."""
    pdf = client.get(f"/v1/contracts/{contract_id}/document?alt=media")
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    return ok(client.post("/v1/documents:verify", {"pdf": b64(pdf.content)}))
