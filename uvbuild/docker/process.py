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
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

from uvbuild.errors import Interrupted

# How long a build child may take to stop after the signal before it is killed.
STOP_GRACE_SECONDS = 15.0


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
    caller knows which fix to name)."""
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


def start(
    command: Sequence[str], timeout: float, cwd: str | Path | None = None
) -> Callable[[], subprocess.CompletedProcess[str]]:
    """Start a short command now and return a function that waits for it (at most
    ``timeout`` seconds, then it is killed: exit code TIMED_OUT), so the caller can work
    meanwhile. A program that cannot be started raises OSError here."""
    process = subprocess.Popen(
        list(command),
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
    )

    def wait() -> subprocess.CompletedProcess[str]:
        try:
            stdout, stderr = process.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.communicate()
            return subprocess.CompletedProcess(
                list(command), TIMED_OUT, "", f"no answer within {timeout:.0f} s"
            )
        return subprocess.CompletedProcess(list(command), process.returncode, stdout, stderr)

    return wait


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
