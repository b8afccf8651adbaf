"""Administrators' pages: business lines (secrets shown once, settings), users, dictionaries;
and what other roles may not open."""
from __future__ import annotations

import base64
import io
import re
import secrets

from PIL import Image

from tests.integration.console.conftest import ConsoleClient, flash_of
from tests.support.signed import SignedClient

_SECRET = re.compile(r'data-testid="app-secret">([^<]+)<')
_APP_ID = re.compile(r'data-testid="app-id">([^<]+)<')
_PASSWORD = re.compile(r'<code class="secret" id="secret">([^<]+)</code>')
_SEAL_IMAGE = re.compile(r'<img src="data:image/png;base64,([^"]+)" alt="[^"]*" width="(\d+)" height="(\d+)">')


def _create_app(admin: ConsoleClient, name: str) -> tuple[str, str]:
    reply = admin.post("/console/apps", {"name": name, "scope": ["app:self", "template:read"]})
    assert reply.status_code == 200, reply.text
    assert "密钥只显示这一次" in reply.text and reply.headers["cache-control"] == "no-store"
    return _APP_ID.search(reply.text).group(1), _SECRET.search(reply.text).group(1)


def test_a_new_business_line_gets_a_working_secret_shown_once(mesh, console_as, people):
    admin = console_as(people["admin"])
    app_id, secret = _create_app(admin, "业务线-" + secrets.token_hex(3))
    app = SignedClient(mesh.base_url, app_id, secret)
    reply = app.get("/v1/apps/self")
    assert reply.status_code == 200 and reply.json()["scopes"] == ["app:self", "template:read"]
    page = admin.open(f"/console/apps/{app_id}")
    assert page.status_code == 200 and secret not in page.text  # never shown again
    app.close()


def test_rotation_shows_the_new_secret_and_the_old_one_stops(mesh, console_as, people):
    admin = console_as(people["admin"])
    app_id, old = _create_app(admin, "轮换-" + secrets.token_hex(3))
    reply = admin.post(f"/console/apps/{app_id}/rotate", {"grace_seconds": "0"})
    assert reply.status_code == 200 and "已为" in reply.text
    new = _SECRET.search(reply.text).group(1)
    assert new != old
    assert SignedClient(mesh.base_url, app_id, new).get("/v1/apps/self").status_code == 200
    assert SignedClient(mesh.base_url, app_id, old).get("/v1/apps/self").status_code == 401


def test_signing_page_intent_policy_and_webhook_are_saved(mesh, console_as, people):
    admin = console_as(people["admin"])
    app_id, secret = _create_app(admin, "配置-" + secrets.token_hex(3))
    reply = admin.post(f"/console/apps/{app_id}/settings", {
        "webhook_url": "https://hooks.example.com/econtract",
        "theme_color": "#1f5fbf", "show_reject": "on", "forced_reading": "on", "min_reading_seconds": "15",
        "success_page": "签署完成", "redirect_url": "https://biz.example.com/done", "redirect_mode": "DELAYED",
        "redirect_delay_seconds": "3", "allowed_method": ["SMS", "FACE"], "required_method": ["SMS"],
        "face_above_amount": "50000.00", "face_for_orgs": "on",
        "frame_ancestors": "https://shop.example.com\r\n\r\nhttp://localhost:3000/\r\n",
    })
    assert reply.status_code == 303 and flash_of(admin.open(reply.headers["location"])) == "已保存。"
    body = SignedClient(mesh.base_url, app_id, secret).get("/v1/apps/self").json()
    assert body["webhookUrl"] == "https://hooks.example.com/econtract"
    assert body["signingPage"] == {
        "themeColor": "#1f5fbf", "showReject": True, "forcedReading": True, "minReadingSeconds": 15,
        "successPage": "签署完成", "redirectUrl": "https://biz.example.com/done", "redirectMode": "DELAYED",
        "redirectDelaySeconds": 3, "showSuccessPage": False,
        "frameAncestors": ["https://shop.example.com", "http://localhost:3000"],
    }
    assert body["intentPolicy"]["allowedMethods"] == ["SMS", "FACE"]
    assert body["intentPolicy"]["requiredMethods"] == ["SMS"] and body["intentPolicy"]["faceForOrgs"] is True
    page = admin.open(f"/console/apps/{app_id}")
    assert ">https://shop.example.com\nhttp://localhost:3000</textarea>" in page.text
    assert re.search(r'name="show_success_page" type="checkbox" value="on">', page.text)  # saved as off


def test_the_success_page_switch_and_embedding_origins_in_the_console(mesh, console_as, people):
    admin = console_as(people["admin"])
    app_id, secret = _create_app(admin, "嵌入-" + secrets.token_hex(3))
    page = admin.open(f"/console/apps/{app_id}")
    assert re.search(r'name="show_success_page" type="checkbox" value="on" checked>', page.text)  # on unless set off
    settings = {"redirect_mode": "NONE", "show_success_page": "on", "frame_ancestors": "shop.example.com"}
    reply = admin.post(f"/console/apps/{app_id}/settings", settings)
    refused = admin.open(reply.headers["location"]) if reply.status_code == 303 else reply
    assert "each line must be an origin such as https://shop.example" in refused.text
    app = SignedClient(mesh.base_url, app_id, secret)
    assert "frameAncestors" not in app.get("/v1/apps/self").json().get("signingPage", {})  # nothing saved
    reply = admin.post(f"/console/apps/{app_id}/settings", {**settings, "frame_ancestors": "https://shop.example.com"})
    assert reply.status_code == 303
    saved = app.get("/v1/apps/self").json()["signingPage"]
    assert saved["showSuccessPage"] is True and saved["frameAncestors"] == ["https://shop.example.com"]
    app.close()


def test_disabling_a_business_line_refuses_its_calls(mesh, console_as, people):
    admin = console_as(people["admin"])
    name = "停用-" + secrets.token_hex(3)
    app_id, secret = _create_app(admin, name)
    reply = admin.post(f"/console/apps/{app_id}/access", {"name": name, "status": "DISABLED", "scope": ["app:self"]})
    assert reply.status_code == 303
    assert SignedClient(mesh.base_url, app_id, secret).get("/v1/apps/self").status_code == 401


def test_an_admin_creates_a_user_who_logs_in_with_the_password_shown_once(mesh, console_as, people):
    admin = console_as(people["admin"])
    name = "legal-" + secrets.token_hex(3)
    reply = admin.post("/console/users", {"name": name, "display_name": "王律师", "role": "reviewer"})
    assert reply.status_code == 200 and "此密码只显示这一次" in reply.text
    password = _PASSWORD.search(reply.text).group(1)
    newcomer = ConsoleClient(mesh.base_url)
    assert newcomer.login(name, password).headers["location"] == "/console/"
    assert "法务审核" in newcomer.open("/console/").text
    newcomer.close()
    assert name in admin.open("/console/users").text and password not in admin.open("/console/users").text


def test_an_admin_cannot_demote_or_disable_themself(console_as, people):
    admin = console_as(people["admin"])
    me = people["admin"].user.user_id
    reply = admin.post(f"/console/users/{me}", {"role": "reviewer", "status": "ACTIVE", "back": "/console/users"})
    assert flash_of(admin.open(reply.headers["location"])) == "当前状态下不能进行此操作。"


def test_a_short_password_is_refused(console_as, people):
    admin = console_as(people["admin"])
    reply = admin.post("/console/users", {"name": "short-" + secrets.token_hex(3), "role": "operator",
                                          "password": "short", "back": "/console/users"})
    page = admin.open(reply.headers["location"])
    assert flash_of(page) == "填写的内容有误，请检查后重试。" and "at least 12 characters" in page.text


def test_only_administrators_reach_apps_and_users(console_as, people):
    for role in ("operator", "reviewer"):
        console = console_as(people[role])
        for path in ("/console/apps", "/console/users"):
            page = console.open(path)
            assert page.status_code == 403 and "您的角色无权进行此操作。" in page.text, (role, path)
        assert 'href="/console/apps"' not in console.open("/console/dictionaries").text


def test_contract_categories_are_the_template_groups(console_as, people):
    operator = console_as(people["operator"])
    group = "cat_" + secrets.token_hex(3)
    reply = operator.post("/console/dictionaries/groups", {"group_id": group, "name": "借款类", "description": "个人借款"})
    page = operator.open(reply.headers["location"])
    assert flash_of(page) == f"已添加合同分类 {group}。"
    assert group in page.text and "统一社会信用代码" in page.text
    assert f'value="{group}"' in operator.open("/console/templates/new").text
    reply = operator.post("/console/dictionaries/groups", {"group_id": group, "name": "again",
                                                           "back": "/console/dictionaries"})
    assert flash_of(operator.open(reply.headers["location"])) == "已存在同名的记录。"


def test_seals_generate_upload_and_list(console_as, people):
    from tests.fixtures.docx_fixtures import seal_png

    operator = console_as(people["operator"])
    subject = {"idType": "USCC", "id": "91110108551385082Q"}
    reply = operator.post("/console/seals/generate", {**subject, "style": "ROUND_COMPANY", "text": "某某科技有限公司",
                                                      "horizontal_text": "合同专用章", "name": "合同章"})
    assert reply.status_code == 303, reply.text
    page = operator.open(reply.headers["location"])
    assert flash_of(page) == "印章已生成。" and "合同章" in page.text and "默认" in page.text
    reply = operator.post("/console/seals/upload", {**subject, "name": "财务章"},
                          files={"image": ("seal.png", seal_png(), "image/png")})
    page = operator.open(reply.headers["location"])
    assert flash_of(page) == "印章已上传。" and "财务章" in page.text
    assert page.text.count('src="data:image/png;base64,') == 2
    reviewer = console_as(people["reviewer"])
    assert reviewer.open("/console/seals").status_code == 403


def test_every_seal_style_is_offered_and_oval_and_rectangular_seals_are_generated(console_as, people):
    operator = console_as(people["operator"])
    page = operator.open("/console/seals")
    for style, label in (("ROUND_COMPANY", "圆形公司章"), ("SQUARE_PERSONAL", "方形个人章"),
                         ("OVAL_COMPANY", "椭圆形公司章"), ("RECTANGULAR_PERSONAL", "长方形个人章")):
        assert f'<option value="{style}">{label}</option>' in page.text, style

    company = {"idType": "USCC", "id": "9135010" + secrets.token_hex(6).upper()}
    reply = operator.post("/console/seals/generate", {**company, "style": "OVAL_COMPANY", "text": "某某贸易有限公司",
                                                      "horizontal_text": "发票专用章", "seal_code": "3501000012345"})
    assert reply.status_code == 303, reply.text
    page = operator.open(reply.headers["location"])
    assert flash_of(page) == "印章已生成。" and "发票专用章" in page.text and "椭圆形公司章" in page.text
    (image, shown), = _seal_images(page.text)
    assert image.size == (480, 360) and shown == (120, 90)  # 4:3, listed in its own shape

    person = {"idType": "ID_CARD", "id": "11010119900307" + secrets.token_hex(2).upper()}
    reply = operator.post("/console/seals/generate", {**person, "style": "RECTANGULAR_PERSONAL", "text": "李小明"})
    assert reply.status_code == 303, reply.text
    page = operator.open(reply.headers["location"])
    assert flash_of(page) == "印章已生成。" and "个人名章" in page.text and "长方形个人章" in page.text
    (image, shown), = _seal_images(page.text)
    width, height = image.size
    assert height == 240 and width > 2.5 * height  # one row: 李小明印
    assert shown == (120, round(120 * height / width))


def _seal_images(html: str) -> list[tuple[Image.Image, tuple[int, int]]]:
    """Each listed seal's image and the size the page shows it at."""
    return [(Image.open(io.BytesIO(base64.b64decode(data))), (int(width), int(height)))
            for data, width, height in _SEAL_IMAGE.findall(html)]
