"""Run a command in a detached tmux pane of a given size and read the screen back
(``capture-pane``), to check what a user's terminal shows. Each run uses its own tmux
server socket, killed afterwards."""

from __future__ import annotations

import shlex
import shutil
import subprocess
import time
import uuid
from collections.abc import Mapping, Sequence

import pytest

DONE = "uvbuild-tmux-exit="


def need_tmux() -> None:
    if shutil.which("tmux") is None:
        pytest.skip("tmux is not installed (apt-get install tmux)")


def run_in_tmux(
    command: Sequence[str],
    *,
    width: int = 80,
    height: int = 50,
    cwd: str | None = None,
    env: Mapping[str, str] | None = None,
    timeout: float = 120,
) -> tuple[int, str]:
    """Run ``command`` in a ``width`` x ``height`` pane; returns its exit code and the
    screen with its scrollback, wrapped lines joined (``capture-pane -p -J -S -``)."""
    need_tmux()
    socket = f"uvbuild-test-{uuid.uuid4().hex[:8]}"
    tmux = ["tmux", "-L", socket, "-f", "/dev/null"]
    exports = " ".join(f"{k}={shlex.quote(v)}" for k, v in (env or {}).items())
    script = (
        (f"cd {shlex.quote(cwd)} && " if cwd else "")
        + (f"export {exports} && " if exports else "")
        + f"{shlex.join(command)}; echo {DONE}$?; sleep 3600"
    )
    subprocess.run(
        [*tmux, "new-session", "-d", "-x", str(width), "-y", str(height), script], check=True
    )
    try:
        subprocess.run([*tmux, "set-option", "-g", "history-limit", "20000"], check=True)
        deadline = time.monotonic() + timeout
        while True:
            screen = subprocess.run(
                [*tmux, "capture-pane", "-p", "-J", "-S", "-"],
                capture_output=True,
                text=True,
                check=True,
            ).stdout
            if DONE in screen:
                break
            if time.monotonic() > deadline:
                raise AssertionError(f"{command} did not finish in {timeout} s:\n{screen}")
            time.sleep(0.5)
        head, _, code = screen.rpartition(DONE)
        return int(code.split()[0]), head
    finally:
        subprocess.run([*tmux, "kill-server"], check=False, capture_output=True)
