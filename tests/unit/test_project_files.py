"""The README's promises about the project's own files."""

from __future__ import annotations

import configparser
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _declared() -> set[str]:
    config = configparser.ConfigParser()
    config.read(ROOT / "setup.cfg", encoding="utf-8")
    lines = config["options"]["install_requires"].split() + config["options.extras_require"]["test"].split()
    return {re.split(r"[<>=!~;]", line, maxsplit=1)[0] for line in lines if line and line[0].isalpha()}


def _in_readme() -> set[str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    table = text.split("## Dependencies and what each is for", 1)[1].split("\n## ", 1)[0]
    names = set()
    for row in table.splitlines():
        if row.startswith("| `"):
            names |= set(re.findall(r"`([^`]+)`", row.split("|")[1].split("(extra")[0]))
    return names


def test_the_readme_names_every_declared_dependency_and_no_other():
    assert _in_readme() == _declared()


def test_the_browser_tests_read_axe_core_where_bootstrap_installs_it_and_git_ignores_it():
    bootstrap = (ROOT / "scripts" / "bootstrap").read_text(encoding="utf-8")
    version = re.search(r"^AXE_VERSION=(\d+\.\d+\.\d+)$", bootstrap, flags=re.M).group(1)
    assert '"axe-core@$AXE_VERSION"' in bootstrap and "npm install --prefix .cache/axe" in bootstrap
    conftest = (ROOT / "tests" / "browser" / "conftest.py").read_text(encoding="utf-8")
    assert '".cache" / "axe" / "node_modules" / "axe-core" / "axe.min.js"' in conftest
    assert ".cache/" in (ROOT / ".gitignore").read_text(encoding="utf-8").splitlines()
    assert version.startswith("4.")
