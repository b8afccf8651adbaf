"""Seals through REST: generated and uploaded images are transparent PNGs, listed per subject."""
import base64
import hashlib
import io
import secrets

import pytest
from PIL import Image, ImageDraw

COMPANY = {"idType": "USCC", "id": "91440300MA5FXXXX1K"}


def _png(body: dict) -> Image.Image:
    image = Image.open(io.BytesIO(base64.b64decode(body["image"])))
    assert image.format == "PNG"
    return image


def _transparent_corners(image: Image.Image) -> bool:
    w, h = image.size
    return all(image.getpixel(xy)[3] == 0 for xy in ((0, 0), (w - 1, 0), (0, h - 1), (w - 1, h - 1)))


def _violations(reply) -> list[str]:
    assert reply.status_code == 400, reply.text
    details = [d for d in reply.json()["details"] if d["@type"].endswith("google.rpc.BadRequest")]
    return [v["field"] for d in details for v in d["fieldViolations"]]


@pytest.fixture(scope="module")
def company_seal(client) -> dict:
    reply = client.post("/v1/seals:generate", {
        "subject": COMPANY, "style": "ROUND_COMPANY", "text": "深圳某某贸易有限公司",
        "horizontalText": "合同专用章", "sealCode": "4403000012345"})
    assert reply.status_code == 200, reply.text
    return reply.json()


def test_generated_company_seal_is_a_red_transparent_png(company_seal):
    image = _png(company_seal)
    assert image.mode == "RGBA" and image.size[0] == image.size[1]
    assert _transparent_corners(image)
    w, h = image.size
    ring = image.getpixel((w // 2, round(h * 0.035)))  # on the ring at 12 o'clock
    assert ring[3] > 200 and ring[0] > 180 and ring[1] < 90 and ring[2] < 90
    assert company_seal["style"] == "ROUND_COMPANY" and company_seal["source"] == "GENERATED"
    assert company_seal["name"] == "合同专用章" and company_seal["sealId"].startswith("seal_")
    assert company_seal["subject"] == COMPANY and company_seal["isDefault"] is True
    assert company_seal["imageSha256"] == hashlib.sha256(base64.b64decode(company_seal["image"])).hexdigest()


def test_generated_personal_seal(client):
    reply = client.post("/v1/seals:generate", {"subject": {"idType": "USER_ID", "id": "u-1001"},
                                               "style": "SQUARE_PERSONAL", "text": "李小明"})
    assert reply.status_code == 200, reply.text
    body = reply.json()
    image = _png(body)
    assert image.mode == "RGBA" and _transparent_corners(image)
    assert body["style"] == "SQUARE_PERSONAL" and body["name"] == "个人名章"


def _scan(fmt: str) -> bytes:
    """A photographed seal: red ink on white paper, as a scanner or phone delivers it."""
    paper = Image.new("RGB", (300, 300), "white")
    draw = ImageDraw.Draw(paper)
    draw.ellipse((30, 30, 270, 270), outline=(200, 20, 20), width=14)
    draw.rectangle((120, 120, 180, 180), fill=(200, 20, 20))
    buf = io.BytesIO()
    paper.save(buf, format=fmt)
    return buf.getvalue()


@pytest.mark.parametrize("fmt", ["PNG", "JPEG"])
def test_uploaded_seal_loses_its_white_background(client, company_seal, fmt):
    reply = client.post("/v1/seals", {"subject": COMPANY, "name": "财务专用章",
                                      "image": base64.b64encode(_scan(fmt)).decode()})
    assert reply.status_code == 200, reply.text
    body = reply.json()
    image = _png(body)
    assert image.mode == "RGBA" and _transparent_corners(image)
    w, h = image.size
    assert image.getpixel((w // 2, h // 2))[3] == 255  # the ink stays opaque
    assert body["source"] == "UPLOADED" and body["name"] == "财务专用章"
    assert body["isDefault"] is False  # the generated seal came first


def test_list_is_newest_first_and_pages(client, company_seal):
    path = f"/v1/seals?subject.idType={COMPANY['idType']}&subject.id={COMPANY['id']}"
    everything = client.get(path).json()["seals"]
    assert len(everything) >= 3 and everything[-1]["sealId"] == company_seal["sealId"]
    times = [s["createTime"] for s in everything]
    assert times == sorted(times, reverse=True)
    first = client.get(path + "&pageSize=1").json()
    assert [s["sealId"] for s in first["seals"]] == [everything[0]["sealId"]] and first["nextPageToken"]
    second = client.get(path + f"&pageSize=1&pageToken={first['nextPageToken']}").json()
    assert [s["sealId"] for s in second["seals"]] == [everything[1]["sealId"]]
    assert client.get("/v1/seals?subject.idType=USCC&subject.id=91110000000000000X").json().get("seals", []) == []


def test_upload_that_is_not_an_image_is_400(client):
    reply = client.post("/v1/seals", {"subject": COMPANY, "image": base64.b64encode(b"GIF89a....").decode()})
    assert _violations(reply) == ["image"]
    assert "PNG or JPEG" in reply.json()["message"]


def test_upload_beyond_the_pixel_limit_is_refused_before_decoding(client):
    huge = Image.new("RGB", (5000, 4000), "white")
    buf = io.BytesIO()
    huge.save(buf, format="PNG", optimize=True)
    reply = client.post("/v1/seals", {"subject": COMPANY, "image": base64.b64encode(buf.getvalue()).decode()})
    assert _violations(reply) == ["image"] and "exceeds the limit" in reply.json()["message"]


def test_missing_subject_is_400(client):
    assert _violations(client.post("/v1/seals:generate", {"style": "ROUND_COMPANY", "text": "x"})) == ["subject"]
    assert _violations(client.get("/v1/seals")) == ["subject"]


# ------------------------------------------------- the business line's seal styles


@pytest.fixture
def business_line(mesh, apps):
    """A fresh app that manages its own settings and seals."""
    from tests.support.signed import AppClients

    clients = AppClients(mesh.base_url, apps)
    yield clients.new("seal-styles", ["seal:read", "seal:write", "app:self"])
    clients.close()


def _generate(app, subject: dict, text: str, **extra) -> dict:
    reply = app.post("/v1/seals:generate", {"subject": subject, "text": text, **extra})
    assert reply.status_code == 200, reply.text
    return reply.json()


def _ink_box(image: Image.Image) -> tuple[int, int]:
    """Width and height of what is drawn (alpha above a trace)."""
    left, top, right, bottom = image.getchannel("A").point(lambda a: 255 if a > 8 else 0).getbbox()
    return right - left, bottom - top


def test_without_a_style_the_platform_draws_round_and_square_seals(business_line):
    company = _generate(business_line, {"idType": "USCC", "id": "91440300MA5FSTY01A"}, "深圳某某贸易有限公司")
    person = _generate(business_line, {"idType": "ID_CARD", "id": "110101199003071234"}, "李小明")
    assert company["style"] == "ROUND_COMPANY" and person["style"] == "SQUARE_PERSONAL"
    width, height = _ink_box(_png(company))
    assert abs(width - height) <= 2  # a circle
    width, height = _ink_box(_png(person))
    assert abs(width - height) <= 2  # a square


def test_the_business_lines_styles_change_the_generated_seals(business_line):
    reply = business_line.request("PATCH", "/v1/apps/self", {
        "sealStyles": {"company": "OVAL_COMPANY", "personal": "RECTANGULAR_PERSONAL"}})
    assert reply.status_code == 200, reply.text
    assert reply.json()["sealStyles"] == {"company": "OVAL_COMPANY", "personal": "RECTANGULAR_PERSONAL"}
    assert business_line.get("/v1/apps/self").json()["sealStyles"]["company"] == "OVAL_COMPANY"

    company = _generate(business_line, {"idType": "USCC", "id": "91440300MA5FSTY02B"}, "深圳某某贸易有限公司",
                        horizontalText="发票专用章", sealCode="91440300MA5FSTY02B")
    assert company["style"] == "OVAL_COMPANY" and company["name"] == "发票专用章"
    image = _png(company)
    assert image.mode == "RGBA" and _transparent_corners(image)
    width, height = _ink_box(image)
    assert 1.25 < width / height < 1.4  # an oval of 4:3, no longer a circle
    w, h = image.size
    assert image.getpixel((w // 2, h // 2 - round(h * 0.08)))[3] == 0  # no star in the middle

    person = _generate(business_line, {"idType": "ID_CARD", "id": "110101199003075678"}, "李小明")
    assert person["style"] == "RECTANGULAR_PERSONAL" and person["name"] == "个人名章"
    width, height = _ink_box(_png(person))
    assert width > 2.5 * height  # one row of four characters (李小明印), not a 2x2 square

    # A named style still wins over the business line's default.
    explicit = _generate(business_line, {"idType": "USCC", "id": "91440300MA5FSTY02B"}, "深圳某某贸易有限公司",
                         style="ROUND_COMPANY")
    width, height = _ink_box(_png(explicit))
    assert explicit["style"] == "ROUND_COMPANY" and abs(width - height) <= 2


def test_a_style_of_the_wrong_kind_is_refused(business_line):
    reply = business_line.request("PATCH", "/v1/apps/self", {"sealStyles": {"company": "SQUARE_PERSONAL"}})
    assert reply.status_code == 400, reply.text
    assert "seal_styles.company must be one of ROUND_COMPANY, OVAL_COMPANY" in reply.json()["message"]
    assert business_line.get("/v1/apps/self").json().get("sealStyles", {}) == {}


def test_reading_seals_needs_the_scope(mesh, apps):
    from tests.support.signed import SignedClient

    limited = apps.create("no-seals", ["template:read"])
    reply = SignedClient(mesh.base_url, limited.app.app_id, limited.secret).get(
        f"/v1/seals?subject.idType=USCC&subject.id={COMPANY['id']}")
    assert reply.status_code == 403 and "seal:read" in reply.json()["message"]


# ------------------------------------------------- seals are the business line's own


@pytest.fixture
def two_lines(mesh, apps):
    """Two business lines with seal scopes, signing for the same subjects."""
    from tests.support.signed import AppClients

    clients = AppClients(mesh.base_url, apps)
    yield (clients.new("seals-a", ["seal:read", "seal:write", "app:self"]),
           clients.new("seals-b", ["seal:read", "seal:write", "app:self"]))
    clients.close()


def _listed(app, subject: dict) -> dict[str, bool]:
    """Seal id → isDefault, as ``app`` lists the subject's seals."""
    reply = app.get(f"/v1/seals?subject.idType={subject['idType']}&subject.id={subject['id']}")
    assert reply.status_code == 200, reply.text
    return {s["sealId"]: s["isDefault"] for s in reply.json().get("seals", [])}


def test_an_app_lists_its_own_seals_not_another_apps(two_lines):
    line_a, line_b = two_lines
    subject = {"idType": "USCC", "id": "91440300MA5FSCOP1C"}
    uploaded = line_a.post("/v1/seals", {"subject": subject, "name": "财务专用章",
                                         "image": base64.b64encode(_scan("PNG")).decode()})
    assert uploaded.status_code == 200, uploaded.text
    a_seal = uploaded.json()
    assert a_seal["isDefault"] is True  # the app's first seal of the subject
    b_seal = _generate(line_b, subject, "深圳某某贸易有限公司", style="ROUND_COMPANY")
    assert b_seal["isDefault"] is True  # B's first one: A's upload is not B's default
    b_second = _generate(line_b, subject, "深圳某某贸易有限公司", style="OVAL_COMPANY")
    assert b_second["isDefault"] is False

    assert _listed(line_a, subject) == {a_seal["sealId"]: True}
    assert _listed(line_b, subject) == {b_second["sealId"]: False, b_seal["sealId"]: True}


def test_the_default_seal_at_signing_is_the_signing_apps(mesh, apps, two_lines, signing_rpc, contract):
    import json

    from services.signing.store import EvidenceStore
    from tests.integration.signing import service

    line_a, line_b = two_lines
    subject = {"idType": "ID_CARD", "id": "110101199003079876"}
    a_seal = line_a.post("/v1/seals", {"subject": subject, "name": "手写章",
                                       "image": base64.b64encode(_scan("PNG")).decode()}).json()
    line_ids = {}
    for name, line in (("a", line_a), ("b", line_b)):
        line_ids[name] = line.get("/v1/apps/self").json()["appId"]

    def sign(line: str) -> str:
        """Sign for the subject as a signer of ``line`` without naming a seal; the seal used."""
        contract_id = f"ct_scoped_{line}_{secrets.token_hex(3)}"
        signer = service.person_signer(f"sg_scoped_{line}")
        signer.subject.id = subject["id"]
        claims = service.claims(contract_id, contract, signer_id=signer.signer_id, token_id="tok_" + contract_id)
        claims.app_id = line_ids[line]
        signing_rpc.SignDocument(service.sign_request(contract, signer, contract_id, claims,
                                                      [service.point(1, 300, 400)]))
        (record,) = EvidenceStore(mesh.contexts["signing"].sessions).for_contract(contract_id)
        return json.loads(record.record_json)["appearance"]["sealId"]

    assert sign("a") == a_seal["sealId"]  # A's upload is A's default
    used_by_b = sign("b")  # B has no seal of the subject: the platform generates one
    assert used_by_b != a_seal["sealId"]
    assert _listed(line_b, subject) == {used_by_b: True}  # B sees the platform seal, not A's upload
    assert _listed(line_a, subject) == {a_seal["sealId"]: True, used_by_b: False}
    assert sign("b") == used_by_b  # and keeps using it
