"""Browser tests: Playwright driving Debian's Chromium (the system browser; nothing is downloaded)
against `vnh serve` on localhost. They skip, saying why, where either is missing.

Where they run, axe-core (installed from the npm registry into .cache/axe by `scripts/bootstrap
--browser`, or VNH_AXE_JS) checks pages for accessibility; missing, the tests fail, saying how to get it."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

CHROMIUM = os.environ.get("VNH_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "artifacts" / "screenshots"
AXE_JS = Path(os.environ.get("VNH_AXE_JS") or ROOT / ".cache" / "axe" / "node_modules" / "axe-core" / "axe.min.js")
# The impacts that fail a page: axe's "serious" and "critical" (not "moderate" or "minor").
FAILING_IMPACTS = ("serious", "critical")
# And these moderate ones, about a page's outline: one main landmark, content inside landmarks, an h1.
FAILING_RULES = ("landmark-one-main", "region", "page-has-heading-one", "landmark-no-duplicate-main",
                 "landmark-no-duplicate-banner")
_saved: list[Path] = []


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
def shoot(axe_source):
    """Save a screenshot of a page under artifacts/screenshots/NAME.png, and check the screen with
    axe-core (`check=False` for a screen caught mid-change)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)

    def save(page, name: str, check: bool = True) -> None:
        path = SCREENSHOTS / f"{name}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(path), full_page=True)
        _saved.append(path)
        if check:
            problems = axe_problems(page, axe_source)
            assert not problems, (f"{len(problems)} accessibility problems on screen {name} ({page.url}):\n  "
                                  + "\n  ".join(problems))

    return save


def pytest_terminal_summary(terminalreporter):
    if _saved:
        terminalreporter.write_line(f"browser tests: {len(_saved)} screenshots in {SCREENSHOTS}")


@pytest.fixture(scope="session")
def axe_source() -> str:
    """axe-core's script; a clear failure (not a skip) when it is missing where Chromium is present."""
    if not AXE_JS.is_file():
        pytest.fail(f"axe-core is missing: no {AXE_JS}. Install it with `scripts/bootstrap --browser` "
                    "(npm install --prefix .cache/axe axe-core@4 from the npm registry), or point VNH_AXE_JS "
                    "at an axe.min.js.", pytrace=False)
    return AXE_JS.read_text(encoding="utf-8")


def axe_problems(page, source: str) -> list[str]:
    """Run axe-core in the page; its serious and critical violations (and the outline rules of
    FAILING_RULES), one readable line each, then what axe leaves to us: exactly one h1, and the
    <header> and <main> landmarks.

    Injected through the DevTools protocol (page.evaluate), which the pages' Content-Security-Policy
    does not govern, so the pages are checked with their real policy in force.
    """
    if not page.evaluate("typeof window.axe === 'object'"):
        page.evaluate(source)
    result = page.evaluate("""async () => {
        const found = await axe.run(document, {resultTypes: ["violations"]});
        return found.violations.map(v => ({id: v.id, impact: v.impact, help: v.help, url: v.helpUrl,
            nodes: v.nodes.map(n => ({target: n.target.join(" "), html: n.html}))}));
    }""")
    lines = []
    for v in result:
        if v["impact"] not in FAILING_IMPACTS and v["id"] not in FAILING_RULES:
            continue
        where = "; ".join(f"{n['target']} {n['html'][:100]}" for n in v["nodes"][:3])
        more = f" (+{len(v['nodes']) - 3} more)" if len(v["nodes"]) > 3 else ""
        lines.append(f"{v['impact']} {v['id']}: {v['help']} — {where}{more} [{v['url']}]")
    outline = page.evaluate("""() => ({h1: [...document.querySelectorAll("h1")].map(h => h.innerText),
        header: document.querySelectorAll("header, [role=banner]").length,
        main: document.querySelectorAll("main, [role=main]").length})""")
    if len(outline["h1"]) != 1:
        lines.append(f"outline: {len(outline['h1'])} h1 elements, not exactly one: {outline['h1']}")
    if not outline["header"] or outline["main"] != 1:
        lines.append(f"outline: landmarks <header> ×{outline['header']} and <main> ×{outline['main']} "
                     "(want a header and exactly one main)")
    return lines


class Axe:
    """`axe(page)` asserts axe-core finds no serious or critical violation on the page;
    `axe.problems(page)` lists them (to gather several pages' before asserting)."""

    def __init__(self, source: str):
        self.source = source

    def problems(self, page) -> list[str]:
        return axe_problems(page, self.source)

    def __call__(self, page, where: str = "") -> None:
        problems = self.problems(page)
        assert not problems, (f"axe-core: {len(problems)} serious/critical accessibility violations on "
                              f"{where or page.url}:\n  " + "\n  ".join(problems))


@pytest.fixture
def axe(axe_source) -> Axe:
    return Axe(axe_source)
