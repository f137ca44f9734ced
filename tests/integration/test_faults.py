"""Faults on the real engine: `uvbuild doctor`'s pass and fail paths, engine faults in
every command that needs Docker, and interrupting a real base build (SIGINT, SIGTERM).

The interrupt tests use a loopback index of their own (one per test) whose wheel downloads
can be held (``IndexServer.file_delay``): the base stage's ``uv pip install`` then waits
inside its RUN step, where the signal arrives. Its URL is new each time, so the base key,
BuildKit's cache of the step and uv's cache of the wheels are new too.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests import synth
from tests.integration.helpers import delete_repository, registry_tags
from tests.integration.uvrun import uvbuild as run_uvbuild

REPO = Path(__file__).resolve().parents[2]
DEAD_SOCKET = "unix:///nonexistent.sock"
REGISTRY = "127.0.0.1:5000"
HEAVY_PATTERNS = list(synth.HEAVY_PATTERNS)


def environment(**env: str) -> dict[str, str]:
    merged = {**os.environ, "NO_COLOR": "1", **env}
    merged["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))
    return merged


def uvbuild(*args: str, timeout: float = 600, **env: str) -> subprocess.CompletedProcess[str]:
    return run_uvbuild(*args, timeout=timeout, env=environment(**env))


def image_exists(ref: str) -> bool:
    proc = subprocess.run(
        ["docker", "image", "inspect", ref], capture_output=True, timeout=60, check=False
    )
    return proc.returncode == 0


def one_error_line(proc: subprocess.CompletedProcess[str], *needles: str) -> str:
    assert "Traceback" not in proc.stdout + proc.stderr
    lines = proc.stderr.splitlines()
    assert len(lines) == 1, proc.stderr
    (line,) = lines
    assert line.startswith("error: "), line
    for needle in needles:
        assert needle in line, f"{needle!r} not in {line!r}"
    return line


def registry_up() -> bool:
    try:
        with urllib.request.urlopen(f"http://{REGISTRY}/v2/", timeout=5) as answer:
            return answer.status == 200
    except OSError:
        return False


# -- a project of its own, on an index whose downloads can be held ------------------------------


@pytest.fixture(scope="module")
def fault_wheels() -> Iterator[list[Path]]:
    with tempfile.TemporaryDirectory(prefix="uvbuild-faults-wheels-") as tmp:
        yield synth.populate_index(tmp, heavy_mb=16)


@pytest.fixture
def slow_index(fault_wheels: list[Path]) -> Iterator[synth.IndexServer]:
    """A fresh index per test: a new URL is a new base key, and wheels uv never cached, so
    every interrupt test really downloads inside its base RUN step."""
    with synth.IndexServer() as server:
        synth.add_to_index(server, fault_wheels)
        yield server


@pytest.fixture
def project(
    slow_index: synth.IndexServer, base_images: dict[str, str], tmp_path: Path
) -> synth.SyntheticProject:
    repo = f"uvbuild-test/synth-faults-{uuid.uuid4().hex[:8]}"
    return synth.make_project(
        tmp_path / "app",
        slow_index.url,
        tool_uvbuild={
            "heavy": HEAVY_PATTERNS,
            "base-image": base_images["python_image"],
            "uv-image": base_images["uv_image"],
            "base-repo": f"{repo}-base",
        },
        lock_now=True,
    )


def plan_tag(project: Path) -> str:
    proc = uvbuild("plan", "--json", str(project))
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)["base"]["tag"]


# -- doctor ---------------------------------------------------------------------------------


def doctor(*args: str, **env: str) -> tuple[subprocess.CompletedProcess[str], dict[str, Any]]:
    proc = uvbuild("doctor", "--json", *args, **env)
    document = json.loads(proc.stdout)
    assert document["schema"] == "uvbuild.doctor/1"
    return proc, document


def statuses(document: dict[str, Any]) -> dict[str, str]:
    return {check["name"]: check["status"] for check in document["checks"]}


def test_doctor_passes_on_this_engine(project):
    proc, document = doctor(str(project.path))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stderr == ""
    assert document["ok"] is True
    for check in document["checks"]:
        if check["required"]:
            assert check["status"] in ("pass", "skip"), check
    found = statuses(document)
    for name in ("docker-cli", "engine", "buildx", "builder", "frontend", "project"):
        assert found[name] == "pass", document
    assert found["base-image"] == found["uv-image"] == "pass"
    assert found["disk"] in ("pass", "warn")
    assert found["base-repo"] == "skip"  # a local repository name
    # the human form: one line per check, then the counts
    human = uvbuild("doctor", str(project.path))
    assert human.returncode == 0
    assert human.stdout.splitlines()[0].startswith("pass  docker CLI")
    assert "\x1b" not in human.stdout + human.stderr


def test_doctor_fails_without_an_engine(project):
    proc, document = doctor(str(project.path), DOCKER_HOST=DEAD_SOCKET)
    assert proc.returncode == 4
    assert document["ok"] is False
    found = statuses(document)
    assert found["engine"] == "fail"
    assert found["builder"] == found["frontend"] == found["disk"] == "skip"
    one_error_line(proc, "engine:", DEAD_SOCKET, "start the engine")


def test_doctor_fails_on_a_missing_builder(project):
    proc, document = doctor(str(project.path), "--builder", "uvbuild-no-such-builder")
    assert proc.returncode == 4
    assert statuses(document)["builder"] == "fail"
    one_error_line(proc, "builder:", "uvbuild-no-such-builder", "docker buildx ls")


def test_doctor_fails_on_a_missing_base_image(project):
    proc, document = doctor(str(project.path), "--base-image", "127.0.0.1:9/nope:1")
    assert proc.returncode == 4
    assert statuses(document)["base-image"] == "fail"
    one_error_line(proc, "base image:", "--base-image")


def test_doctor_checks_a_registry_base_repo(project):
    proc, document = doctor(str(project.path), "--base-repo", "127.0.0.1:9/nope/base")
    assert proc.returncode == 4
    assert statuses(document)["base-repo"] == "fail"
    one_error_line(proc, "base repository:", "127.0.0.1:9/nope/base")
    if not registry_up():
        pytest.skip(f"no registry at {REGISTRY} (../shared/docker/start-engine --registry)")
    name = f"uvbuild-test/doctor-{uuid.uuid4().hex[:8]}"
    repo = f"{REGISTRY}/{name}"
    try:
        proc, document = doctor(str(project.path), "--base-repo", repo)
        assert proc.returncode == 0, proc.stdout
        assert statuses(document)["base-repo"] == "pass"
        assert not image_exists(f"{repo}:uvbuild-doctor")  # the local probe tag is gone
        assert registry_tags(REGISTRY, name) == ["uvbuild-doctor"]  # the pushed probe
    finally:
        delete_repository(REGISTRY, name)


# -- engine faults in every command that needs Docker ------------------------------------------


@pytest.fixture
def no_buildx(tmp_path: Path) -> str:
    """A PATH whose `docker` answers every buildx command as a CLI without the plugin does."""
    real = shutil.which("docker")
    assert real is not None
    bin_dir = tmp_path / "no-buildx"
    bin_dir.mkdir()
    wrapper = bin_dir / "docker"
    wrapper.write_text(
        "#!/bin/sh\n"
        'if [ "$1" = buildx ]; then\n'
        "  echo \"docker: 'buildx' is not a docker command.\" >&2\n"
        "  echo \"See 'docker --help'\" >&2\n"
        "  exit 1\n"
        "fi\n"
        f'exec {real} "$@"\n'
    )
    wrapper.chmod(0o755)
    return f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}"


FAULTS = {
    "no-docker-cli": ({"PATH": "/nonexistent"}, [], ["docker CLI", "install Docker Engine"]),
    "engine-down": ({"DOCKER_HOST": DEAD_SOCKET}, [], [DEAD_SOCKET, "start the engine"]),
    "no-buildx": (None, [], ["buildx", "install the buildx plugin"]),
    "no-builder": ({}, ["--builder", "uvbuild-no-such-builder"], ["docker buildx ls"]),
}


@pytest.mark.parametrize("command", ["build", "doctor"])
@pytest.mark.parametrize("fault", list(FAULTS))
def test_engine_fault(project, no_buildx, fault, command):
    env, args, needles = FAULTS[fault]
    if env is None:
        env = {"PATH": no_buildx}
    proc = uvbuild(command, *args, str(project.path), **env)
    assert proc.returncode == 4, proc.stderr
    one_error_line(proc, *needles)
    assert "\x1b" not in proc.stdout + proc.stderr


# -- interrupts -----------------------------------------------------------------------------


def _children(pid: int) -> list[int]:
    """``pid``'s descendants, from /proc."""
    parents: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            parents.setdefault(ppid, []).append(int(entry.name))
    found, todo = [], [pid]
    while todo:
        for child in parents.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def _running(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def interrupt_base_build(
    project: synth.SyntheticProject, index: synth.IndexServer, tag: str, signum: int
) -> tuple[int, str, list[int]]:
    """Start `uvbuild build`, wait until the base stage's RUN downloads a heavy wheel,
    send ``signum``; returns (exit code, stderr, pids of the build child)."""
    before = len(index.requests)
    lines: list[str] = []
    heavy_wheel = re.compile(r"^/files/fake_(torch|nvidia_cuda_cu12)-.*\.whl$")
    with subprocess.Popen(
        [sys.executable, "-m", "uvbuild", "build", "--network", "host", "-t", tag],
        cwd=project.path,
        env=environment(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
    ) as process:
        assert process.stderr is not None and process.stdout is not None
        reader = threading.Thread(target=lambda: lines.extend(process.stderr), daemon=True)
        reader.start()
        deadline = time.monotonic() + 300
        try:
            while True:
                requests = index.requests[before:]
                base_run = any("[uvbuild-base" in line and "RUN" in line for line in lines)
                if base_run and any(heavy_wheel.match(path) for _, path in requests):
                    break
                assert process.poll() is None, "".join(lines)[-3000:]
                assert time.monotonic() < deadline, "".join(lines)[-3000:]
                time.sleep(0.1)
            build_pids = [pid for pid in _children(process.pid) if "buildx" in _cmdline(pid)]
            assert build_pids, "no docker buildx build child"
            process.send_signal(signum)
            code = process.wait(timeout=60)
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
            reader.join(timeout=10)
        assert process.stdout.read() == ""
    return code, "".join(lines), build_pids


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_interrupt_during_the_base_build(project, slow_index, image_cleanup, signum):
    base_tag = image_cleanup.add(plan_tag(project.path))
    app_tag = image_cleanup.tag("interrupted")
    assert not image_exists(base_tag)
    slow_index.file_delay = 20.0
    try:
        code, stderr, build_pids = interrupt_base_build(project, slow_index, app_tag, signum)
    finally:
        slow_index.file_delay = 0.0
    assert code == 128 + signum, stderr[-3000:]
    assert "Traceback" not in stderr
    assert "\x1b" not in stderr
    last = stderr.strip().splitlines()[-1]
    name = signal.Signals(signum).name
    assert last.startswith(f"error: interrupted by {name} while building the base"), last
    assert f"{base_tag} was not tagged" in last
    # the build child and its buildx plugin are gone, and nothing was tagged
    assert not [pid for pid in build_pids if _running(pid)]
    assert not image_exists(base_tag)
    assert not image_exists(app_tag)
    # the next run builds cleanly; -q prints only the image reference
    proc = uvbuild("build", "-q", "--network", "host", "-t", app_tag, str(project.path))
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout == f"{app_tag}\n"
    assert proc.stderr == ""
    assert image_exists(base_tag)
    assert image_exists(app_tag)
