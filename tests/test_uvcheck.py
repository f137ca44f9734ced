"""The lock check asks the real uv, offline: fresh, stale, or honestly unchecked."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import types
from pathlib import Path

import pytest

from uvbuild import uvcheck
from uvbuild.uvcheck import check_lock, find_uv, start_lock_check

UV = shutil.which("uv")
needs_uv = pytest.mark.skipif(UV is None, reason="uv is not on PATH")

PYPROJECT = """\
[project]
name = "x"
version = "0.1.0"
requires-python = ">=3.8"
dependencies = [{deps}]
"""


@pytest.fixture
def project(tmp_path):
    (tmp_path / "pyproject.toml").write_text(PYPROJECT.format(deps=""))
    subprocess.run([UV, "lock", "--offline", "-q"], cwd=tmp_path, check=True)
    return tmp_path


@needs_uv
def test_fresh_lock(project):
    assert check_lock(project).status == "fresh"


@needs_uv
def test_stale_lock_says_run_uv_lock(project):
    pyproject = project / "pyproject.toml"
    pyproject.write_text(pyproject.read_text().replace("0.1.0", "0.2.0"))
    verdict = check_lock(project)
    assert verdict.status == "stale"
    assert "run `uv lock`" in verdict.detail


@needs_uv
def test_a_check_that_needs_the_network_is_unchecked_not_stale(project):
    (project / "pyproject.toml").write_text(PYPROJECT.format(deps='"surely-not-cached-pkg"'))
    verdict = check_lock(project)
    assert verdict.status == "unchecked"
    assert "could not decide" in verdict.detail


def _uv_binary() -> Path | None:
    """The uv executable itself (the one on PATH may be a shim that needs PATH)."""
    try:
        from uv import find_uv_bin
    except ImportError:
        return Path(UV).resolve() if UV else None
    return Path(find_uv_bin())


UV_BINARY = _uv_binary()


@pytest.fixture
def no_uv_anywhere(tmp_path, monkeypatch):
    """PATH without uv (a Python only, which `uv lock` needs), an interpreter with no uv
    beside it, no `uv` package."""
    python_only = tmp_path / "python-only"
    python_only.mkdir()
    (python_only / "python3").symlink_to(Path(sys.executable).resolve())
    monkeypatch.setenv("PATH", str(python_only))
    bare = tmp_path / "bare-venv" / "bin"
    bare.mkdir(parents=True)
    monkeypatch.setattr(sys, "executable", str(bare / "python"))
    monkeypatch.setitem(sys.modules, "uv", None)  # `import uv` raises ImportError
    return tmp_path


def test_without_uv_nothing_is_checked(no_uv_anywhere):
    assert find_uv() is None
    verdict = start_lock_check(no_uv_anywhere)()
    assert verdict.status == "unchecked"
    assert "neither on PATH nor installed beside" in verdict.detail
    assert "uvbuild[uv]" in verdict.detail


@needs_uv
def test_uv_installed_beside_the_interpreter_is_found_without_path(
    project, no_uv_anywhere, monkeypatch
):
    # A venv holding uvbuild and uv, not activated: its bin/ is not on PATH.
    venv_bin = no_uv_anywhere / "venv" / "bin"
    venv_bin.mkdir(parents=True)
    (venv_bin / "python").symlink_to(sys.executable)
    (venv_bin / "uv").symlink_to(UV_BINARY)
    monkeypatch.setattr(sys, "executable", str(venv_bin / "python"))
    assert shutil.which("uv") is None
    assert find_uv() == str(venv_bin / "uv")
    assert check_lock(project).status == "fresh"


def test_path_wins_over_the_interpreters_directory(no_uv_anywhere, monkeypatch):
    on_path = no_uv_anywhere / "on-path"
    on_path.mkdir()
    uv = on_path / "uv"
    uv.write_text("#!/bin/sh\nexit 0\n")
    uv.chmod(0o755)
    monkeypatch.setenv("PATH", f"{on_path}{os.pathsep}{os.environ['PATH']}")
    assert find_uv() == str(uv)


def test_the_uv_packages_finder_is_the_last_resort(no_uv_anywhere, monkeypatch):
    module = types.ModuleType("uv")
    module.find_uv_bin = lambda: "/somewhere/bin/uv"
    monkeypatch.setitem(sys.modules, "uv", module)
    assert find_uv() == "/somewhere/bin/uv"

    def missing():
        raise FileNotFoundError("Could not find the uv binary")

    module.find_uv_bin = missing
    assert find_uv() is None


def test_a_non_executable_uv_beside_the_interpreter_is_not_taken(no_uv_anywhere):
    beside = Path(sys.executable).parent / "uv"
    beside.write_text("not a program")
    beside.chmod(0o644)
    assert uvcheck.find_uv() is None


def fake_uv(directory: Path, script: str) -> str:
    """A stand-in for uv: a shell script that does what ``script`` says."""
    uv = directory / "fake-uv"
    uv.write_text(f"#!/bin/sh\n{script}\n")
    uv.chmod(0o755)
    return str(uv)


def test_uv_runs_through_the_one_runner_while_the_caller_works(tmp_path, monkeypatch):
    started = []
    real_start = uvcheck.process.start

    def start(command, timeout, cwd=None):
        started.append((command[1:], timeout, cwd))
        return real_start(command, timeout, cwd)

    monkeypatch.setattr(uvcheck.process, "start", start)
    uv = fake_uv(tmp_path, "echo 'error: The lockfile needs to be updated' >&2; exit 1")
    wait = start_lock_check(tmp_path, uv)
    assert started == [(["lock", "--check", "--offline", "--no-progress"], 30, tmp_path)]
    verdict = wait()
    assert verdict.status == "stale" and "run `uv lock`" in verdict.detail


def test_a_uv_that_does_not_answer_is_unchecked(tmp_path, monkeypatch):
    monkeypatch.setattr(uvcheck, "CHECK_TIMEOUT", 0.2)
    verdict = check_lock(tmp_path, fake_uv(tmp_path, "exec sleep 30"))
    assert verdict == uvcheck.LockCheck("unchecked", "`uv lock --check` took over 0.2 s")


def test_a_uv_that_cannot_start_is_unchecked(tmp_path):
    verdict = check_lock(tmp_path, str(tmp_path / "no-such-uv"))
    assert verdict.status == "unchecked" and verdict.detail.startswith("cannot run uv (")


# -- fresh verdicts kept between runs ------------------------------------------------------

LOCK = 'version = 1\n\n[[package]]\nname = "x"\nsource = { editable = "." }\n'


@pytest.fixture
def counted(tmp_path, monkeypatch):
    """A project with a uv.lock, and a fake uv that logs each run and exits with the
    code in ``code``; ``(project, uv, runs)``, ``runs()`` counting uv's runs so far."""
    project = tmp_path / "project"
    project.mkdir()
    (project / "pyproject.toml").write_text(PYPROJECT.format(deps=""))
    (project / "uv.lock").write_text(LOCK)
    log, code = tmp_path / "uv.log", tmp_path / "code"
    code.write_text("0")
    uv = fake_uv(
        tmp_path,
        f'echo run >> {log}; c=$(cat {code}); [ "$c" = 0 ] || '
        "echo 'error: The lockfile needs to be updated' >&2; exit $c",
    )
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))

    def runs() -> int:
        return len(log.read_text().splitlines()) if log.exists() else 0

    return project, uv, runs, code


def test_a_fresh_verdict_is_kept_while_its_inputs_are_the_same(counted):
    project, uv, runs, _code = counted
    assert check_lock(project, uv).status == "fresh"
    assert check_lock(project, uv).status == "fresh"
    assert runs() == 1


@pytest.mark.parametrize(
    "change",
    ["pyproject", "lock", "uv.toml", "python-version", "env", "parent"],
)
def test_a_change_to_what_uv_reads_asks_uv_again(counted, monkeypatch, change):
    project, uv, runs, _code = counted
    check_lock(project, uv)
    if change == "pyproject":
        (project / "pyproject.toml").write_text(PYPROJECT.format(deps='"y"'))
    elif change == "lock":
        (project / "uv.lock").write_text(LOCK + "\n")
    elif change == "uv.toml":
        (project / "uv.toml").write_text('index-url = "http://127.0.0.1:1/simple"\n')
    elif change == "python-version":
        (project / ".python-version").write_text("3.12\n")
    elif change == "env":
        monkeypatch.setenv("UV_INDEX_URL", "http://127.0.0.1:1/simple")
    else:  # a workspace above the project
        (project.parent / "pyproject.toml").write_text("[tool.uv.workspace]\n")
    check_lock(project, uv)
    assert runs() == 2


def test_only_fresh_verdicts_are_kept(counted):
    project, uv, runs, code = counted
    code.write_text("1")
    assert check_lock(project, uv).status == "stale"
    assert check_lock(project, uv).status == "stale"
    assert runs() == 2


def test_a_path_source_uv_would_build_is_always_asked(counted):
    project, uv, runs, _code = counted
    member = project / "member"
    member.mkdir()
    (member / "setup.py").write_text("from setuptools import setup\nsetup()\n")
    (project / "uv.lock").write_text(LOCK + 'source = { directory = "member" }\n')
    assert uvcheck.fingerprint(project, uv, os.environ) is None
    check_lock(project, uv)
    check_lock(project, uv)
    assert runs() == 2


def test_a_kept_verdict_lasts_a_day_at_most(tmp_path):
    now = [1000.0]
    cache = uvcheck.VerdictCache(tmp_path, clock=lambda: now[0])
    cache.keep("key")
    assert cache.fresh("key") and not cache.fresh("other")
    now[0] += uvcheck.TTL_SECONDS
    assert not cache.fresh("key")
