"""Asks uv itself whether uv.lock still matches pyproject.toml, offline and bounded (through
the one runner, ``uvbuild.docker.process``)."""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from uvbuild.docker import process

CHECK_TIMEOUT = 30


@dataclass(frozen=True, slots=True)
class LockCheck:
    status: str  # "fresh", "stale" or "unchecked"
    detail: str = ""


def find_uv() -> str | None:
    """The uv to ask: the one on PATH, else the one installed with the running interpreter.

    ``pip install uv`` into uvbuild's own virtual environment puts the binary in that
    environment's bin/, which is not on PATH unless the environment is activated (pipx,
    ``venv/bin/uvbuild``, a Makefile calling ``.venv/bin/uvbuild``). The ``uv`` package's
    ``find_uv_bin()`` also knows the layouts of ``--prefix``, ``--target`` and ``--user``.
    """
    found = shutil.which("uv")
    if found:
        return found
    # not resolved: a venv's python is a symlink, and its uv sits beside the link
    beside = Path(sys.executable).parent / ("uv.exe" if os.name == "nt" else "uv")
    if beside.is_file() and os.access(beside, os.X_OK):
        return str(beside)
    try:
        from uv import find_uv_bin  # the `uv` distribution, when it is installed
    except ImportError:
        return None
    try:
        return find_uv_bin()
    except FileNotFoundError:
        return None


def start_lock_check(project_dir: str | Path, uv: str | None = None) -> Callable[[], LockCheck]:
    """Start the check and return a function that waits for its verdict, so the caller can
    plan while uv works."""
    uv = uv or find_uv()
    if uv is None:
        verdict = LockCheck(
            "unchecked",
            f"uv is neither on PATH nor installed beside {sys.executable}, so uv.lock was "
            "not checked; install uv (or `pip install 'uvbuild[uv]'`)",
        )
        return lambda: verdict
    try:
        wait = process.start(
            [uv, "lock", "--check", "--offline", "--no-progress"], CHECK_TIMEOUT, project_dir
        )
    except OSError as exc:
        verdict = LockCheck("unchecked", f"cannot run uv ({exc})")
        return lambda: verdict

    def verdict_of_uv() -> LockCheck:
        done = wait()
        # uv's own exit codes are 0, 1 and 2: TIMED_OUT is the runner's
        if done.returncode == process.TIMED_OUT:
            return LockCheck("unchecked", f"`uv lock --check` took over {CHECK_TIMEOUT} s")
        return _verdict(done.returncode, done.stderr)

    return verdict_of_uv


def check_lock(project_dir: str | Path, uv: str | None = None) -> LockCheck:
    return start_lock_check(project_dir, uv)()


def _verdict(returncode: int, stderr: str) -> LockCheck:
    if returncode == 0:
        return LockCheck("fresh")
    if "needs to be updated" in stderr:
        return LockCheck("stale", "uv.lock does not match pyproject.toml; run `uv lock`")
    errors = [line for line in stderr.splitlines() if line.startswith("error:")]
    reason = errors[0].removeprefix("error:").strip() if errors else f"exit {returncode}"
    return LockCheck("unchecked", f"`uv lock --check --offline` could not decide: {reason}")
