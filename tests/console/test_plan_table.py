"""uvbuild.console.plan_table: the plan readable at 80 and 120 columns and in a pipe."""

from __future__ import annotations

import io
import re

import pytest
from rich.console import Console

from tests.paths import CORPUS, FIXTURES
from uvbuild import planner
from uvbuild.console.terminal import Terminal

# -- plan at 80 and 120 columns and in a pipe ---------------------------------------------


def corpus_plans():
    plans = [pytest.param("two_indexes", id="fixture")]
    for name in ("karpathy__nanochat", "OpenPipe__ART"):
        plans.append(
            pytest.param(
                name,
                id=name,
                marks=pytest.mark.skipif(not (CORPUS / name).is_dir(), reason=f"no {name}"),
            )
        )
    return plans


def plan_of(name: str):
    path = FIXTURES / name if name == "two_indexes" else CORPUS / name
    return planner.make_plan(path, {"platform": "linux/amd64", "python": "3.11"})


def table_lines(text: str) -> list[str]:
    """The package table or list (above the sources, which a long URL may make wider)."""
    lines = text.splitlines()
    end = next(i for i, line in enumerate(lines) if line.startswith(("source: ", "heavy: ")))
    return lines[:end]


@pytest.mark.parametrize("name", corpus_plans())
@pytest.mark.parametrize("width", [80, 120, None])  # None: a pipe (COLUMNS unset: 80)
def test_plan_is_readable_at_80_and_120_columns_and_in_a_pipe(name, width, monkeypatch):
    monkeypatch.delenv("COLUMNS", raising=False)
    plan = plan_of(name)
    terminal = Terminal()
    buffer = io.StringIO()
    terminal.out = Console(file=buffer, width=width, highlight=False, soft_wrap=True)
    terminal.plan_table(plan)
    text = buffer.getvalue()
    lines = table_lines(text)
    assert all(len(line) <= (width or 80) for line in lines), max(lines, key=len)
    assert "…" not in "\n".join(lines)
    words = set(re.split(r"[\s│┃,()]+", "\n".join(lines)))
    for selected in plan.selected:
        # every name and version whole: no column cut to "so…" or "w…"
        assert selected.name in words and (selected.version or "") in words | {""}, selected.name
    if width is None:
        assert "\x1b" not in text
    if width == 120 and name == "karpathy__nanochat":  # one source: the full table fits
        assert "source" in lines[2] and "https://pypi.org/simple" in lines[4]
