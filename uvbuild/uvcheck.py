"""Asks uv itself whether uv.lock still matches pyproject.toml, offline and bounded."""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

CHECK_TIMEOUT = 30


@dataclass(frozen=True, slots=True)
class LockCheck:
    status: str  # "fresh", "stale" or "unchecked"
    detail: str = ""


def check_lock(project_dir: str | Path, uv: str | None = None) -> LockCheck:
    uv = uv or shutil.which("uv")
    if uv is None:
        return LockCheck("unchecked", "uv is not on PATH, so uv.lock was not checked")
    try:
        proc = subprocess.run(
            [uv, "lock", "--check", "--offline", "--no-progress"],
            cwd=project_dir,
            capture_output=True,
            text=True,
            timeout=CHECK_TIMEOUT,
            stdin=subprocess.DEVNULL,
        )
    except subprocess.TimeoutExpired:
        return LockCheck("unchecked", f"`uv lock --check` took over {CHECK_TIMEOUT} s")
    except OSError as exc:
        return LockCheck("unchecked", f"cannot run uv ({exc})")
    if proc.returncode == 0:
        return LockCheck("fresh")
    text = proc.stderr
    if "needs to be updated" in text:
        return LockCheck("stale", "uv.lock does not match pyproject.toml; run `uv lock`")
    errors = [line for line in text.splitlines() if line.startswith("error:")]
    reason = errors[0].removeprefix("error:").strip() if errors else f"exit {proc.returncode}"
    return LockCheck("unchecked", f"`uv lock --check --offline` could not decide: {reason}")
