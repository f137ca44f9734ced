"""The per-key lock: one holder at a time, waiters told who holds it, dead holders release."""

from __future__ import annotations

import contextlib
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

from uvbuild import keylock

KEY = "ab" * 32

HOLDER = """
import sys, time
from collections.abc import Iterator
from pathlib import Path
from uvbuild import keylock
with keylock.hold(Path(sys.argv[1]), sys.argv[2]):
    print("holding", flush=True)
    time.sleep(float(sys.argv[3]))
print("released", flush=True)
"""


@contextlib.contextmanager
def holder_process(cache: Path, seconds: float) -> Iterator[subprocess.Popen[str]]:
    with subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(cache), KEY, str(seconds)],
        stdout=subprocess.PIPE,
        text=True,
    ) as proc:
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "holding"
        try:
            yield proc
        finally:
            proc.kill()
            proc.wait(5)


def test_an_uncontended_lock_does_not_wait(tmp_path):
    with keylock.hold(tmp_path, KEY) as waited:
        assert waited is False
    with keylock.hold(tmp_path, KEY) as waited:
        assert waited is False


def test_a_second_run_waits_for_the_first_and_is_told_who_holds_it(tmp_path):
    messages: list[str] = []
    with holder_process(tmp_path, 1.0) as holder:
        started = time.monotonic()
        with keylock.hold(tmp_path, KEY, on_wait=messages.append, poll=0.05) as waited:
            waited_for = time.monotonic() - started
            assert holder.wait(5) == 0
    assert waited is True
    assert waited_for > 0.5
    assert len(messages) == 1 and f"pid {holder.pid}" in messages[0]


def test_a_holder_that_dies_releases_the_lock(tmp_path):
    with holder_process(tmp_path, 60) as holder:
        holder.send_signal(signal.SIGKILL)
        holder.wait(5)
        started = time.monotonic()
        with keylock.hold(tmp_path, KEY, poll=0.05):
            assert time.monotonic() - started < 1


def test_other_keys_do_not_wait(tmp_path):
    with holder_process(tmp_path, 30), keylock.hold(tmp_path, "cd" * 32) as waited:
        assert waited is False


def test_builds_share_a_base_and_gc_cannot_claim_it_while_one_uses_it(tmp_path):
    with keylock.use(tmp_path, KEY) as waited, keylock.use(tmp_path, KEY) as also:
        assert (waited, also) == (False, False)  # builds never wait for each other
        with keylock.claim(tmp_path, KEY) as claimed:
            assert claimed is False
        with keylock.claim(tmp_path, "cd" * 32) as other:
            assert other is True  # another key's base is free
    with keylock.claim(tmp_path, KEY) as claimed:
        assert claimed is True
    with keylock.claim(tmp_path, KEY) as claimed:
        assert claimed is True  # released at the end of the block


USER = """
import sys, time
from pathlib import Path
from uvbuild import keylock
with keylock.claim(Path(sys.argv[1]), sys.argv[2]) as claimed:
    print("claimed" if claimed else "busy", flush=True)
    time.sleep(float(sys.argv[3]))
"""


def test_a_build_waits_while_gc_removes_its_base_and_is_told_who(tmp_path):
    messages: list[str] = []
    with subprocess.Popen(
        [sys.executable, "-c", USER, str(tmp_path), KEY, "1.0"], stdout=subprocess.PIPE, text=True
    ) as gc_run:
        assert gc_run.stdout is not None
        assert gc_run.stdout.readline().strip() == "claimed"
        with keylock.use(tmp_path, KEY, on_wait=messages.append, poll=0.05) as waited:
            assert gc_run.wait(5) == 0
    assert waited is True
    assert messages and messages[0].startswith(f"pid {gc_run.pid} since ")
