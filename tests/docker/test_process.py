"""uvbuild.docker.process: the runner stops a child's whole process group."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.paths import REPO
from uvbuild.docker.process import group_alive, stop_process_group


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


STREAMER = """
from uvbuild.docker import process
process.stream(["sh", "-c", "echo $$; exec sleep 300"], lambda line: print(line, flush=True))
"""


def _running(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def test_a_streamed_child_dies_with_a_sigkilled_uvbuild(tmp_path):
    """A build or push runs in its own process group, so a SIGKILL of uvbuild's group does
    not reach it: the kernel's parent-death signal stops it instead."""
    parent = subprocess.Popen(
        [sys.executable, "-c", STREAMER],
        cwd=REPO,
        stdout=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    assert parent.stdout is not None
    with parent.stdout:
        child = int(parent.stdout.readline())
        assert _running(child)
        os.killpg(parent.pid, signal.SIGKILL)
        parent.wait(30)
    deadline = time.monotonic() + 30
    while _running(child) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _running(child)
