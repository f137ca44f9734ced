"""``uvbuild build`` on a real terminal (a tmux pane, read back with capture-pane):
``--progress auto`` gives BuildKit's compact TTY view for the base and the app builds,
and uvbuild's own lines (steps, the layer summary, the error line) stay intact around it.
The same builds in a pipe stay plain (tests/integration/test_build.py)."""

from __future__ import annotations

import re
import sys

from tests.integration.helpers import plan_tag, tool_uvbuild, unique_repo
from tests.integration.uvrun import REPO
from tests.tmux import need_tmux, run_in_tmux

WIDTH = 100


def uvbuild_in_tmux(*args: str) -> tuple[int, str]:
    return run_in_tmux(
        [sys.executable, "-m", "uvbuild", "build", "--network", "host", *args],
        width=WIDTH,
        height=50,
        cwd=str(REPO),
        timeout=900,
    )


def test_build_on_a_terminal_shows_buildkits_view_and_uvbuilds_summary(
    synth_project, base_images, image_cleanup, tmp_path
) -> None:
    need_tmux()
    project = synth_project(tool_uvbuild=tool_uvbuild(base_images, unique_repo("tty")))
    base_tag = image_cleanup.add(plan_tag(project.path))
    tag = image_cleanup.tag("tty")

    code, screen = uvbuild_in_tmux("-t", tag, str(project.path))

    assert code == 0, screen
    lines = screen.splitlines()
    # BuildKit's TTY view, twice (base, then app): "[+] Building 1.2s (9/9) FINISHED"
    assert len(re.findall(r"^\[\+\] Building [\d.]+s \(\d+/\d+\) FINISHED", screen, re.M)) == 2
    assert any(line.startswith(" => [uvbuild-app 2/2] RUN ") for line in lines), screen
    # ... and not the plain progress of a pipe ("#5 [uvbuild-app 2/2] RUN ...")
    assert not re.search(r"^#\d+ \[", screen, re.M), screen
    # uvbuild's own lines around it, whole
    assert f"==> building base {base_tag}: " in screen
    assert "==> building the app on the base" in screen
    assert re.search(rf"^base {re.escape(base_tag)}: built in [\d.]+ s$", screen, re.M), screen
    assert re.search(r"^app: [\d.]+ s; new layers .+, shared with base .+$", screen, re.M)
    assert lines[-1] == tag or tag in lines[-3:], lines[-3:]
    # the layer summary names layers by what they hold
    for name in ("base image", "│ uv ", "│ venv ", "deps: ", "app: synthapp"):
        assert name in screen, (name, screen)
    assert "SOURCE_DATE_EPOCH" not in screen.split("image layers", 1)[1]

    # A failing step on a terminal: BuildKit shows it, uvbuild's one error line names it.
    (project.path / "Dockerfile").write_text("FROM uvbuild-base\nWORKDIR /app\nRUN false\n")
    failed = image_cleanup.tag("tty-fails")
    code, screen = uvbuild_in_tmux("-t", failed, str(project.path))
    assert code == 5, screen
    errors = [line for line in screen.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, screen
    assert "the app build failed" in errors[0] and "RUN false" in errors[0], errors
    assert "\x1b" not in errors[0]
