"""uvbuild.engine without an engine: the command line of a build, the error extraction, and
the build child's streaming and interrupt handling (a fake ``docker`` script)."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import threading
import time
from pathlib import Path

import pytest

from uvbuild.docker.engine import Engine
from uvbuild.docker.facts import FIX_CLI, failing_step
from uvbuild.docker.process import group_alive, stop_process_group
from uvbuild.docker.requests import BuildRequest, build_args
from uvbuild.errors import BuildFailed, EngineUnavailable, Interrupted


def test_minimal_request_is_just_the_context():
    assert build_args(BuildRequest(context="ctx")) == ["buildx", "build", "ctx"]


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("file", None),
        ("target", None),
        ("builder", None),
        ("network", None),
        ("progress", None),
        ("iidfile", None),
        ("metadata_file", None),
        ("provenance", None),
        ("load", False),
        ("push", False),
        ("no_cache", False),
        ("tags", ()),
        ("build_args", ()),
        ("platforms", ()),
    ],
)
def test_unset_values_add_nothing(field, value):
    assert build_args(BuildRequest(context=".", **{field: value})) == ["buildx", "build", "."]


def test_full_request_in_a_stable_order_context_last():
    request = BuildRequest(
        context="/ctx",
        file="/ctx/Dockerfile",
        tags=("app:dev", "app:latest"),
        target="uvbuild-app",
        build_args=(("A", "1"), ("B", "")),
        build_contexts=(("uvbuild-base", "docker-image://base:abc"), ("uvbuild-heavy", "/h")),
        platforms=("linux/amd64",),
        load=True,
        push=True,
        progress="plain",
        no_cache=True,
        secrets=("id=tok,src=/tok",),
        ssh=("default",),
        labels=(("org.x", "y"),),
        builder="default",
        network="host",
        add_hosts=("reg:10.0.0.1",),
        iidfile="/tmp/iid",
        metadata_file="/tmp/meta.json",
        outputs=("type=docker",),
        cache_from=("type=registry,ref=r/c",),
        cache_to=("type=inline",),
        provenance=False,
    )
    assert build_args(request) == [
        "buildx",
        "build",
        "--builder",
        "default",
        "--file",
        "/ctx/Dockerfile",
        "--tag",
        "app:dev",
        "--tag",
        "app:latest",
        "--target",
        "uvbuild-app",
        "--build-arg",
        "A=1",
        "--build-arg",
        "B=",
        "--build-context",
        "uvbuild-base=docker-image://base:abc",
        "--build-context",
        "uvbuild-heavy=/h",
        "--platform",
        "linux/amd64",
        "--label",
        "org.x=y",
        "--secret",
        "id=tok,src=/tok",
        "--ssh",
        "default",
        "--network",
        "host",
        "--add-host",
        "reg:10.0.0.1",
        "--cache-from",
        "type=registry,ref=r/c",
        "--cache-to",
        "type=inline",
        "--output",
        "type=docker",
        "--progress",
        "plain",
        "--iidfile",
        "/tmp/iid",
        "--metadata-file",
        "/tmp/meta.json",
        "--provenance=false",
        "--load",
        "--push",
        "--no-cache",
        "/ctx",
    ]


def test_same_request_same_args():
    request = BuildRequest(context=".", tags=("a",), load=True, provenance=True)
    assert build_args(request) == build_args(request)
    assert "--provenance=true" in build_args(request)


def test_several_platforms_join_with_commas():
    args = build_args(BuildRequest(context=".", platforms=("linux/amd64", "linux/arm64")))
    assert args[args.index("--platform") + 1] == "linux/amd64,linux/arm64"


def test_failing_step_without_a_step_block_gives_the_solver_verdict():
    lines = [
        "#8 [uvbuild-deps 3/3] RUN uv sync --frozen",
        "#8 0.512 error: Failed to fetch",
        '#8 ERROR: process "/bin/sh -c uv sync" did not complete successfully: exit code: 2',
        "------",
        'ERROR: failed to solve: process "/bin/sh -c uv sync" did not complete: exit code: 2',
    ]
    assert failing_step(lines) == ('process "/bin/sh -c uv sync" did not complete: exit code: 2')


def test_failing_step_names_the_buildkit_step_and_its_error():
    lines = [
        "#9 [uvbuild-base 3/3] RUN uv venv /opt/venv && uv pip install -r heavy-1.txt",
        "#9 0.3 error: Failed to download `fake-nvidia-broken-cu12==1.0.0`",
        '#9 ERROR: process "/bin/sh -c uv venv" did not complete successfully: exit code: 2',
        "------",
        " > [uvbuild-base 3/3] RUN uv venv /opt/venv && uv pip install -r heavy-1.txt:",
        "0.3 error: Failed to download `fake-nvidia-broken-cu12==1.0.0`",
        "0.3   Caused by: HTTP status client error (404 Not Found)",
        "------",
        "Dockerfile:9",
        'ERROR: failed to solve: process "/bin/sh -c uv venv" did not complete successfully: '
        "exit code: 2",
    ]
    assert failing_step(lines) == (
        "[uvbuild-base 3/3] RUN uv venv /opt/venv && uv pip install -r heavy-1.txt: "
        "0.3 error: Failed to download `fake-nvidia-broken-cu12==1.0.0`"
    )


def test_failing_step_falls_back_to_the_step_error():
    lines = [
        "#5 [uvbuild-base 2/4] RUN uv venv /opt/venv",
        '#5 ERROR: process "/bin/sh -c uv venv" did not complete successfully: exit code: 1',
        "some trailing noise",
    ]
    assert failing_step(lines) == (
        '#5 ERROR: process "/bin/sh -c uv venv" did not complete successfully: exit code: 1'
    )


def test_failing_step_without_an_error_line():
    assert failing_step(["#1 DONE 0.1s", "all good"]) is None
    assert failing_step([]) is None


# -- the build child: streaming, failure, interrupts (a fake `docker` script, no engine) ---------

FAKE_DOCKER = """#!/bin/sh
# A stand-in for `docker buildx build`: prints, then waits; records the signal it gets.
trap 'echo "got $SIG" > "$MARK"; kill $child 2>/dev/null; exit 1' INT TERM
echo "#1 [internal] load build definition"
if [ "$MODE" = fail ]; then
  echo " > [uvbuild-base 2/2] RUN false:"
  echo "0.1 error: boom"
  echo "------"
  echo "ERROR: failed to solve: process did not complete successfully: exit code: 1"
  exit 1
fi
if [ "$MODE" = wait ]; then
  echo "#2 [uvbuild-base 2/2] RUN uv pip install"
  sleep 30 &
  child=$!
  wait
fi
exit 0
"""


@pytest.fixture
def fake_docker(tmp_path, monkeypatch):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    script = bin_dir / "docker"
    script.write_text(FAKE_DOCKER.replace("$SIG", "signal"))
    script.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}")
    monkeypatch.setenv("MARK", str(tmp_path / "mark"))
    return tmp_path / "mark"


def test_build_streams_the_output(fake_docker, monkeypatch):
    monkeypatch.setenv("MODE", "ok")
    lines: list[str] = []
    Engine().build(BuildRequest(context="."), lines.append, step="the base build")
    assert lines == ["#1 [internal] load build definition"]


def test_failed_build_names_the_step(fake_docker, monkeypatch):
    monkeypatch.setenv("MODE", "fail")
    with pytest.raises(BuildFailed) as info:
        Engine().build(BuildRequest(context="."), lambda _line: None, step="the base build")
    assert str(info.value) == "the base build failed: [uvbuild-base 2/2] RUN false: 0.1 error: boom"


def _group(pgid: int) -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                if os.getpgid(int(entry.name)) == pgid:
                    pids.append(int(entry.name))
    return pids


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, IndexError):
        return False
    return state != "Z"


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="needs /proc")
@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_interrupted_build_stops_the_child_group(fake_docker, monkeypatch, signum):
    """The CLI's handler raises Interrupted in the main thread; the build forwards the
    signal to the child's process group and returns only once the group is gone."""
    monkeypatch.setenv("MODE", "wait")
    children: list[int] = []

    def on_signal(number, _frame):
        raise Interrupted(f"interrupted by {signal.Signals(number).name}", number)

    def on_line(line: str) -> None:
        if "RUN" in line:
            time.sleep(0.1)  # the script's `sleep` has started
            children.extend(_group(roots[0]))
            threading.Timer(0.2, os.kill, (os.getpid(), signum)).start()

    roots: list[int] = []
    real_popen = subprocess.Popen

    def popen(*args, **kwargs):
        process = real_popen(*args, **kwargs)
        roots.append(process.pid)
        return process

    monkeypatch.setattr(subprocess, "Popen", popen)
    previous = signal.signal(signum, on_signal)
    try:
        with pytest.raises(Interrupted) as info:
            Engine().build(BuildRequest(context="."), on_line, step="the base build")
    finally:
        signal.signal(signum, previous)
    assert info.value.exit_code == 128 + signum
    assert fake_docker.read_text().strip() == "got signal"
    assert roots[0] in children and len(children) >= 2  # the script and its sleep
    assert not [pid for pid in children if _alive(pid)]


def test_stop_process_group_kills_what_ignores_the_signal(tmp_path):
    process = subprocess.Popen(
        ["sh", "-c", "trap '' INT; sleep 30 & wait"],
        start_new_session=True,
        stdout=subprocess.DEVNULL,
    )
    time.sleep(0.2)
    started = time.monotonic()
    stop_process_group(process, signal.SIGINT, grace=0.5)
    assert time.monotonic() - started < 10
    assert process.returncode is not None
    assert not group_alive(process.pid)


# -- a missing docker CLI --------------------------------------------------------------------


def test_missing_cli_is_engine_unavailable(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    engine = Engine()
    assert engine.docker_path() is None
    for verb in (engine.check, engine.engine_info, engine.buildx_version, engine.inspect_builder):
        with pytest.raises(EngineUnavailable) as info:
            verb()
        assert str(info.value) == f"the docker CLI (docker) is not on PATH; {FIX_CLI}"
    with pytest.raises(EngineUnavailable):
        engine.image_exists("x:y")
    # a dry run still prints the commands a user would type
    assert engine.command_line(["buildx", "build", "."]) == "docker buildx build ."


# -- the docker buildx build flags of Makefiles and CI (issue 9, item 3) -------------------


@pytest.mark.parametrize(
    ("field", "value", "args"),
    [
        ("pull", True, ["--pull"]),
        ("provenance", "mode=max", ["--provenance=mode=max"]),
        ("provenance", True, ["--provenance=true"]),
        ("sbom", "generator=img", ["--sbom=generator=img"]),
        (
            "attests",
            ("type=sbom", "type=provenance,mode=max"),
            ["--attest", "type=sbom", "--attest", "type=provenance,mode=max"],
        ),
        ("annotations", ("index:a=b",), ["--annotation", "index:a=b"]),
        ("shm_size", "2g", ["--shm-size", "2g"]),
        ("ulimits", ("nofile=1024:2048",), ["--ulimit", "nofile=1024:2048"]),
        (
            "allow",
            ("network.host", "security.insecure"),
            ["--allow", "network.host", "--allow", "security.insecure"],
        ),
        ("call", "check", ["--call=check"]),
        ("outputs", ("type=docker,dest=a.tar",), ["--output", "type=docker,dest=a.tar"]),
        ("iidfile", "id.txt", ["--iidfile", "id.txt"]),
        ("metadata_file", "meta.json", ["--metadata-file", "meta.json"]),
    ],
)
def test_each_buildx_flag_in_docker_form(field, value, args):
    assert build_args(BuildRequest(context=".", **{field: value})) == [
        "buildx",
        "build",
        *args,
        ".",
    ]


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("sbom", None),
        ("attests", ()),
        ("annotations", ()),
        ("pull", False),
        ("shm_size", None),
        ("ulimits", ()),
        ("allow", ()),
        ("call", None),
    ],
)
def test_new_unset_values_add_nothing(field, value):
    assert build_args(BuildRequest(context=".", **{field: value})) == ["buildx", "build", "."]
