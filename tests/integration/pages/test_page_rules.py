"""The signing pages' own rules, without services: page settings, intent methods offered,
forced reading, the way back to the business line, and the texts."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from core.settings import SettingsError
from gateway.pages.catalogue import CATALOGUE, language, texts
from gateway.pages.config import load_pages_config
from gateway.pages.intent_methods import mask_email, mask_mobile, offered_methods
from gateway.pages.page_config import DEFAULT_THEME, PageConfig, RedirectMode, page_config
from gateway.pages.reading import seconds_left, seconds_read
from gateway.pages.redaction import redacted
from gateway.pages.redirects import origin, outcome_url, plan

TEMPLATES = Path(__file__).resolve().parents[3] / "gateway" / "pages" / "templates"


def test_page_settings_are_sanitised():
    config = page_config({"themeColor": "#E4393C", "showReject": True, "forcedReading": True, "minReadingSeconds": 99999,
                          "successPage": "谢谢", "redirectUrl": "https://biz.example/back", "redirectMode": "DELAYED",
                          "redirectDelaySeconds": 5})
    assert config == PageConfig("e4393c", True, True, 600, "谢谢", "https://biz.example/back", RedirectMode.DELAYED, 5)
    hostile = page_config({"themeColor": "red;}body{display:none", "redirectUrl": "javascript:alert(1)",
                           "minReadingSeconds": -5, "redirectMode": "SIDEWAYS"})
    assert (hostile.theme, hostile.redirect_url, hostile.min_reading_seconds) == (DEFAULT_THEME, "", 0)
    assert hostile.redirect_mode is RedirectMode.NONE
    assert PageConfig.from_mapping(config.to_mapping()) == config


def test_embedding_origins_are_kept_only_when_well_formed():
    config = page_config({"frameAncestors": ["https://Shop.example/", "http://localhost:8000", "https://shop.example",
                                             "*", "'self'", "https://a.example/x", "https://a.example; script-src *"]})
    assert config.frame_ancestors == ("https://shop.example", "http://localhost:8000")
    assert PageConfig.from_mapping(config.to_mapping()) == config
    assert page_config({"frameAncestors": "https://shop.example"}).frame_ancestors == ()  # not a list
    assert page_config({}).frame_ancestors == ()


def test_the_links_redirect_overrides_the_apps():
    config = page_config({"redirectUrl": "https://app.example/", "redirectMode": "IMMEDIATE"}, "https://link.example/x")
    assert (config.redirect_url, config.redirect_mode) == ("https://link.example/x", RedirectMode.IMMEDIATE)
    # A link that names a return address under an app that set no mode: back after the success page.
    unset = page_config({}, "https://link.example/x")
    assert (unset.redirect_mode, unset.redirect_delay) == (RedirectMode.DELAYED, 3)



def test_the_templates_override_wins_field_by_field():
    app = {"themeColor": "#112233", "showReject": True, "minReadingSeconds": 45, "redirectUrl": "https://app.example/"}
    config = page_config(app, "", {"showReject": False, "forcedReading": True, "themeColor": "javascript:"})
    assert (config.show_reject, config.forced_reading, config.min_reading_seconds) == (False, True, 45)
    assert (config.theme, config.redirect_url) == (DEFAULT_THEME, "https://app.example/")  # sanitised after merging
    linked = page_config(app, "https://link.example/x", {"redirectUrl": "https://tpl.example/"})
    assert linked.redirect_url == "https://link.example/x"  # the link's own still wins

def test_the_outcome_travels_in_the_query():
    url = outcome_url("https://biz.example/r?from=sign&status=old#top", "ct_1", "sg_1", "SIGNED")
    assert url == "https://biz.example/r?from=sign&contractId=ct_1&signerId=sg_1&status=SIGNED#top"
    assert plan(PageConfig(redirect_url="https://b.example/", redirect_mode=RedirectMode.IMMEDIATE),
                "ct_1", "sg_1", "REJECTED").delay == 0
    stay = PageConfig(redirect_url="https://b.example/", redirect_mode=RedirectMode.NONE)
    assert plan(stay, "c", "s", "SIGNED").url == ""
    assert plan(PageConfig(redirect_mode=RedirectMode.DELAYED), "c", "s", "SIGNED").url == ""
    assert origin("https://biz.example:8443/r?x=1") == "https://biz.example:8443"


@pytest.mark.parametrize(("policy", "kind", "amounts", "mobile", "email", "offered"), [
    ({}, "PERSON", ["100"], "13800000000", "a@example.com", ("SMS", "EMAIL", "FACE")),
    ({}, "PERSON", ["100"], "", "a@example.com", ("EMAIL", "FACE")),
    ({"allowedMethods": ["SMS", "FACE"]}, "PERSON", ["1"], "13800000000", "a@example.com", ("SMS", "FACE")),
    ({"faceForOrgs": True, "allowedMethods": ["SMS", "FACE"]}, "ORG", ["1"], "13800000000", "", ("FACE",)),
    ({"faceAboveAmount": "5000", "allowedMethods": ["SMS", "FACE"]}, "PERSON", ["5000.00"], "138", "", ("SMS", "FACE")),
    ({"faceAboveAmount": "5000", "allowedMethods": ["SMS", "FACE"]}, "PERSON", ["5000.01"], "138", "", ("FACE",)),
    ({"faceAboveAmount": "5000", "allowedMethods": ["SMS", "FACE"]}, "PERSON", [""], "138", "", ("FACE",)),
    ({"requiredMethods": ["EMAIL"]}, "PERSON", ["1"], "138", "a@example.com", ("EMAIL",)),
    ({"allowedMethods": ["SMS"]}, "PERSON", ["1"], "", "a@example.com", ()),
])
def test_intent_methods_offered(policy, kind, amounts, mobile, email, offered):
    assert offered_methods(policy, kind=kind, amounts=amounts, mobile=mobile, email=email) == offered


def test_contacts_are_masked():
    assert mask_mobile("13812345678") == "138****5678"
    assert mask_email("zhang.san@example.com") == "z***@example.com"


def test_forced_reading_counts_from_the_first_showing():
    forced = PageConfig(forced_reading=True, min_reading_seconds=30)
    assert seconds_left(forced, None, 1000.0) == 30
    assert seconds_left(forced, 1000.0, 1010.2) == 20
    assert seconds_left(forced, 1000.0, 1030.0) == 0
    assert seconds_left(PageConfig(min_reading_seconds=30), 1000.0, 1000.0) == 0  # not forced
    assert seconds_read(1000.0, 1042.9) == 42 and seconds_read(None, 5.0) == 0


def test_every_text_exists_in_both_languages_and_every_key_used_exists():
    assert all(len(pair) == 2 and all(pair) for pair in CATALOGUE.values())
    used = set()
    for path in TEMPLATES.rglob("*.html"):
        used |= set(re.findall(r"t\('([a-z_.A-Z]+)'[,)]", path.read_text()))
    assert used and used <= set(CATALOGUE)
    assert texts("en")("read.wait", seconds=5) == "5 s of reading left"
    assert language("en") == "en" and language("fr", "en") == "en" and language(None) == "zh"


def test_configuration_fails_fast():
    assert load_pages_config({}).dpi == 110
    with pytest.raises(SettingsError, match="SIGN_PAGES_DPI"):
        load_pages_config({"SIGN_PAGES_DPI": "9000"})


def test_link_tokens_are_redacted_for_traces():
    token = "HJVehpTt_oNqxnMugMw1gx3vfs5h05FLJnKFy1n2Gq4"
    assert token not in redacted(f"GET /sign/{token}/intent/confirm")
    assert redacted(f"/sign/{token}").startswith("/sign/sha256:")
