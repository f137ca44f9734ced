"""uvbuild.cli.plan_commands: ``plan`` (its table and JSON, uv's selection flags, the corpus,
``--explain-against``, the images' digests) and ``dockerfile``."""

from __future__ import annotations

import json
import re
import shutil

import pytest

from tests.cli.projects import append_config, corpus_dir
from tests.clirun import DEAD_SOCKET, PLAN_ARGS, assert_one_error_line, fake_lock_check, run_main
from tests.fakes import FakeEngine, fake_digest
from tests.paths import FIXTURES
from uvbuild import planner
from uvbuild.core import render
from uvbuild.core.render import app_stages
from uvbuild.uvcheck import LockCheck

# -- plan and dockerfile ----------------------------------------------------------------------


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


# -- uv's selection flags ---------------------------------------------------------------------


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
    append_config(project, 'no-dev = true\npackages = ["m", "app"]')
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
    assert app_stages.sync_flags(plan.request) == [
        *("--package", "m", "--package", "app", "--dev"),
        *("--no-group", "lint", "--no-default-groups"),
    ]


def test_cross_member_extra_conflict_exits_2(capsys):
    project = FIXTURES / "cross_member_conflict"
    got, out, err = run_main(capsys, "plan", str(project), "--extra", "y", "--extra", "withb")
    assert got == 2, err
    assert_one_error_line(out, err, "extra 'y' of 'app'", "extra 'y' of 'b'", "conflicting")


# -- the uv.lock corpus -----------------------------------------------------------------------


def _corpus_params():
    root = corpus_dir()
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


@pytest.mark.skipif(not corpus_dir().is_dir(), reason="no uv.lock corpus (set UVBUILD_CORPUS)")
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
    shutil.copytree(corpus_dir() / "Zyphra__Zonos", project)
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


# -- the digests of the images, with and without an engine ------------------------------------


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
