"""Running the CLI as the tests do: in-process through ``cli.main`` (exit code, stdout,
stderr), or as a child process with no engine reachable."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.paths import REPO
from uvbuild import cli
from uvbuild.cli import planning
from uvbuild.docker.verbs import EngineLike
from uvbuild.uvcheck import LockCheck

DEAD_SOCKET = "unix:///nonexistent.sock"
PLAN_ARGS = ("--platform", "linux/amd64", "--python", "3.11")


def fake_lock_check(monkeypatch, check: LockCheck | None = None) -> None:
    """``uv lock --check`` answers ``check`` (default: fresh) without running uv."""
    answer = check or LockCheck("fresh")
    monkeypatch.setattr(planning, "start_lock_check", lambda _dir: lambda: answer)


def engine_factory(engine: EngineLike) -> cli.EngineFactory:
    """The App's engine factory that hands every command ``engine`` (a fake)."""

    def make(*, builder, log, trace) -> EngineLike:
        return engine

    return make


def run_main(capsys, *args: str, engine: EngineLike | None = None) -> tuple[int, str, str]:
    """``uvbuild ARGS`` in-process: (exit code, stdout, stderr). ``engine``: the engine the
    commands get (default: the real one)."""
    with pytest.raises(SystemExit) as info:
        if engine is None:
            cli.main(list(args))
        else:
            cli.main(list(args), engine_factory=engine_factory(engine))
    out, err = capsys.readouterr()
    code = info.value.code
    return (0 if code is None else code), out, err


def run_process(*args: str, cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    environment = {**os.environ, "NO_COLOR": "1", "DOCKER_HOST": DEAD_SOCKET, **env}
    environment["PYTHONPATH"] = os.pathsep.join(
        filter(None, [str(REPO), environment.get("PYTHONPATH")])
    )
    return subprocess.run(
        [sys.executable, "-m", "uvbuild", *args],
        cwd=cwd,
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )


def assert_one_error_line(out: str, err: str, *needles: str) -> str:
    assert "Traceback" not in out + err
    assert out == ""
    lines = err.splitlines()
    assert len(lines) == 1, err
    (line,) = lines
    assert line.startswith("error: "), line
    for needle in needles:
        assert needle in line, f"{needle!r} not in {line!r}"
    return line
