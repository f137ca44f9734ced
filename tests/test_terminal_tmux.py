"""What a user's 80-column terminal shows of ``uvbuild plan`` (tmux capture-pane): whole
names, versions and sizes, no column cut to one character or an ellipsis."""

from __future__ import annotations

import re
import sys

from tests.paths import REPO
from tests.tmux import run_in_tmux
from uvbuild import planner

PROJECT = REPO / "tests" / "fixtures" / "two_indexes"
ARGS = ("--platform", "linux/amd64", "--python", "3.11")


def test_plan_in_an_80_column_terminal():
    code, screen = run_in_tmux(
        [sys.executable, "-m", "uvbuild", "plan", str(PROJECT), *ARGS], width=80, cwd=str(REPO)
    )
    assert code == 0, screen
    lines = screen.splitlines()
    table = lines[: next(i for i, line in enumerate(lines) if line.startswith("heavy: "))]
    assert table and all(len(line) <= 80 for line in table), screen
    assert "…" not in screen
    words = set(re.split(r"[\s│┃,()]+", screen))
    plan = planner.make_plan(PROJECT, {"platform": "linux/amd64", "python": "3.11"})
    for selected in plan.selected:
        assert selected.name in words and selected.version in words, (selected.name, screen)
    # no column narrowed to one character and an ellipsis ("so…", "w…")
    assert not re.search(r"(?:^|\s)\S?…", screen)
