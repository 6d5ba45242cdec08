"""Browser tests: Playwright driving Debian's Chromium (the system browser; nothing is downloaded)
against `vnh serve` on localhost. They skip, saying why, where either is missing."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

CHROMIUM = os.environ.get("VNH_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "artifacts" / "screenshots"


def _why_not() -> str | None:
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "browser tests skipped: the playwright package is missing (scripts/bootstrap installs it)"
    if not (os.path.exists(CHROMIUM) or shutil.which(CHROMIUM)):
        return (f"browser tests skipped: no Chromium at {CHROMIUM} "
                "(as root: apt-get install -y chromium; scripts/test does this when it can)")
    if os.environ.get("VNH_TEST_DATABASE_URL"):
        return "browser tests run once, against their own SQLite file"
    return None


def pytest_collection_modifyitems(config, items):
    reason = _why_not()
    if reason:
        for item in items:
            if item.get_closest_marker("browser"):
                item.add_marker(pytest.mark.skip(reason=reason))


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield browser
        browser.close()


@pytest.fixture
def shoot():
    """Save a screenshot of a page under artifacts/screenshots/NAME.png."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)

    def save(page, name: str) -> None:
        page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)

    return save
