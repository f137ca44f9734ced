"""uvbuild.cli: one error line and the documented exit code per bad input; the commands' output.

Most cases call ``uvbuild.cli.main([...])`` in-process; a few run ``python -m uvbuild`` in a
subprocess, the most faithful check that no traceback reaches the user. ``uv lock --check``
is replaced by a stub in-process so the tests stay fast and offline.
"""

from __future__ import annotations

import inspect
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.clirun import (
    DEAD_SOCKET,
    PLAN_ARGS,
    assert_one_error_line,
    fake_lock_check,
    run_main,
    run_process,
)
from tests.fakes import FakeEngine, fake_digest
from tests.paths import FIXTURES, REPO
from uvbuild import cli, planner
from uvbuild.cli import commands, options
from uvbuild.core import render
from uvbuild.core.config import SETTINGS
from uvbuild.errors import ConfigError, LockError
from uvbuild.uvcheck import LockCheck


@pytest.fixture(autouse=True)
def _hermetic(monkeypatch):
    fake_lock_check(monkeypatch)
    monkeypatch.setenv("NO_COLOR", "1")


# -- projects with one defect each ------------------------------------------------------------


def _project(tmp_path: Path) -> Path:
    target = tmp_path / "proj"
    shutil.copytree(FIXTURES / "empty_extra", target)
    return target


def _append_config(project: Path, text: str) -> None:
    with (project / "pyproject.toml").open("a", encoding="utf-8") as fh:
        fh.write(f"\n[tool.uvbuild]\n{text}\n")


def no_lock(p: Path) -> None:
    (p / "uv.lock").unlink()


def empty_lock(p: Path) -> None:
    (p / "uv.lock").write_text("")


def malformed_lock(p: Path) -> None:
    (p / "uv.lock").write_text("version = 1\n[[package]\nname = 'x'\n")


def too_new_lock(p: Path) -> None:
    (p / "uv.lock").write_text('version = 2\nrevision = 1\nrequires-python = ">=3.10"\n')


def malformed_pyproject(p: Path) -> None:
    (p / "pyproject.toml").write_text("[project\nname = 'proj'\n")


def no_pyproject(p: Path) -> None:
    (p / "pyproject.toml").unlink()


def config(text: str):
    def setup(p: Path) -> None:
        _append_config(p, text)

    setup.__name__ = f"config({text})"
    return setup


def nothing(_p: Path) -> None:
    pass


# (id, setup, extra args, exit code, substrings of the error line)
BAD_INPUTS = [
    ("missing-lock", no_lock, [], 3, ["uv.lock", "not found", "`uv lock`"]),
    ("empty-lock", empty_lock, [], 3, ["uv.lock", "empty", "`uv lock`"]),
    ("malformed-lock", malformed_lock, [], 3, ["uv.lock", "not valid TOML", "fix the file"]),
    ("too-new-lock", too_new_lock, [], 3, ["uv.lock", "version 2", "upgrade uvbuild"]),
    ("malformed-pyproject", malformed_pyproject, [], 2, ["pyproject.toml", "not valid TOML"]),
    ("missing-pyproject", no_pyproject, [], 2, ["pyproject.toml", "not found", "pass its path"]),
    ("unknown-extra", nothing, ["--extra", "nope"], 2, ["--extra nope", "it has: e, f"]),
    ("unknown-group", nothing, ["--group", "nope"], 2, ["--group nope", "it has:"]),
    ("unknown-only-group", nothing, ["--only-group", "nope"], 2, ["--only-group nope"]),
    ("unknown-no-group", nothing, ["--no-group", "nope"], 2, ["--no-group nope", "it has: dev, g"]),
    ("unknown-no-extra", nothing, ["--no-extra", "nope"], 2, ["--no-extra nope", "it has: e, f"]),
    (
        "extra-with-all-extras",
        nothing,
        ["--extra", "e", "--all-extras"],
        2,
        ["--extra and --all-extras cannot be used together"],
    ),
    (
        "group-with-only-group",
        nothing,
        ["--group", "g", "--only-group", "g"],
        2,
        ["--group and --only-group cannot be used together"],
    ),
    (
        "only-dev-with-all-groups",
        nothing,
        ["--only-dev", "--all-groups"],
        2,
        ["--all-groups and --only-dev"],
    ),
    (
        "package-with-all-packages",
        nothing,
        ["--package", "proj", "--all-packages"],
        2,
        ["--package and --all-packages"],
    ),
    (
        "key-with-flag",
        config('only-groups = ["g"]'),
        ["--group", "g"],
        2,
        ["--group and --only-group", "[tool.uvbuild]"],
    ),
    (
        "project-not-in-lock",
        lambda p: (p / "pyproject.toml").write_text(
            (p / "pyproject.toml").read_text().replace('name = "proj"', 'name = "renamed"')
        ),
        [],
        3,
        ["uv.lock: the project 'renamed'", "run `uv lock`"],
    ),
    ("bad-platform", nothing, ["--platform", "windows/amd64"], 2, ["--platform", "linux/amd64"]),
    ("bad-platform-arch", nothing, ["--platform", "linux/s390x"], 2, ["--platform"]),
    ("bad-python-flag", nothing, ["--python", "three"], 2, ["--python", "3.11"]),
    ("bad-threshold-flag", nothing, ["--heavy-threshold", "big"], 2, ["--heavy-threshold"]),
    ("bad-min-size-flag", nothing, ["--heavy-min-size", "small"], 2, ["--heavy-min-size"]),
    ("unknown-key", config("colour = true"), [], 2, ["tool.uvbuild.colour", "heavy-threshold"]),
    (
        "heavy-threshold-type",
        config("heavy-threshold = true"),
        [],
        2,
        ["tool.uvbuild.heavy-threshold", "50MB"],
    ),
    (
        "heavy-threshold-value",
        config('heavy-threshold = "huge"'),
        [],
        2,
        ["tool.uvbuild.heavy-threshold"],
    ),
    ("heavy-type", config('heavy = "torch"'), [], 2, ["tool.uvbuild.heavy", "array"]),
    ("no-dev-type", config('no-dev = "yes"'), [], 2, ["tool.uvbuild.no-dev", "true or false"]),
    ("venv-type", config('venv = "venv"'), [], 2, ["tool.uvbuild.venv", "absolute path"]),
    ("venv-number", config("venv = 3"), [], 2, ["tool.uvbuild.venv"]),
    ("base-repo-type", config('base-repo = "My Repo"'), [], 2, ["tool.uvbuild.base-repo"]),
    ("base-repo-number", config("base-repo = 1"), [], 2, ["tool.uvbuild.base-repo"]),
    ("python-float", config("python = 3.10"), [], 2, ["tool.uvbuild.python", '"3.11"']),
    ("uvbuild-not-a-table", lambda p: _append_toml(p, 'tool.uvbuild = "x"'), [], 2, ["tool"]),
]


def _append_toml(project: Path, text: str) -> None:
    # A dotted key at top level: `tool.uvbuild = "x"` must come before any table header.
    path = project / "pyproject.toml"
    path.write_text(f"{text}\n{path.read_text()}")


@pytest.mark.parametrize(
    ("setup", "args", "code", "needles"),
    [pytest.param(*case[1:], id=case[0]) for case in BAD_INPUTS],
)
def test_plan_bad_input(tmp_path, capsys, setup, args, code, needles):
    project = _project(tmp_path)
    setup(project)
    got, out, err = run_main(capsys, "plan", str(project), *args)
    assert got == code, err
    assert_one_error_line(out, err, *needles)


@pytest.mark.parametrize("command", ["dockerfile", "build"])
@pytest.mark.parametrize(
    ("setup", "args", "code"),
    [
        pytest.param(no_lock, [], 3, id="missing-lock"),
        pytest.param(malformed_pyproject, [], 2, id="malformed-pyproject"),
        pytest.param(nothing, ["--platform", "amd64"], 2, id="bad-platform"),
        pytest.param(config("no-dev = 1"), [], 2, id="no-dev-type"),
    ],
)
def test_other_commands_bad_input(tmp_path, capsys, monkeypatch, command, setup, args, code):
    monkeypatch.setenv("DOCKER_HOST", DEAD_SOCKET)
    project = _project(tmp_path)
    setup(project)
    got, out, err = run_main(capsys, command, str(project), *args)
    assert got == code, err
    assert_one_error_line(out, err)


def test_missing_directory(tmp_path, capsys):
    got, out, err = run_main(capsys, "plan", str(tmp_path / "nope"))
    assert got == 2
    assert_one_error_line(out, err, "no such directory")


def test_lock_flag_pointing_nowhere(tmp_path, capsys):
    project = _project(tmp_path)
    got, out, err = run_main(capsys, "plan", str(project), "--lock", str(tmp_path / "x.lock"))
    assert got == 3
    assert_one_error_line(out, err, "x.lock", "`uv lock`")


def test_bad_build_arg(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("DOCKER_HOST", DEAD_SOCKET)
    got, out, err = run_main(capsys, "build", str(_project(tmp_path)), "--build-arg", "=x")
    assert got == 2
    assert_one_error_line(out, err, "--build-arg")


def test_click_usage_error_exits_2(capsys):
    got, _out, err = run_main(capsys, "plan", "--no-such-flag")
    assert got == 2
    assert "No such option" in err
    assert "Traceback" not in err


def test_debug_lets_the_exception_propagate(tmp_path):
    project = _project(tmp_path)
    with pytest.raises(ConfigError):
        cli.main(["--debug", "plan", str(project), "--platform", "linux/s390x"])
    no_lock(project)
    with pytest.raises(LockError):
        cli.main(["--debug", "plan", str(project)])


# -- the same through a real process ----------------------------------------------------------


@pytest.mark.parametrize(
    ("setup", "args", "code", "needles"),
    [
        pytest.param(no_lock, [], 3, ["`uv lock`"], id="missing-lock"),
        pytest.param(malformed_pyproject, [], 2, ["pyproject.toml"], id="malformed-pyproject"),
        pytest.param(
            config("heavy-treshold = 1"), [], 2, ["tool.uvbuild.heavy-treshold"], id="unknown-key"
        ),
        pytest.param(nothing, ["--platform", "windows/amd64"], 2, ["--platform"], id="platform"),
    ],
)
def test_process_bad_input(tmp_path, setup, args, code, needles):
    project = _project(tmp_path)
    setup(project)
    proc = run_process("plan", ".", *args, cwd=project)
    assert proc.returncode == code, proc.stderr
    assert_one_error_line(proc.stdout, proc.stderr, *needles)


def test_process_debug_shows_the_traceback(tmp_path):
    project = _project(tmp_path)
    no_lock(project)
    proc = run_process("--debug", "plan", ".", cwd=project)
    assert proc.returncode == 1
    assert "Traceback" in proc.stderr
    assert "LockError" in proc.stderr


def test_process_build_without_engine_exits_4(tmp_path):
    project = _project(tmp_path)
    proc = run_process("build", ".", "-t", "proj:dev", cwd=project)
    assert proc.returncode == 4, proc.stderr
    assert_one_error_line(proc.stdout, proc.stderr)


# -- commands that work -----------------------------------------------------------------------


def test_plan_json(capsys):
    got, out, err = run_main(capsys, "plan", "--json", str(FIXTURES / "two_indexes"), *PLAN_ARGS)
    assert got == 0, err
    document = json.loads(out)
    assert document["schema"] == "uvbuild.plan/1"
    assert document["project"]["name"] == "gpuapp"
    assert document["target"] == {"platform": "linux/amd64", "python": "3.11", "glibc": "2.28"}
    assert [p["name"] for p in document["heavy"]] == ["nvidia-cublas-cu12", "torch"]
    assert [p["name"] for p in document["light"]] == ["six"]
    assert re.fullmatch(r"[0-9a-f]{64}", document["base"]["key"])
    assert document["base"]["tag"] == f"gpuapp-uvbuild-base:{document['base']['key'][:16]}"
    assert document["lock-check"] == "fresh"


def test_plan_table(capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "80")
    got, out, err = run_main(capsys, "plan", str(FIXTURES / "two_indexes"), *PLAN_ARGS)
    assert got == 0, err
    # Full names even at 80 columns (a pipe): never "nvidia-cubl…".
    assert "nvidia-cublas-cu12" in out
    # torch comes from the PyTorch index without a size: the total says so
    assert "heavy: 2 packages, wheels 594.0 MB + 1 of unknown size" in out
    assert "base tag: gpuapp-uvbuild-base:" in out
    assert "error" not in err


def test_plan_table_shows_the_light_layers_and_the_pool(capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "80")
    args = (*PLAN_ARGS, "--pool-threshold", "10kB")
    got, out, err = run_main(capsys, "plan", str(FIXTURES / "two_indexes"), *args)
    assert got == 0, err
    assert "light layers (wheels of 10.0 kB and more, COPY --link above the base):" in out
    assert re.search(r"  light-six: 1 packages, wheels 11\.1 kB, key [0-9a-f]{16}\n", out)
    assert "pool (the deps stage's uv sync): 0 packages" in out
    got, out, err = run_main(capsys, "plan", str(FIXTURES / "two_indexes"), *PLAN_ARGS)
    assert "light layers" not in out
    assert "pool (the deps stage's uv sync): 1 packages, wheels 11.1 kB" in out


def test_heavy_min_size_flag(capsys):
    args = (*PLAN_ARGS, "--heavy-min-size", "1GB", "--heavy-threshold", "2GB")
    got, out, err = run_main(capsys, "plan", "--json", str(FIXTURES / "two_indexes"), *args)
    assert got == 0, err
    document = json.loads(out)
    assert [p["name"] for p in document["heavy"]] == ["torch"]
    assert document["totals"]["heavy"] == {"count": 1, "bytes": 0, "unknown-size": 1}
    assert any(
        n.startswith("nvidia-cublas-cu12 matches a heavy pattern") for n in document["notes"]
    )


def test_plan_table_warns_on_a_stale_lock(capsys, monkeypatch):
    stale = LockCheck("stale", "uv.lock does not match pyproject.toml; run `uv lock`")
    fake_lock_check(monkeypatch, stale)
    got, _out, err = run_main(capsys, "plan", str(FIXTURES / "empty_extra"), *PLAN_ARGS)
    assert got == 0
    assert err.splitlines() == [f"warning: {stale.detail}"]


def test_dockerfile(capsys):
    got, out, err = run_main(capsys, "dockerfile", str(FIXTURES / "two_indexes"), *PLAN_ARGS)
    assert got == 0, err
    for stage in ("uvbuild-base", "uvbuild-deps", "uvbuild-app"):
        assert re.search(rf"^FROM \S+ AS {stage}$", out, re.MULTILINE), stage
    plan = planner.make_plan(FIXTURES / "two_indexes", {"platform": "linux/amd64"})
    assert out == render.dockerfile(plan)  # no engine here: the images by name only
    assert err.startswith("note: the key is provisional: it covers python:3.11-slim")


def test_dockerfile_syntax(capsys):
    got, out, _ = run_main(
        capsys, "dockerfile", str(FIXTURES / "two_indexes"), "--syntax", "docker/dockerfile:1"
    )
    assert got == 0
    assert out.startswith("# syntax=docker/dockerfile:1\n")


class DryRunOnly(FakeEngine):
    """No engine answers, and nothing may be built or tagged."""

    def __init__(self) -> None:
        super().__init__(unavailable=True)

    def build(self, *_args, **_kwargs):
        raise AssertionError("a dry run must not build or tag")

    def tag(self, *_args, **_kwargs):
        raise AssertionError("a dry run must not build or tag")


def no_engine(**_settings):
    raise AssertionError("docker was called")


def test_build_dry_run_without_engine(capsys):
    project = FIXTURES / "two_indexes"
    args = ("build", "--dry-run", str(project), "-t", "app:dev")
    got, out, err = run_main(capsys, *args, engine=DryRunOnly())
    assert got == 0, err
    base, tag, app = out.splitlines()
    assert "buildx build" in base and "--target uvbuild-base" in base
    assert " tag " in f" {tag} " and "gpuapp-uvbuild-base:" in tag
    assert "buildx build" in app and "--tag app:dev" in app
    assert "uvbuild-base=docker-image://gpuapp-uvbuild-base:" in app
    assert "warning: dry run without an engine" in err
    assert "Traceback" not in err


def test_build_dry_run_json(capsys, monkeypatch):
    monkeypatch.setenv("DOCKER_HOST", DEAD_SOCKET)
    got, out, _ = run_main(
        capsys, "build", "--dry-run", "--json", str(FIXTURES / "two_indexes"), *PLAN_ARGS
    )
    assert got == 0
    document = json.loads(out)
    assert document["schema"] == "uvbuild.build/1"
    assert document["dry-run"] is True
    assert len(document["commands"]) == 3


def test_build_without_engine_exits_4(capsys, monkeypatch):
    monkeypatch.setenv("DOCKER_HOST", DEAD_SOCKET)
    got, out, err = run_main(capsys, "build", str(FIXTURES / "two_indexes"), *PLAN_ARGS)
    assert got == 4
    assert_one_error_line(out, err)


# -- uv's selection flags and packages uv cannot install ---------------------------------------


def test_plan_json_request_has_every_selection_flag(capsys):
    project = FIXTURES / "default_groups_all"
    args = ["--no-group", "lint", "--no-extra", "z", "--all-extras", "--package", "app"]
    got, out, err = run_main(capsys, "plan", "--json", str(project), *args, "--no-dev", "--dev")
    assert got == 0, err
    request = json.loads(out)["request"]
    # the existing fields first and unchanged, the new ones after them
    assert list(request)[:8] == [
        "package",
        "all-packages",
        "extras",
        "all-extras",
        "groups",
        "only-groups",
        "no-dev",
        "default-groups",
    ]
    assert request == {
        "package": "app",
        "all-packages": False,
        "extras": [],
        "all-extras": True,
        "groups": [],
        "only-groups": [],
        "no-dev": False,  # `--no-dev --dev`: the last one wins, as in uv
        "default-groups": ["dev", "docs", "lint"],  # default-groups = "all"
        "no-extras": ["z"],
        "no-groups": ["lint"],
        "all-groups": False,
        "no-default-groups": False,
        "dev": True,
        "only-dev": False,
        "packages": ["app"],
    }
    names = {p["name"] for p in json.loads(out)["light"]}
    assert names == {"app", "core", "devtool", "docstool", "m", "xlib"}


def test_selection_keys_and_flags_together(tmp_path, capsys):
    project = tmp_path / "proj"
    shutil.copytree(FIXTURES / "default_groups_all", project)
    _append_config(project, 'no-dev = true\npackages = ["m", "app"]')
    got, out, err = run_main(capsys, "plan", "--json", str(project))
    assert got == 0, err
    document = json.loads(out)
    assert document["request"]["packages"] == ["m", "app"]
    names = {p["name"] for p in document["light"]}
    assert names == {"app", "core", "docstool", "linttool", "m"}
    # a flag replaces the key that says the same thing: --dev over no-dev, --package
    # over packages
    got, out, err = run_main(capsys, "plan", "--json", str(project), "--dev", "--package", "m")
    assert got == 0, err
    document = json.loads(out)
    assert (document["request"]["package"], document["request"]["packages"]) == ("m", ["m"])
    assert {p["name"] for p in document["light"]} == {"m", "mdev"}


def test_sync_flags_carry_the_new_flags():
    plan = planner.make_plan(
        FIXTURES / "default_groups_all",
        {"no_groups": ("lint",), "no_default_groups": True, "dev": True, "packages": ("m", "app")},
    )
    assert render.sync_flags(plan.request) == [
        *("--package", "m", "--package", "app", "--dev"),
        *("--no-group", "lint", "--no-default-groups"),
    ]


def test_cross_member_extra_conflict_exits_2(capsys):
    project = FIXTURES / "cross_member_conflict"
    got, out, err = run_main(capsys, "plan", str(project), "--extra", "y", "--extra", "withb")
    assert got == 2, err
    assert_one_error_line(out, err, "extra 'y' of 'app'", "extra 'y' of 'b'", "conflicting")


def _openpi() -> Path:
    path = _corpus() / "Physical-Intelligence__openpi"
    if not (path / "uv.lock").is_file():
        pytest.skip(f"no Physical-Intelligence__openpi in the corpus at {_corpus()}")
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


# -- the uv.lock corpus -----------------------------------------------------------------------


def _corpus() -> Path:
    return Path(os.environ.get("UVBUILD_CORPUS") or REPO.parent / "shared" / "corpus")


def _corpus_params():
    root = _corpus()
    dirs = sorted(p for p in root.iterdir() if (p / "uv.lock").is_file()) if root.is_dir() else []
    if not dirs:
        reason = f"no uv.lock corpus at {root} (set UVBUILD_CORPUS)"
        return [pytest.param(None, marks=pytest.mark.skip(reason=reason), id="no-corpus")]
    return [pytest.param(path, id=path.name) for path in dirs]


TORCH_PROJECTS = {
    "OpenPipe__ART",
    "Physical-Intelligence__openpi",
    "Zyphra__Zonos",
    "nari-labs__dia",
    "karpathy__nanochat",
}
MIN_SIZE = 1_000_000
GPU_NAMES = re.compile(r"^(nvidia-.*|torch|torchvision|torchaudio|triton|pytorch-triton.*)$")


@pytest.mark.parametrize("project", _corpus_params())
def test_corpus_plan(capsys, project):
    got, out, err = run_main(capsys, "plan", "--json", "--platform", "linux/amd64", str(project))
    assert got == 0, err
    document = json.loads(out)
    assert document["schema"] == "uvbuild.plan/1"
    heavy = {p["name"] for p in document["heavy"]}
    light = {p["name"] for p in document["light"]}
    assert not heavy & light
    # heavy-min-size (1 MB): nothing smaller reaches a heavy layer ...
    small = sorted(p["name"] for p in document["heavy"] if (p["size"] or MIN_SIZE) < MIN_SIZE)
    assert small == [], f"packages under 1 MB in the base: {small}"
    if project.name in TORCH_PROJECTS:
        assert "torch" in heavy
        # ... and every torch/CUDA wheel of at least 1 MB (or of unknown size) is there.
        left_light = sorted(
            p["name"]
            for p in document["light"]
            if GPU_NAMES.match(p["name"]) and (p["size"] is None or p["size"] >= MIN_SIZE)
        )
        assert left_light == [], f"GPU packages left light: {left_light}"
    if project.name == "Physical-Intelligence__openpi":
        assert {"jax-cuda12-plugin", "jax-cuda12-pjrt", "jaxlib"} <= heavy
        assert not {name for name in light if name.startswith("jax-cuda") or name == "jaxlib"}
        # rerun-sdk ships only manylinux_2_31 wheels: a note, not an error, at glibc 2.28.
        assert any("rerun-sdk" in note for note in document["notes"])
    if project.name == "fastapi__full-stack-fastapi-template":
        assert heavy == set()
        assert document["project"]["name"] is None


@pytest.mark.skipif(not _corpus().is_dir(), reason="no uv.lock corpus (set UVBUILD_CORPUS)")
@pytest.mark.parametrize(
    ("old", "new", "moved"),
    [
        ('name = "filelock"\nversion = "3.17.0"', 'name = "filelock"\nversion = "3.16.1"', False),
        ('name = "torch"\nversion = "2.6.0"', 'name = "torch"\nversion = "2.5.1"', True),
    ],
    ids=["light-change", "torch-change"],
)
def test_explain_against_an_older_lock(capsys, tmp_path, old, new, moved):
    project = tmp_path / "zonos"
    shutil.copytree(_corpus() / "Zyphra__Zonos", project)
    lock_text = (project / "uv.lock").read_text()
    assert old in lock_text
    older = tmp_path / "old.lock"
    older.write_text(lock_text.replace(old, new))
    got, out, err = run_main(
        capsys,
        "plan",
        "--json",
        "--platform",
        "linux/amd64",
        str(project),
        "--explain-against",
        str(older),
    )
    assert got == 0, err
    explanation = json.loads(out)["explain"]
    assert (explanation["old-key"] != explanation["new-key"]) is moved
    if moved:
        assert explanation["changes"] == ["changed torch: 2.5.1 -> 2.6.0"]
        assert explanation["layers"][0].startswith("layer frameworks rebuilt: torch 2.5.1 -> 2.6.0")
    else:
        assert explanation["changes"] == []
        # filelock's wheel is under pool-threshold: only the pool moves
        assert explanation["layers"] == ["pool rebuilt: filelock 3.16.1 -> 3.17.0"]
    got, out, _ = run_main(
        capsys, "plan", "--platform", "linux/amd64", str(project), "--explain-against", str(older)
    )
    assert got == 0
    assert ("key moved against" in out) is moved
    assert ("key unchanged against" in out) is not moved
    assert "layers that move against" in out


# -- output flags after the subcommand, doctor, engine faults ---------------------------------


def test_quiet_and_verbose_work_after_the_subcommand(capsys, monkeypatch):
    monkeypatch.setenv("DOCKER_HOST", DEAD_SOCKET)
    project = str(FIXTURES / "two_indexes")
    got, out, err = run_main(capsys, "build", "--dry-run", "-q", project, *PLAN_ARGS)
    assert got == 0
    assert err == ""  # not even the "dry run without an engine" warning
    assert len(out.splitlines()) == 3
    got, out, err = run_main(capsys, "-q", "build", "--dry-run", project, *PLAN_ARGS)
    assert (got, err, len(out.splitlines())) == (0, "", 3)
    got, out, err = run_main(capsys, "build", "--dry-run", project, "-v", *PLAN_ARGS)
    assert got == 0
    commands = [line for line in err.splitlines() if line.startswith("$ ")]
    assert any("buildx inspect" in line for line in commands), err


def test_debug_works_after_the_subcommand(tmp_path):
    project = _project(tmp_path)
    no_lock(project)
    with pytest.raises(LockError):
        cli.main(["plan", str(project), "--debug"])


def test_doctor_without_an_engine(capsys, monkeypatch):
    monkeypatch.setenv("DOCKER_HOST", DEAD_SOCKET)
    got, out, err = run_main(capsys, "doctor", str(FIXTURES / "two_indexes"), *PLAN_ARGS)
    assert got == 4
    assert "Traceback" not in out + err
    (line,) = err.splitlines()
    assert line.startswith("error: engine: no Docker engine answers at DOCKER_HOST=")
    assert "start the engine" in line
    assert any(row.startswith("fail  engine") for row in out.splitlines())
    assert out.splitlines()[-1].endswith("skipped")


def test_doctor_json_without_an_engine(capsys, monkeypatch):
    monkeypatch.setenv("DOCKER_HOST", DEAD_SOCKET)
    got, out, err = run_main(capsys, "doctor", "--json", str(FIXTURES / "two_indexes"))
    assert got == 4
    document = json.loads(out)
    assert document["schema"] == "uvbuild.doctor/1"
    assert document["ok"] is False
    failed = [c["name"] for c in document["checks"] if c["status"] == "fail"]
    assert failed == ["engine"]
    assert len(err.splitlines()) == 1


def test_doctor_outside_a_project_warns(capsys, monkeypatch, tmp_path):
    monkeypatch.setenv("DOCKER_HOST", DEAD_SOCKET)
    got, out, _err = run_main(capsys, "doctor", "--json", str(tmp_path))
    assert got == 4  # the engine, not the missing project
    project = next(c for c in json.loads(out)["checks"] if c["name"] == "project")
    assert project["status"] == "warn" and project["required"] is False


def test_doctor_on_a_broken_project_exits_with_its_code(capsys, monkeypatch, tmp_path):
    monkeypatch.setenv("DOCKER_HOST", DEAD_SOCKET)
    project = _project(tmp_path)
    no_lock(project)
    got, out, err = run_main(capsys, "doctor", "--json", str(project))
    assert got == 4  # the engine check comes first and fails too
    project_check = next(c for c in json.loads(out)["checks"] if c["name"] == "project")
    assert project_check["status"] == "fail" and "`uv lock`" in project_check["detail"]
    assert "(and 1 more failed check)" in err


def test_signal_handlers_are_restored(capsys):
    import signal

    before = (signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM))
    run_main(capsys, "plan", "--json", str(FIXTURES / "two_indexes"))
    assert (signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)) == before


@pytest.mark.parametrize("command", ["build", "doctor"])
def test_process_without_docker_cli(tmp_path, command):
    """A machine without Docker: one line that says to install it, exit 4."""
    project = _project(tmp_path)
    empty = tmp_path / "empty-path"
    empty.mkdir()
    proc = run_process(command, ".", cwd=project, PATH=str(empty))
    assert proc.returncode == 4, proc.stderr
    assert "Traceback" not in proc.stderr
    (line,) = proc.stderr.splitlines()
    assert "docker" in line and "install Docker Engine" in line


@pytest.mark.parametrize("command", ["build", "doctor"])
def test_process_new_user_without_an_engine(tmp_path, command):
    """No engine running: `build` and `doctor` each say in one line how to get going."""
    project = _project(tmp_path)
    proc = run_process(command, ".", cwd=project)
    if shutil.which("docker") is None:
        pytest.skip("no docker CLI: covered by test_process_without_docker_cli")
    assert proc.returncode == 4, proc.stderr
    (line,) = proc.stderr.splitlines()
    assert line.startswith("error: ")
    assert f"DOCKER_HOST={DEAD_SOCKET}" in line and "start the engine" in line
    assert "\x1b[" not in proc.stdout + proc.stderr


def test_process_output_on_pipes_has_no_control_characters(tmp_path):
    project = _project(tmp_path)
    env = {"NO_COLOR": "", "TERM": "xterm-256color", "COLUMNS": "80"}
    for args in (("plan", "."), ("doctor", "."), ("build", "--dry-run", ".", "-v")):
        proc = run_process(*args, cwd=project, **env)
        text = proc.stdout + proc.stderr
        assert proc.returncode in (0, 4), proc.stderr
        assert "\x1b" not in text and "\r" not in text, args


# -- the docker buildx build flags of Makefiles and CI (issue 9, item 3) -------------------


def _dry_run(capsys, monkeypatch, *args: str) -> tuple[list[str], str]:
    """The base, tag and app command lines of ``build --dry-run`` (no engine)."""
    monkeypatch.setenv("DOCKER_HOST", DEAD_SOCKET)
    project = str(FIXTURES / "two_indexes")
    got, out, err = run_main(capsys, "build", "--dry-run", project, *PLAN_ARGS, *args)
    assert got == 0, err
    return [shlex.split(line) for line in out.splitlines()], err


def _flag_values(argv: list[str], flag: str) -> list[str]:
    values = [argv[i + 1] for i, arg in enumerate(argv[:-1]) if arg == flag]
    values += [arg.split("=", 1)[1] for arg in argv if arg.startswith(flag + "=")]
    return values


# flag as typed -> (docker flag, value it carries, reaches base, reaches app)
FLAG_CASES = [
    (["--iidfile", "app.iid"], "--iidfile", "app.iid", False, True),
    (["--metadata-file", "meta.json"], "--metadata-file", "meta.json", False, True),
    (["--output", "type=oci,dest=app.tar"], "--output", "type=oci,dest=app.tar", False, True),
    (["-o", "type=tar,dest=fs.tar"], "--output", "type=tar,dest=fs.tar", False, True),
    (["-o", "type=local,dest=out"], "--output", "type=local,dest=out", False, True),
    (["-o", "outdir"], "--output", "type=local,dest=outdir", False, True),
    (["-o", "type=image,name=r/a"], "--output", "type=image,name=r/a", False, True),
    (["-o", "type=registry"], "--output", "type=registry", False, True),
    (["--provenance", "mode=max"], "--provenance", "mode=max", False, True),
    (["--provenance=false"], "--provenance", "false", False, True),
    (["--sbom", "true"], "--sbom", "true", False, True),
    (["--attest", "type=sbom,generator=img"], "--attest", "type=sbom,generator=img", False, True),
    (["--annotation", "index:org.x=y"], "--annotation", "index:org.x=y", False, True),
    (["--shm-size", "2g"], "--shm-size", "2g", True, True),
    (["--ulimit", "nofile=1024:2048"], "--ulimit", "nofile=1024:2048", True, True),
    (["--allow", "network.host"], "--allow", "network.host", True, True),
    (["--build-context", "assets=/srv/a"], "--build-context", "assets=/srv/a", False, True),
]


@pytest.mark.parametrize(("args", "flag", "value", "on_base", "on_app"), FLAG_CASES)
def test_build_flag_reaches_the_documented_builds(
    capsys, monkeypatch, args, flag, value, on_base, on_app
):
    (base, tag, app), _ = _dry_run(capsys, monkeypatch, *args)
    assert tag[1] == "tag"
    assert (value in _flag_values(base, flag)) is on_base, base
    assert (value in _flag_values(app, flag)) is on_app, app


def test_build_flags_in_docker_forms(capsys, monkeypatch):
    (base, _tag, app), _ = _dry_run(
        capsys,
        monkeypatch,
        "--allow",
        "network.host,security.insecure",
        "-o",
        "type=tar,dest=a.tar",
        "-o",
        "type=registry",
        "--attest",
        "type=sbom",
        "--attest",
        "type=provenance,mode=max",
    )
    assert _flag_values(base, "--allow") == ["network.host", "security.insecure"]
    assert _flag_values(app, "--output") == ["type=tar,dest=a.tar", "type=registry"]
    assert _flag_values(app, "--attest") == ["type=sbom", "type=provenance,mode=max"]


@pytest.mark.parametrize(
    ("args", "load", "push"),
    [
        ((), True, False),
        (("-o", "type=tar,dest=a.tar"), False, False),
        (("-o", "type=tar,dest=a.tar", "--load"), True, False),
        (("-o", "type=registry"), False, False),  # the registry output is the push
        (("-o", "type=registry", "--push"), False, False),
        (("--push",), False, True),
    ],
)
def test_output_load_and_push_together(capsys, monkeypatch, args, load, push):
    (_base, _tag, app), _ = _dry_run(capsys, monkeypatch, *args)
    assert ("--load" in app) is load
    assert ("--push" in app) is push


def test_docker_dest_on_the_docker_driver_is_load_then_docker_save(capsys, monkeypatch):
    (_base, _tag, app, save), _ = _dry_run(
        capsys, monkeypatch, "-t", "app:dev", "-o", "type=docker,dest=app.tar"
    )
    assert "--load" in app and "--output" not in app
    assert save[1:] == ["save", "-o", "app.tar", "app:dev"]


def test_pull_reaches_the_base_build(capsys, monkeypatch):
    (base, _tag, app), _ = _dry_run(capsys, monkeypatch, "--pull", "-v")
    assert "--pull" in base
    assert "--pull" not in app  # the app reads the local base, which buildx would pull


@pytest.mark.parametrize("args", [("--check",), ("--call", "check"), ("--call=check",)])
def test_check_is_one_command_on_the_app_dockerfile(capsys, monkeypatch, args):
    lines, _ = _dry_run(capsys, monkeypatch, *args)
    (app,) = lines
    assert "--call=check" in app
    assert "--target" not in app and "--load" not in app


def test_call_build_is_a_normal_build(capsys, monkeypatch):
    lines, _ = _dry_run(capsys, monkeypatch, "--call", "build")
    assert len(lines) == 3 and not any("--call=build" in line for line in lines)


@pytest.mark.parametrize(
    ("command", "args", "needles"),
    [
        ("build", ("--build-context", "uvbuild-base=/x"), ("--build-context uvbuild-base",)),
        ("build", ("--build-context", "uvbuild-heavy=/x"), ("names starting with uvbuild-",)),
        ("build", ("--build-context", "assets"), ("expected NAME=VALUE",)),
        ("build", ("-o", "-"), ("-o -", "stdout")),
        ("build", ("-o", "type=zip,dest=a"), ("unknown exporter type 'zip'",)),
        ("build", ("--call", "outline", "--check"), ("give one of them",)),
        ("build", ("--call", "nope"), ("--call nope",)),
        ("bake", ("--iidfile", "i"), ("bake --iidfile",)),
        ("bake", ("--metadata-file", "m"), ("bake --metadata-file",)),
        ("bake", ("--check",), ("bake --call/--check",)),
        (
            "build",
            (
                "--platform",
                "linux/amd64,linux/arm64",
                "--push",
                "-t",
                "r:5000/a:1",
                "--iidfile",
                "i",
            ),
            ("--iidfile: the image is a manifest list",),
        ),
    ],
)
def test_new_flags_refuse_with_one_line(capsys, monkeypatch, tmp_path, command, args, needles):
    monkeypatch.setenv("DOCKER_HOST", DEAD_SOCKET)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    base = () if "--platform" in args else PLAN_ARGS
    extra = ("-o", str(tmp_path / "bake.json")) if command == "bake" else ("--dry-run",)
    got, out, err = run_main(
        capsys,
        command,
        str(FIXTURES / "two_indexes"),
        *base,
        *extra,
        "--base-repo",
        "127.0.0.1:5000/team/base",
        *args,
    )
    assert got == 2
    assert_one_error_line(out, err, *needles)


def test_bake_keeps_o_for_the_bake_file(capsys):
    got, out, _err = run_main(capsys, "bake", "--help")
    assert got == 0
    assert re.search(r"-o, --output FILE\s+Bake file to write", out), out
    got, out, _err = run_main(capsys, "build", "--help")
    assert re.search(r"-o, --output TEXT\s+App image exporter", out), out


# -- the App: one engine factory, --debug, every flag read from a table -----------------------


class Recorded(Exception):
    pass


@pytest.mark.parametrize(
    ("args", "builder"),
    [
        (("build", "--builder", "b1"), "b1"),
        (("bake", "--builder", "b2", "-o", "{tmp}/b.json"), "b2"),
        (("doctor", "--builder", "b3"), "b3"),
        (("gc", "--builder", "b4"), "b4"),
        (("build",), None),
    ],
)
def test_commands_get_their_engine_from_the_app(capsys, tmp_path, args, builder):
    made = []

    def factory(**settings):
        made.append(settings)
        raise ConfigError("recorded")

    args = [arg.replace("{tmp}", str(tmp_path)) for arg in args]
    with pytest.raises(SystemExit) as info:
        cli.main([*args, str(FIXTURES / "two_indexes"), *PLAN_ARGS, "-v"], engine_factory=factory)
    assert info.value.code == 2
    (settings,) = made
    assert settings["builder"] == builder
    assert settings["trace"] is not None  # -v: the engine shows its docker commands
    assert "error: recorded" in capsys.readouterr().err


@pytest.mark.parametrize("command", ["plan", "dockerfile"])
def test_plan_and_dockerfile_work_without_an_engine(capsys, command):
    """The real engine finds none (DOCKER_HOST is a dead socket in unit tests), as the
    fake's does: the plan keyed on the images' names, said to be provisional."""
    project = str(FIXTURES / "two_indexes")
    got, out, err = run_main(capsys, command, project, *PLAN_ARGS, engine=None)
    assert got == 0, err
    unkeyed = planner.make_plan(project, {"platform": "linux/amd64", "python": "3.11"})
    assert unkeyed.key in out
    said = out if command == "plan" else err
    assert "the key is provisional" in said and DEAD_SOCKET in said
    engine = FakeEngine(unavailable=True)
    got, fake_out, fake_err = run_main(capsys, command, project, *PLAN_ARGS, engine=engine)
    assert got == 0, fake_err
    if command == "dockerfile":
        assert fake_out == out
    assert [call[0] for call in engine.calls] == ["image_digests"]  # one question, no waits


def test_build_runs_on_the_injected_engine(capsys):
    engine = FakeEngine(exists=True)
    args = ("build", str(FIXTURES / "two_indexes"), *PLAN_ARGS, "-t", "app:dev", "--json")
    got, out, err = run_main(capsys, *args, engine=engine)
    assert got == 0, err
    assert [call[0] for call in engine.named("build")] == ["build"]
    assert json.loads(out)["base"]["action"] == "reused"


def test_import_loads_no_docker_client():
    code = "import sys, uvbuild.cli.commands; print('python_on_whales' in sys.modules)"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO)
    assert proc.stdout.strip() == "False", proc.stderr


def test_the_entry_point_starts_the_prefetch_before_the_heavy_imports():
    """``uvbuild.cli`` (the console script's module) imports no click, rich or planner:
    main() starts the answers of the last same invocation first (uvbuild.docker.prefetch)."""
    code = (
        "import sys, uvbuild.cli; "
        "print(sorted(m for m in ('click', 'rich', 'uvbuild.planner') if m in sys.modules))"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO)
    assert proc.stdout.strip() == "[]", proc.stderr
    assert cli.cli.name == "cli" and cli.App is not None  # named lazily


def test_debug_after_the_flag_that_fails(tmp_path):
    """--debug is read first among its command's options, wherever it is given."""
    project = _project(tmp_path)
    with pytest.raises(ConfigError, match="--build-arg"):
        cli.main(["build", str(project), "--build-arg", "=x", "--debug"], engine_factory=no_engine)
    with pytest.raises(ConfigError, match="--heavy-threshold"):
        cli.main(["plan", str(project), "--heavy-threshold", "big", "--debug"])


def test_every_build_option_field_has_a_flag():
    build_fields = {row.field for row in options.BUILD_FLAGS if "build" in row.commands}
    assert build_fields == set(options.BUILD_FIELDS)
    bake_fields = {row.field for row in options.BUILD_FLAGS if "bake" in row.commands}
    # bake writes a file: no progress (always plain), exporter, extra hosts, push or dry run
    assert set(options.BUILD_FIELDS) - bake_fields == {
        "progress",
        "push_base",
        "add_hosts",
        "outputs",
        "dry_run",
    }


def test_a_flag_for_no_field_fails_when_the_table_is_built():
    with pytest.raises(AssertionError, match="BuildOptions has no field 'colour'"):
        options._row("--colour", "colour", "No such field.")
    with pytest.raises(AssertionError, match="no flag of its own"):
        options._check([options._row("--check", "call", "Part of call.", param="check")])


@pytest.mark.parametrize("name", sorted(commands.cli.commands))
def test_every_option_of_a_command_is_read(name):
    """Each click parameter is a parameter of the command, a plan flag (a Config row), PATH,
    --lock or a docker build flag (a BUILD_FLAGS row): none is left over in **kwargs."""
    command = commands.cli.commands[name]
    declared = {
        p.name
        for p in inspect.signature(command.callback).parameters.values()
        if p.kind is not p.VAR_KEYWORD
    }
    read = {
        *declared,
        "path",
        "lock_path",
        *(row.name for row in options.PLAN_FLAGS),
        *(row.param for row in options.BUILD_FLAGS if name in row.commands),
        *(options.DOCKERFILE_PARAMS if name in ("plan", "dockerfile") else ()),
    }
    exposed = {param.name for param in command.params if param.expose_value}
    assert exposed <= read
    assert {row.name for row in options.PLAN_FLAGS} <= exposed


def test_plan_flags_follow_the_config_table():
    flags = {row.flag.names[0]: row for row in options.PLAN_FLAGS}
    assert flags["--extra"].name == "extras"
    assert flags["--dev/--no-dev"].flag.also == "no_dev"
    assert flags["--package"].flag.also == "packages"
    assert flags["--heavy"].flag.extends
    keys_only = {row.key for row in SETTINGS if row.flag is None}
    assert keys_only == {"no-dev", "packages", "dockerfile", "heavy-only", "layers"}


def test_plan_shows_the_digests_of_its_images(capsys):
    project = str(FIXTURES / "two_indexes")
    engine = FakeEngine()
    got, out, err = run_main(capsys, "plan", "--json", project, *PLAN_ARGS, engine=engine)
    assert got == 0, err
    base = json.loads(out)["base"]
    assert base["provisional"] is False
    refs = [(e["ref"], e["digest"]) for e in base["images"]]
    assert refs == [
        (r, fake_digest(r)) for r in ("python:3.11-slim", "ghcr.io/astral-sh/uv:0.13.9")
    ]
    assert base["inputs"]["images"] == dict(refs)
    got, text, _ = run_main(capsys, "plan", project, *PLAN_ARGS, engine=FakeEngine())
    assert f"    python:3.11-slim: {fake_digest('python:3.11-slim')}" in text.splitlines()
    assert "provisional" not in text


def test_plan_pull_asks_the_registry(capsys):
    project = str(FIXTURES / "two_indexes")
    upstream = {"python:3.11-slim": "sha256:" + "9" * 64}
    engine = FakeEngine(pulled=upstream)
    got, out, err = run_main(capsys, "plan", "--json", "--pull", project, *PLAN_ARGS, engine=engine)
    assert got == 0, err
    assert json.loads(out)["base"]["inputs"]["images"]["python:3.11-slim"] == "sha256:" + "9" * 64
    assert engine.calls[0][0] == "image_digests" and engine.calls[0][2] is True
    assert "python:3.11-slim" in engine.calls[0][1]


def test_plan_of_an_image_found_nowhere_is_one_line_and_exit_2(capsys):
    engine = FakeEngine(digests={"nope:1": None})
    args = ("plan", str(FIXTURES / "two_indexes"), *PLAN_ARGS, "--base-image", "nope:1")
    got, out, err = run_main(capsys, *args, engine=engine)
    assert got == 2 and out == ""
    (line,) = err.splitlines()
    assert line.startswith("error: image nope:1 is not in") and "--base-image" in line


def test_explain_against_compares_keys_on_the_same_digests(capsys, tmp_path):
    project = FIXTURES / "two_indexes"
    args = (
        "plan",
        "--json",
        str(project),
        *PLAN_ARGS,
        "--explain-against",
        str(project / "uv.lock"),
    )
    got, out, err = run_main(capsys, *args, engine=FakeEngine())
    assert got == 0, err
    assert json.loads(out)["explain"]["changes"] == []
