"""uvbuild.docker.process: the runner stops a child's whole process group."""

from __future__ import annotations

import signal
import subprocess
import time

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
