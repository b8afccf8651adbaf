"""The language of a page (a cookie, Chinese by default) and its texts from the catalogue."""
from __future__ import annotations

from gateway.console.catalogue import MESSAGES

LANGUAGES = ("zh", "en")
DEFAULT = "zh"
COOKIE = "ec_console_lang"
HTML_LANG = {"zh": "zh-CN", "en": "en"}


def language_of(cookies) -> str:
    lang = cookies.get(COOKIE, "")
    return lang if lang in LANGUAGES else DEFAULT


class Translator:
    """``t("key", name=...)``: the text of ``key`` in the page's language, formatted."""

    def __init__(self, lang: str):
        self.lang = lang
        self._texts = MESSAGES[lang]

    def __call__(self, key: str, **params) -> str:
        text = self._texts.get(key)
        if text is None:
            text = MESSAGES[DEFAULT].get(key, key)
        return text.format(**params) if params else text

    def has(self, key: str) -> bool:
        return key in self._texts

    def enum(self, kind: str, value: str) -> str:
        """A status or kind as people read it; unknown values show as they are."""
        return self._texts.get(f"enum.{kind}.{value}", value)

    @property
    def html_lang(self) -> str:
        return HTML_LANG[self.lang]
