"""Debian's chromium driven by Playwright, and numbered screenshots, for the browser tests."""
from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "browser"


def launch_chromium() -> Iterator:
    """A headless browser for one test module; fails (never skips) when a part is missing.

    Module scope: while Playwright's sync API is open its event loop counts as running in
    this thread, which later tests calling asyncio.run (pyHanko) would trip over."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.fail("Playwright for Python is missing: install the project's test extra (pip install -e '.[test]')")
    if not CHROMIUM.exists():
        pytest.fail(f"Debian's chromium is missing at {CHROMIUM}: run `apt-get install -y chromium` (make setup does)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


class Screens:
    """Numbered full-page screenshots of one test under ``directory``."""

    def __init__(self, test_name: str, directory: Path = ARTIFACTS):
        self.stem = re.sub(r"[^A-Za-z0-9_.-]+", "-", test_name)
        self.directory = directory
        self.count = 0
        directory.mkdir(parents=True, exist_ok=True)

    def __call__(self, page, step: str) -> Path:
        self.count += 1
        path = self.directory / f"{self.stem}-{self.count:02d}-{step}.png"
        page.screenshot(path=str(path), full_page=True)
        return path
