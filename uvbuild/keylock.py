"""One base build per key at a time on this machine.

Two ``uvbuild build`` runs for the same key (parallel Makefile targets, two CI jobs on one
runner) must build the base once. The lock is an ``flock`` on a file under the user cache
directory: the kernel releases it when its holder exits or dies, so a crashed run never
leaves a stale lock behind, and the file's content (pid, host, start time) only serves
the waiting message.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path


def _hostname() -> str:
    """This machine's name, as ``socket.gethostname()`` gives it (without importing
    socket on every build's path)."""
    return os.uname().nodename


def lock_dir(cache_dir: Path) -> Path:
    return cache_dir / "locks"


def _holder(path: Path) -> str:
    try:
        info = json.loads(path.read_text(encoding="utf-8") or "{}")
    except (OSError, ValueError):
        return "another uvbuild run"
    pid = info.get("pid")
    host = info.get("host")
    since = info.get("since")
    parts = [f"pid {pid}" if pid else "another uvbuild run"]
    if host and host != _hostname():
        parts.append(f"on {host}")
    if since:
        parts.append(f"since {time.strftime('%H:%M:%S', time.localtime(since))}")
    return " ".join(parts)


@contextlib.contextmanager
def hold(
    cache_dir: Path,
    key: str,
    on_wait: Callable[[str], None] | None = None,
    poll: float = 0.2,
) -> Iterator[bool]:
    """Hold the lock of ``key``; yields whether this run had to wait for another one.

    Waiting polls with a non-blocking flock so that SIGINT and SIGTERM stay deliverable.
    """
    directory = lock_dir(cache_dir)
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{key[:32]}.lock"
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    waited = False
    try:
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except OSError as exc:
                if exc.errno not in (errno.EAGAIN, errno.EACCES):
                    raise
                if not waited and on_wait is not None:
                    on_wait(_holder(path))
                waited = True
                time.sleep(poll)
        record = {"pid": os.getpid(), "host": _hostname(), "since": time.time()}
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(record).encode(), 0)
        try:
            yield waited
        finally:
            os.ftruncate(fd, 0)
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)
