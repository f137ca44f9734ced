"""The one runner: every process uvbuild starts goes through here.

``run`` runs a short command with a timeout; ``stream`` runs a long one (a build, a push) in
its own process group, passes each output line on, and on an interrupt sends the same
signal to the group and waits until it is gone, so nothing after it (a tag) happens; should
uvbuild itself be killed (SIGKILL), the kernel stops that child too.
"""

from __future__ import annotations

import contextlib
import ctypes
import fcntl
import os
import pty
import re
import signal
import subprocess
import sys
import termios
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

from uvbuild.errors import Interrupted

# How long a build child may take to stop after the signal before it is killed.
STOP_GRACE_SECONDS = 15.0
KILL_WAIT_SECONDS = 5.0  # how long a killed group may take to be gone


def signal_for(exc: BaseException) -> int:
    if isinstance(exc, Interrupted):
        return exc.signum
    if isinstance(exc, KeyboardInterrupt):
        return signal.SIGINT
    return signal.SIGTERM


def group_alive(pgid: int) -> bool:
    """Whether a process of the group still runs; zombies (an init that is slow to reap
    them, as in many containers) do not count."""
    proc = Path("/proc")
    if proc.is_dir():
        for entry in proc.iterdir():
            if not entry.name.isdigit():
                continue
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except (OSError, IndexError):
                continue
            if len(fields) > 2 and fields[2] == str(pgid) and fields[0] != "Z":
                return True
        return False
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def stop_process_group(
    process: subprocess.Popen[bytes], signum: int, grace: float = STOP_GRACE_SECONDS
) -> None:
    """Send ``signum`` to the child's process group (docker and its buildx plugin), wait
    until every process of the group is gone, and kill what is left after ``grace``
    seconds. A second interrupt while waiting kills the group at once."""
    pgid = process.pid
    try:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pgid, signum)
        deadline = time.monotonic() + grace
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=max(0.0, deadline - time.monotonic()))
        while group_alive(pgid) and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        if process.poll() is None or group_alive(pgid):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pgid, signal.SIGKILL)
            process.wait()
            # SIGKILL is delivered when each process next runs: on a loaded machine the
            # group's other members may still show as running for a moment
            gone_by = time.monotonic() + KILL_WAIT_SECONDS
            while group_alive(pgid) and time.monotonic() < gone_by:
                time.sleep(0.02)


def pseudo_terminal(terminal: int) -> tuple[int, int]:
    """A pseudo-terminal (master, slave) as large as the TTY ``terminal``."""
    master, slave = pty.openpty()
    with contextlib.suppress(OSError):
        size = fcntl.ioctl(terminal, termios.TIOCGWINSZ, b"\0" * 8)
        fcntl.ioctl(slave, termios.TIOCSWINSZ, size)
    return master, slave


_ESCAPE = re.compile(rb"\x1b\[[0-?]*[ -/]*[@-~]|\x1b[@-Z\\-_]|[\x00-\x08\x0b-\x1f\x7f]")


def tee_terminal(master: int, terminal: int) -> Iterator[str]:
    """Copy what the child writes on the pseudo-terminal to ``terminal`` as it comes,
    and yield it as plain lines (no escape sequences or control characters)."""
    pending = b""
    while True:
        try:
            chunk = os.read(master, 65536)
        except OSError:  # EIO: every writer has closed the pseudo-terminal
            chunk = b""
        if not chunk:
            break
        view = memoryview(chunk)
        while view:
            view = view[os.write(terminal, view) :]
        *complete, pending = (pending + chunk).split(b"\n")
        for raw in complete:
            yield _ESCAPE.sub(b"", raw).decode(errors="replace")
    if pending:
        yield _ESCAPE.sub(b"", pending).decode(errors="replace")


def _die_with_parent() -> None:
    """In a child before it runs its program (Linux): the kernel sends it SIGTERM when
    uvbuild dies, even by SIGKILL, which uvbuild cannot catch (when the thread that
    started it ends, strictly: uvbuild starts its children from the main thread). A push
    started in its own process group would otherwise outlive a killed uvbuild (a CI job
    cancelled with SIGKILL) and go on writing to the registry. The docker CLI passes the
    signal on to a plugin (buildx) by closing its plugin socket, which buildx 0.13 does
    not watch: such a build runs to its end, and nothing after it (the tag) happens."""
    with contextlib.suppress(Exception):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
        if os.getppid() == 1:  # uvbuild died before the prctl took hold
            os.kill(os.getpid(), signal.SIGTERM)


PR_SET_PDEATHSIG = 1
LineSink = Callable[[str], None]
TIMED_OUT = 124  # the exit code ``run`` gives a command that did not answer in time


def run(
    command: Sequence[str],
    timeout: float | None = None,
    cwd: str | Path | None = None,
    stdin: str | None = None,
) -> subprocess.CompletedProcess[str]:
    """A short command with its output captured (``stdin``: the text it reads, else
    nothing); a command that does not finish within ``timeout`` seconds is killed and
    reported with exit code TIMED_OUT. A program that cannot be started raises OSError (the
    caller knows which fix to name). The same command started ahead (``start_ahead``)
    gives its answer instead."""
    ahead = _take(command, cwd) if stdin is None else None
    if ahead is not None:
        done = ahead.wait(timeout)
        if done.returncode == 0 or not by_image_id(command):
            return done  # (an image asked by id may exist by now: asked again)
    try:
        return subprocess.run(
            list(command),
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
            input=stdin,
            stdin=subprocess.DEVNULL if stdin is None else None,
            cwd=cwd,
        )
    except subprocess.TimeoutExpired as exc:
        return subprocess.CompletedProcess(
            list(command), TIMED_OUT, "", f"no answer within {timeout:.0f} s ({exc.cmd[-1]})"
        )


class _Child:
    """A short command started with its output captured, waited for later."""

    def __init__(self, command: Sequence[str], cwd: str | Path | None) -> None:
        self.command = list(command)
        self.process = subprocess.Popen(
            self.command,
            cwd=cwd,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
            text=True,
        )

    def wait(self, timeout: float | None) -> subprocess.CompletedProcess[str]:
        """Its answer; killed after ``timeout`` seconds (exit code TIMED_OUT)."""
        try:
            stdout, stderr = self.process.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.stop()
            return subprocess.CompletedProcess(
                self.command, TIMED_OUT, "", f"no answer within {timeout:.0f} s"
            )
        return subprocess.CompletedProcess(self.command, self.process.returncode, stdout, stderr)

    def stop(self) -> None:
        with contextlib.suppress(OSError):
            self.process.kill()
        with contextlib.suppress(OSError, ValueError):
            self.process.communicate()


def start(
    command: Sequence[str], timeout: float, cwd: str | Path | None = None
) -> Callable[[], subprocess.CompletedProcess[str]]:
    """Start a short command now and return a function that waits for it (at most
    ``timeout`` seconds, then it is killed: exit code TIMED_OUT), so the caller can work
    meanwhile. A program that cannot be started raises OSError here. The same command
    started ahead (``start_ahead``) is taken instead."""
    ahead = _take(command, cwd)
    child = ahead or _Child(command, cwd)

    def wait() -> subprocess.CompletedProcess[str]:
        done = child.wait(timeout)
        if ahead is not None and done.returncode != 0 and by_image_id(command):
            with contextlib.suppress(OSError):  # (then its answer stands)
                return _Child(command, cwd).wait(timeout)  # the image may exist by now
        return done

    return wait


# -- answers started ahead ---------------------------------------------------------------
#
# uvbuild.docker.prefetch starts, before uvbuild's own modules are imported, the read-only
# commands (``AHEAD``) that the same invocation ran last time; ``run`` and ``start`` take
# such an answer when asked exactly that command (arguments and directory) again. An answer
# about what a name points to (a tag, a lock) is a snapshot, taken once and only before
# anything that could change it: every build or push (``stream``) first drops the snapshots
# not taken. A successful answer about what an image id fixes (``by_image_id``: its layers
# and history, not its tags) holds across builds. Every other command that is not
# read-only (``READ_ONLY``: a tag, a removal) drops all of them.

# Verbs whose answer may be started ahead, by program name.
AHEAD: dict[str, tuple[tuple[str, ...], ...]] = {
    "docker": (("image", "inspect"), ("image", "history")),
    "uv": (("lock", "--check"),),
}
# Verbs that change nothing a snapshot answers (the other commands drop the snapshots).
READ_ONLY: dict[str, tuple[tuple[str, ...], ...]] = {
    "docker": (
        *AHEAD["docker"],
        ("image", "ls"),
        ("buildx", "inspect"),
        ("buildx", "ls"),
        ("buildx", "version"),
        ("buildx", "du"),
        ("buildx", "imagetools", "inspect"),
        ("context", "inspect"),
        ("version",),
        ("info",),
        ("ps",),
        ("--version",),
    ),
    "uv": AHEAD["uv"],
}
_IMAGE_ID = re.compile(r"sha256:[0-9a-f]{64}")
# `image inspect` formats that read only what the image id fixes (its layers).
CONTENT_FORMATS = frozenset(("{{json .RootFS.Layers}}",))

_Key = tuple[tuple[str, ...], str | None]
_ahead: dict[_Key, _Child] = {}
_asked: list[_Key] | None = None  # the commands of AHEAD run so far (None: not recorded)
_lock = threading.Lock()


def _verb(command: Sequence[str], table: dict[str, tuple[tuple[str, ...], ...]]) -> bool:
    if not command:
        return False
    verbs = table.get(os.path.basename(command[0]), ())
    return any(tuple(command[1 : 1 + len(verb)]) == verb for verb in verbs)


def may_start_ahead(command: Sequence[str]) -> bool:
    """Whether ``command`` is a verb whose answer may be started ahead (``AHEAD``)."""
    return _verb(command, AHEAD)


def by_image_id(command: Sequence[str]) -> bool:
    """Whether ``command`` asks the engine only what an image id fixes: ``image history``
    of ids (each step's command and size; CreatedSince is a time relative to now), or an
    ``image inspect`` of ids whose format reads only their layers (``CONTENT_FORMATS``; an
    image's tags, say, move)."""
    if not (_verb(command, AHEAD) and os.path.basename(command[0]) == "docker"):
        return False
    refs, formats, args = [], [], iter(command[3:])
    for arg in args:
        if arg in ("--format", "-f"):
            formats.append(next(args, ""))
        elif not arg.startswith("-"):
            refs.append(arg)
    if command[2] == "inspect" and not (formats and set(formats) <= CONTENT_FORMATS):
        return False
    return bool(refs) and all(_IMAGE_ID.fullmatch(ref) for ref in refs)


def _key(command: Sequence[str], cwd: str | Path | None) -> _Key:
    return tuple(command), None if cwd is None else str(cwd)


def start_ahead(command: Sequence[str], cwd: str | Path | None = None) -> bool:
    """Start ``command`` (one of ``AHEAD``) now, for ``run`` or ``start`` to take later;
    False when it is not such a command or cannot be started."""
    if not may_start_ahead(command):
        return False
    key = _key(command, cwd)
    with _lock:
        if key in _ahead:
            return True
        try:
            _ahead[key] = _Child(command, cwd)
        except (OSError, ValueError):
            return False
    return True


def record_asked() -> None:
    """From now on, remember the commands of ``AHEAD`` run (``stop_ahead`` returns them)."""
    global _asked
    with _lock:
        _asked = []


def _take(command: Sequence[str], cwd: str | Path | None) -> _Child | None:
    """The answer started ahead for ``command``, if any; otherwise, a command that is not
    read-only drops the snapshots not taken yet."""
    key = _key(command, cwd)
    with _lock:
        if _asked is not None and may_start_ahead(command) and key not in _asked:
            _asked.append(key)
        child = _ahead.pop(key, None)
    if child is None and not _verb(command, READ_ONLY):
        drop_ahead(by_id_too=True)  # a tag, a removal...: nothing started ahead holds
    return child


def drop_ahead(*, by_id_too: bool = False) -> None:
    """Stop the answers started ahead that a change could make wrong: something is about
    to change the engine. A build (or a push) moves tags, not the content of an image id;
    ``by_id_too``: a command that may remove images."""
    with _lock:
        dropped = [key for key in _ahead if by_id_too or not by_image_id(key[0])]
        children = [_ahead.pop(key) for key in dropped]
    for child in children:
        child.stop()


def stop_ahead() -> list[tuple[list[str], str | None]]:
    """Stop every answer started ahead and not taken; the commands of ``AHEAD`` run since
    ``record_asked`` (with their directories), and recording ends."""
    global _asked
    with _lock:
        children = list(_ahead.values())
        _ahead.clear()
        asked, _asked = _asked or [], None
    for child in children:
        child.stop()
    return [(list(command), cwd) for command, cwd in asked]


def stream(
    command: Sequence[str],
    on_line: LineSink,
    env: dict[str, str] | None = None,
    terminal: int | None = None,
) -> tuple[int, list[str]]:
    """Run a long command in its own process group, passing each output line on; returns
    the exit code and the last lines. When uvbuild is interrupted (or anything fails while
    streaming) the same signal goes to the group, uvbuild waits for it to be gone (killing
    it after STOP_GRACE_SECONDS) and re-raises. A program that cannot be started raises
    OSError.

    With ``terminal`` (the file descriptor of a TTY) the child writes to a pseudo-terminal
    of that TTY's size instead of a pipe, so buildx draws its own TTY view; its bytes are
    copied to ``terminal`` unchanged, and ``on_line`` gets a plain copy of each line
    (escape sequences removed) for the failure message and scans."""
    drop_ahead()  # a build or a push moves tags
    master = slave = None
    if terminal is not None:
        master, slave = pseudo_terminal(terminal)
    try:
        process = subprocess.Popen(
            list(command),
            stdout=slave if slave is not None else subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=env,
            start_new_session=True,
            preexec_fn=_die_with_parent if sys.platform == "linux" else None,
        )
    finally:
        if slave is not None:
            os.close(slave)
    tail: list[str] = []
    try:
        if master is not None and terminal is not None:
            lines: Iterator[str] = tee_terminal(master, terminal)
        else:
            assert process.stdout is not None
            lines = (
                raw.decode(errors="replace").rstrip("\r\n")
                for raw in iter(process.stdout.readline, b"")
            )
        for line in lines:
            tail = [*tail[-40:], line]
            on_line(line)
        code = process.wait()
    except BaseException as exc:
        stop_process_group(process, signal_for(exc))
        raise
    finally:
        if process.stdout is not None:
            process.stdout.close()
        if master is not None:
            os.close(master)
    return code, tail
