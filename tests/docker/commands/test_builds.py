"""uvbuild.docker.commands.builds without an engine: a fake `docker` script streams, fails
(a named step, a full disk) and is interrupted; a build forgets the layers under its tags."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import threading
import time
from pathlib import Path

import pytest

from tests.fakes import docker_on_path
from uvbuild.docker.engine import Engine
from uvbuild.docker.facts.faults import FIX_DISK
from uvbuild.docker.requests import BuildRequest
from uvbuild.errors import BuildFailed, Interrupted

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
if [ "$MODE" = full ]; then
  echo " > [uvbuild-base 3/3] RUN uv pip install:"
  echo "0.4 error: Failed to write to the cache: No space left on device (os error 28)"
  echo "------"
  echo "ERROR: failed to solve: process did not complete successfully: exit code: 2"
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
    docker_on_path(tmp_path, monkeypatch, FAKE_DOCKER.replace("$SIG", "signal"))
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


def test_build_out_of_disk_space_says_the_engine_disk_is_full(fake_docker, monkeypatch):
    monkeypatch.setenv("MODE", "full")
    with pytest.raises(BuildFailed) as info:
        Engine().build(BuildRequest(context="."), lambda _line: None, step="the base build")
    assert str(info.value) == (
        "the base build failed: the engine's disk is full (0.4 error: Failed to write to the "
        f"cache: No space left on device); {FIX_DISK}"
    )
    assert "uvbuild gc" in FIX_DISK and "docker builder prune" in FIX_DISK


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


def _group(pgid: int) -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                if os.getpgid(int(entry.name)) == pgid:
                    pids.append(int(entry.name))
    return pids


def test_a_build_forgets_the_layers_seen_under_the_tags_it_writes(fake_docker, monkeypatch):
    monkeypatch.setenv("MODE", "ok")
    engine = Engine()
    engine._seen_layers.update({"app:1": ("sha256:x",), "base:1": ("sha256:y",)})
    engine.build(BuildRequest(context=".", tags=("app:1",)), lambda _line: None, step="app")
    assert engine._seen_layers == {"base:1": ("sha256:y",)}
