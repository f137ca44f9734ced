"""Asks uv itself whether uv.lock still matches pyproject.toml, offline and bounded."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

CHECK_TIMEOUT = 30


@dataclass(frozen=True, slots=True)
class LockCheck:
    status: str  # "fresh", "stale" or "unchecked"
    detail: str = ""


def start_lock_check(project_dir: str | Path, uv: str | None = None) -> Callable[[], LockCheck]:
    """Start the check and return a function that waits for its verdict, so the caller can
    plan while uv works."""
    uv = uv or shutil.which("uv")
    if uv is None:
        verdict = LockCheck("unchecked", "uv is not on PATH, so uv.lock was not checked")
        return lambda: verdict
    try:
        proc = subprocess.Popen(
            [uv, "lock", "--check", "--offline", "--no-progress"],
            cwd=project_dir,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
            text=True,
        )
    except OSError as exc:
        verdict = LockCheck("unchecked", f"cannot run uv ({exc})")
        return lambda: verdict

    def wait() -> LockCheck:
        try:
            _, stderr = proc.communicate(timeout=CHECK_TIMEOUT)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate()
            return LockCheck("unchecked", f"`uv lock --check` took over {CHECK_TIMEOUT} s")
        return _verdict(proc.returncode, stderr)

    return wait


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
