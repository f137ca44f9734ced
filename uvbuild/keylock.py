"""One base build per key at a time on this machine.

Two ``uvbuild build`` runs for the same key (parallel Makefile targets, two CI jobs on one
runner) must build the base once. The lock is an ``flock`` on a file under the user cache
directory: the kernel releases it when its holder exits or dies, so a crashed run never
leaves a stale lock behind, and the file's content (pid, host, start time) only serves
the waiting message.

The same directory holds the locks that keep ``uvbuild gc`` from removing a base a build
is using (:func:`use`, :func:`claim`).
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


def _acquire(
    fd: int,
    path: Path,
    mode: int,
    on_wait: Callable[[str], None] | None,
    poll: float,
) -> bool:
    """Take ``flock(fd, mode)``; returns whether it had to wait. Waiting polls with a
    non-blocking flock so that SIGINT and SIGTERM stay deliverable."""
    waited = False
    while not _try_lock(fd, mode):
        if not waited and on_wait is not None:
            on_wait(_holder(path))
        waited = True
        time.sleep(poll)
    return waited


def _try_lock(fd: int, mode: int) -> bool:
    """Take ``flock(fd, mode)`` if no one holds it against us now."""
    try:
        fcntl.flock(fd, mode | fcntl.LOCK_NB)
    except OSError as exc:
        if exc.errno not in (errno.EAGAIN, errno.EACCES):
            raise
        return False
    return True


@contextlib.contextmanager
def _lock_file(cache_dir: Path, name: str) -> Iterator[tuple[int, Path]]:
    directory = lock_dir(cache_dir)
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / name
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        yield fd, path
    finally:
        os.close(fd)


@contextlib.contextmanager
def _locked(fd: int, signed: bool) -> Iterator[None]:
    """Release the lock already taken on ``fd`` when the block ends; ``signed``: the
    holder's record is written for the waiting message, and wiped on release."""
    if signed:
        _sign(fd)
    try:
        yield
    finally:
        if signed:
            os.ftruncate(fd, 0)
        fcntl.flock(fd, fcntl.LOCK_UN)


def _sign(fd: int) -> None:
    record = {"pid": os.getpid(), "host": _hostname(), "since": time.time()}
    os.ftruncate(fd, 0)
    os.pwrite(fd, json.dumps(record).encode(), 0)


@contextlib.contextmanager
def hold(
    cache_dir: Path,
    key: str,
    on_wait: Callable[[str], None] | None = None,
    poll: float = 0.2,
) -> Iterator[bool]:
    """Hold the lock of ``key``; yields whether this run had to wait for another one."""
    with _lock_file(cache_dir, f"{key[:32]}.lock") as (fd, path):
        waited = _acquire(fd, path, fcntl.LOCK_EX, on_wait, poll)
        with _locked(fd, signed=True):
            yield waited


# -- using a base, and removing one ---------------------------------------------------------
#
# A build holds a shared lock on the base key it uses, from before it looks for the base
# until its app build is over; ``uvbuild gc`` removes a base only while it holds that lock
# exclusively, which it never waits for. So gc cannot remove a base between the moment a
# build found it and the end of the build that reads it, and a build that starts while gc
# removes the base waits, then looks again (and builds the base when it is gone).


@contextlib.contextmanager
def use(
    cache_dir: Path,
    key: str,
    on_wait: Callable[[str], None] | None = None,
    poll: float = 0.2,
) -> Iterator[bool]:
    """Hold a shared lock on the base of ``key`` (its full key) while a build uses it;
    any number of builds hold it at once. Yields whether it had to wait (for gc)."""
    with _lock_file(cache_dir, f"{key[:32]}.use") as (fd, path):
        waited = _acquire(fd, path, fcntl.LOCK_SH, on_wait, poll)
        with _locked(fd, signed=False):
            yield waited


@contextlib.contextmanager
def claim(cache_dir: Path, key: str) -> Iterator[bool]:
    """Try to take the base of ``key`` for removal, without waiting: yields True and
    keeps builds from starting to use it until the block ends, or False when a build
    uses it now (nothing is held then)."""
    with _lock_file(cache_dir, f"{key[:32]}.use") as (fd, _path):
        if not _try_lock(fd, fcntl.LOCK_EX):
            yield False
            return
        with _locked(fd, signed=True):
            yield True
