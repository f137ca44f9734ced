"""Running uvbuild as a user does, for the integration tests."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def uvbuild(
    *args: str, timeout: float = 900, env: Mapping[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """``python -m uvbuild ARGS`` in a child process: real streams, real exit code.

    ``env`` replaces the environment when given (callers merge os.environ themselves).
    """
    return subprocess.run(
        [sys.executable, "-m", "uvbuild", *args],
        cwd=REPO,
        env=dict(env) if env is not None else None,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        stdin=subprocess.DEVNULL,
    )
