"""Every text the pages use exists in both languages, and nothing is hard-coded in templates."""
from __future__ import annotations

import re
from pathlib import Path

from gateway.console.catalogue import EN, ZH
from gateway.console.pages import TEMPLATES

CONSOLE = Path(__file__).resolve().parents[3] / "gateway" / "console"
_KEY = re.compile(r"""\bt\(\s*["']([a-z_]+\.[a-z_.]+)["']""")
_CJK = re.compile(r"[\u4e00-\u9fff]")


def _sources() -> list[Path]:
    return sorted((TEMPLATES / "console").glob("*.html")) + sorted(CONSOLE.glob("*_pages.py")) + [CONSOLE / "pipeline.py"]


def test_both_languages_have_the_same_keys():
    assert set(ZH) == set(EN)


def test_every_key_the_console_uses_is_in_the_catalogue():
    used = {key for path in _sources() for key in _KEY.findall(path.read_text())}
    assert used, "no keys found: the pattern is wrong"
    assert sorted(used - set(ZH)) == []


def test_templates_hold_no_chinese_text_of_their_own():
    # The language buttons name themselves in their own language, by design.
    for path in (TEMPLATES / "console").glob("*.html"):
        text = path.read_text().replace(">中文<", "><")
        assert not _CJK.search(text), path.name


def test_placeholders_match_between_languages():
    fields = re.compile(r"\{(\w+)\}")
    for key in ZH:
        assert set(fields.findall(ZH[key])) == set(fields.findall(EN[key])), key
