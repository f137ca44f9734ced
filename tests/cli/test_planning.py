"""uvbuild.cli.planning: a plan whose packages uv could not install on the target stops build,
bake and dockerfile before Docker, and is a note of ``plan``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.cli.projects import corpus_dir, no_engine
from tests.clirun import assert_one_error_line, run_main
from tests.paths import FIXTURES
from uvbuild import cli, planner


def _openpi() -> Path:
    path = corpus_dir() / "Physical-Intelligence__openpi"
    if not (path / "uv.lock").is_file():
        pytest.skip(f"no Physical-Intelligence__openpi in the corpus at {corpus_dir()}")
    return path


@pytest.mark.parametrize(
    "command", [["dockerfile"], ["build", "--dry-run"], ["build"], ["bake", "-o", "{tmp}/b.json"]]
)
def test_no_wheel_for_the_target_stops_before_docker(capsys, tmp_path, command):
    """rerun-sdk ships only manylinux_2_31 wheels and no sdist: at the default glibc 2.28,
    build, bake and dockerfile stop with exit 2 before any docker command."""
    args = [part.replace("{tmp}", str(tmp_path)) for part in command]
    args += ["--platform", "linux/amd64", str(_openpi())]
    with pytest.raises(SystemExit) as info:
        cli.main(args, engine_factory=no_engine)
    got = info.value.code
    out, err = capsys.readouterr()
    assert got == 2, err
    assert_one_error_line(
        out, err, "rerun-sdk", "linux/amd64", "CPython 3.11", "glibc 2.28", "--glibc 2.31"
    )
    assert not (tmp_path / "b.json").exists()


def test_no_wheel_for_the_target_is_a_plan_note(capsys):
    got, out, err = run_main(capsys, "plan", "--json", "--platform", "linux/amd64", str(_openpi()))
    assert got == 0, err
    notes = json.loads(out)["notes"]
    assert any("rerun-sdk" in note and "--glibc 2.31" in note for note in notes)
    got, out, err = run_main(
        capsys, "dockerfile", "--platform", "linux/amd64", "--glibc", "2.31", str(_openpi())
    )
    assert got == 0, err


def test_check_installable_is_silent_when_everything_installs():
    plan = planner.make_plan(FIXTURES / "two_indexes", {"platform": "linux/amd64"})
    assert plan.unavailable == ()
    planner.check_installable(plan)
