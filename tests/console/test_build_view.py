"""BuildKit's own TTY view (``--progress auto`` on a terminal): the build child gets a
pseudo-terminal as large as uvbuild's, its bytes reach the terminal unchanged, and uvbuild
keeps a plain copy of its lines; the Terminal pauses its live line meanwhile and falls back
to plain streamed lines on a pipe, with -q, or with --progress plain."""

from __future__ import annotations

import contextlib
import fcntl
import os
import struct
import sys
import termios

import pytest

from tests.clirun import DEAD_SOCKET, PLAN_ARGS, run_main
from tests.fakes import FakeEngine, FakeReport, docker_on_path
from tests.paths import FIXTURES
from uvbuild import planner
from uvbuild.console.terminal import Terminal
from uvbuild.docker.engine import Engine
from uvbuild.docker.requests import BuildRequest
from uvbuild.errors import BuildFailed
from uvbuild.flow.build import BuildFlow
from uvbuild.flow.options import BuildOptions

FAKE_DOCKER = r"""#!/bin/sh
# A stand-in for `docker buildx build` that draws like BuildKit's TTY view on a terminal.
if [ -t 2 ]; then
  printf '[+] Building 0.1s (1/2)\r\n\033[1A\033[K[+] Building 0.2s (2/2) FINISHED\r\n'
  printf ' => [app 2/2] RUN uv sync\033[0m\r\n'
else
  echo "#1 a pipe"
fi
if [ "$MODE" = fail ]; then
  printf -- '------\n > [app 2/2] RUN \033[1mfalse\033[0m:\n0.1 error: boom\n------\n' >&2
  echo "ERROR: failed to solve: process \"/bin/sh -c false\" did not complete" >&2
  exit 1
fi
printf 'no newline at the end'
"""


@pytest.fixture
def fake_docker(tmp_path, monkeypatch):
    docker_on_path(tmp_path, monkeypatch, FAKE_DOCKER)


@pytest.fixture
def tty():
    """A pseudo-terminal of 100x30 standing in for uvbuild's own terminal: (write end fd,
    a reader of everything written to it)."""
    master, slave = os.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 30, 100, 0, 0))
    attrs = termios.tcgetattr(slave)
    attrs[1] &= ~termios.OPOST  # no output processing: read back exactly what was written
    termios.tcsetattr(slave, termios.TCSANOW, attrs)

    def written() -> bytes:
        os.set_blocking(master, False)
        data = b""
        try:
            while chunk := os.read(master, 65536):
                data += chunk
        except BlockingIOError:
            pass
        return data

    yield slave, written
    os.close(slave)
    os.close(master)


def test_the_child_draws_on_a_terminal_and_uvbuild_keeps_plain_lines(fake_docker, tty):
    fd, written = tty
    lines: list[str] = []
    Engine().build(BuildRequest(context="."), lines.append, step="the app build", terminal=fd)
    raw = written()
    assert b"\x1b[1A\x1b[K[+] Building 0.2s (2/2) FINISHED" in raw  # unchanged for the view
    assert lines == [
        "[+] Building 0.1s (1/2)",
        "[+] Building 0.2s (2/2) FINISHED",
        " => [app 2/2] RUN uv sync",
        "no newline at the end",
    ]


def test_the_pseudo_terminal_has_the_terminal_size(tmp_path, monkeypatch, tty):
    fd, _ = tty
    script = tmp_path / "bin" / "docker"
    script.parent.mkdir()
    script.write_text("#!/bin/sh\nstty size <&2\n")
    script.chmod(0o755)
    monkeypatch.setenv("PATH", f"{script.parent}{os.pathsep}{os.environ.get('PATH', '')}")
    lines: list[str] = []
    Engine().build(BuildRequest(context="."), lines.append, step="the app build", terminal=fd)
    assert lines == ["30 100"]


def test_a_failure_in_the_terminal_view_still_names_the_cause(fake_docker, monkeypatch, tty):
    monkeypatch.setenv("MODE", "fail")
    with pytest.raises(BuildFailed) as info:
        Engine().build(BuildRequest(context="."), [].append, step="the app build", terminal=tty[0])
    assert str(info.value) == "the app build failed: [app 2/2] RUN false: 0.1 error: boom"


def test_without_a_terminal_the_output_streams_through_a_pipe(fake_docker):
    lines: list[str] = []
    Engine().build(BuildRequest(context="."), lines.append, step="the app build")
    assert lines == ["#1 a pipe", "no newline at the end"]


# -- Terminal.build_view ------------------------------------------------------------------


@pytest.fixture
def stderr_tty(monkeypatch, tty):
    """Returns a function that puts sys.stderr on a pseudo-terminal, as on a user's
    terminal (called in the test itself: pytest's capture resets sys.stderr between
    fixture set-up and the test)."""
    monkeypatch.setenv("TERM", "xterm-256color")
    for name in ("NO_COLOR", "FORCE_COLOR", "TTY_COMPATIBLE", "TTY_INTERACTIVE"):
        monkeypatch.delenv(name, raising=False)
    streams = []

    def on_tty():
        stream = os.fdopen(os.dup(tty[0]), "w", encoding="utf-8")
        streams.append(stream)
        monkeypatch.setattr(sys, "stderr", stream)
        return tty[1]

    yield on_tty
    for stream in streams:
        stream.close()


@pytest.mark.parametrize("progress", ["auto", "tty"])
def test_build_view_hands_the_terminal_over_and_pauses_the_live_line(stderr_tty, progress):
    written = stderr_tty()
    terminal = Terminal()
    with terminal.progress():
        terminal.step("building the app")
        live = terminal._progress
        assert live is not None and live.live.is_started
        with terminal.build_view(progress) as fd:
            assert fd is not None and os.isatty(fd)
            assert not live.live.is_started  # buildx alone draws now
            terminal.stream("a line buildx has drawn already")
        assert live.live.is_started
    output = written()
    assert b"building the app" in output
    assert b"a line buildx has drawn already" not in output


@pytest.mark.parametrize("progress", ["plain", "rawjson", "quiet", None])
def test_build_view_streams_for_other_progress_modes(stderr_tty, progress):
    stderr_tty()
    with Terminal().build_view(progress) as fd:
        assert fd is None


def test_build_view_streams_when_quiet(stderr_tty):
    stderr_tty()
    with Terminal(quiet=True).build_view("auto") as fd:
        assert fd is None


def test_build_view_streams_on_a_pipe(tmp_path, monkeypatch):
    with open(tmp_path / "log", "w") as log:
        monkeypatch.setattr(sys, "stderr", log)
        with Terminal().build_view("auto") as fd:
            assert fd is None


# -- the flow and the CLI ----------------------------------------------------------------


class ViewReport(FakeReport):
    """A reporter whose terminal takes the view for auto/tty progress (fd 99)."""

    def __init__(self) -> None:
        super().__init__()
        self.views: list[str | None] = []

    @contextlib.contextmanager
    def build_view(self, progress):
        self.views.append(progress)
        yield 99 if progress in ("auto", "tty") else None


class TerminalEngine(FakeEngine):
    def build(self, request, on_line, step, terminal=None):
        self.calls.append(("terminal", terminal))
        super().build(request, on_line, step)


@pytest.fixture
def plan():
    return planner.make_plan(FIXTURES / "two_indexes", {"platform": "linux/amd64"})


@pytest.mark.parametrize(("progress", "terminal"), [("auto", 99), ("plain", None)])
def test_both_builds_get_the_terminal_for_auto_progress(plan, progress, terminal):
    engine = TerminalEngine(exists=False)
    report = ViewReport()
    BuildFlow(plan, BuildOptions(progress=progress), engine, report).run()
    assert report.views == [progress, progress]  # base, then app
    assert [c for c in engine.calls if c[0] == "terminal"] == [("terminal", terminal)] * 2


def test_build_progress_defaults_to_auto(capsys, monkeypatch):
    monkeypatch.setenv("DOCKER_HOST", DEAD_SOCKET)
    project = str(FIXTURES / "two_indexes")
    got, out, err = run_main(capsys, "build", "--dry-run", project, *PLAN_ARGS)
    assert got == 0, err
    base, _tag, app = out.splitlines()
    assert "--progress auto" in base and "--progress auto" in app
    got, out, err = run_main(capsys, "build", "--dry-run", "--progress", "plain", project)
    assert got == 0, err
    assert out.count("--progress plain") == 2
