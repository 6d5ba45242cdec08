"""Every message flashed on a staff page names its category (success, warning or error), so the
layout can style a success apart from an error (issue 19)."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[4] / "dispatcher"
CATEGORIES = {"success", "warning", "error"}


def _flash_calls():
    for path in sorted(ROOT.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "flash":
                yield f"{path.relative_to(ROOT.parent)}:{node.lineno}", node


def _category(call: ast.Call):
    given = call.args[1] if len(call.args) > 1 else next((k.value for k in call.keywords if k.arg == "category"), None)
    return given.value if isinstance(given, ast.Constant) else None


def test_each_flash_names_its_category():
    calls = list(_flash_calls())
    assert len(calls) > 30
    assert [where for where, call in calls if _category(call) not in CATEGORIES] == []
