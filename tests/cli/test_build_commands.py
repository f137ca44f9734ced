"""uvbuild.cli.build_commands: ``build`` (dry runs, the docker buildx build flags of Makefiles
and CI, the injected engine) and ``bake``."""

from __future__ import annotations

import json
import re
import shlex

import pytest

from tests.clirun import DEAD_SOCKET, PLAN_ARGS, assert_one_error_line, run_main
from tests.fakes import FakeEngine
from tests.paths import FIXTURES

# -- dry runs, and no engine ------------------------------------------------------------------


class DryRunOnly(FakeEngine):
    """No engine answers, and nothing may be built or tagged."""

    def __init__(self) -> None:
        super().__init__(unavailable=True)

    def build(self, *_args, **_kwargs):
        raise AssertionError("a dry run must not build or tag")

    def tag(self, *_args, **_kwargs):
        raise AssertionError("a dry run must not build or tag")


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


# -- the injected engine ----------------------------------------------------------------------


def test_build_runs_on_the_injected_engine(capsys):
    engine = FakeEngine(exists=True)
    args = ("build", str(FIXTURES / "two_indexes"), *PLAN_ARGS, "-t", "app:dev", "--json")
    got, out, err = run_main(capsys, *args, engine=engine)
    assert got == 0, err
    assert [call[0] for call in engine.named("build")] == ["build"]
    assert json.loads(out)["base"]["action"] == "reused"
