"""The house rule of issue 10, checked like the import contracts: no module of the package
over 450 lines, no function over 60 (from its ``def`` to the end of its body)."""

from __future__ import annotations

import ast

import pytest

from tests.paths import REPO

PACKAGE = REPO / "uvbuild"
MODULES = sorted(PACKAGE.rglob("*.py"))
MODULE_LIMIT = 450
FUNCTION_LIMIT = 60


def _name(path) -> str:
    return str(path.relative_to(REPO))


@pytest.mark.parametrize("path", MODULES, ids=_name)
def test_module_and_its_functions_stay_small(path):
    text = path.read_text(encoding="utf-8")
    assert text.count("\n") <= MODULE_LIMIT, f"{_name(path)}: split it by what it does"
    long = [
        f"{node.name} ({node.end_lineno - node.lineno + 1} lines, line {node.lineno})"
        for node in ast.walk(ast.parse(text))
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
        and node.end_lineno - node.lineno + 1 > FUNCTION_LIMIT
    ]
    assert not long, f"{_name(path)}: {', '.join(long)}"


def test_the_package_is_found():
    assert len(MODULES) > 50
