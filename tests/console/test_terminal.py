"""uvbuild.console.terminal: plain lines on a pipe, colour and a live line on a terminal,
NO_COLOR, quiet and verbose, the doctor report, rich imported only when needed. A terminal is
simulated with FORCE_COLOR (rich then treats the captured stream as a TTY)."""

from __future__ import annotations

import re
from dataclasses import dataclass

import pytest

from tests.console.fakes import FakeResult
from uvbuild.console.terminal import Terminal

COLOR = re.compile(r"\x1b\[[0-9;]*(?:3[0-9]|9[0-7]|38;)[0-9;]*m")


def everything(terminal: Terminal) -> None:
    terminal.step("building base app-uvbuild-base:0123")
    terminal.info("an info line")
    terminal.detail("a detail")
    terminal.command("$ docker buildx inspect")
    terminal.warn("low disk")
    terminal.stream("#5 \x1b[32mRUN\x1b[0m uv pip install\r")
    terminal.error("it broke")


def test_pipe_gets_plain_lines(capsys):
    everything(Terminal())
    out, err = capsys.readouterr()
    assert out == ""
    assert err.splitlines() == [
        "==> building base app-uvbuild-base:0123",
        "an info line",
        "warning: low disk",
        "#5 RUN uv pip install",
        "error: it broke",
    ]
    assert "\x1b" not in err and "\r" not in err


def test_verbose_shows_details_and_commands(capsys):
    everything(Terminal(verbose=True))
    err = capsys.readouterr().err
    assert "a detail" in err.splitlines()
    assert "$ docker buildx inspect" in err.splitlines()


def test_quiet_leaves_only_errors(capsys):
    everything(Terminal(quiet=True, verbose=True))
    out, err = capsys.readouterr()
    assert out == ""
    assert err == "error: it broke\n"


@pytest.mark.parametrize(
    ("result", "printed"),
    [
        (FakeResult(), "app:dev\n"),
        (FakeResult(tags=()), "sha256:abc\n"),
        (FakeResult(tags=(), image_id=None), ""),
    ],
)
def test_quiet_summary_is_the_image_reference(capsys, result, printed):
    Terminal(quiet=True).build_summary(result)
    out, err = capsys.readouterr()
    assert out == printed
    assert err == ""


def test_terminal_gets_colour(capsys, monkeypatch):
    monkeypatch.setenv("FORCE_COLOR", "1")
    Terminal().warn("low disk")
    assert COLOR.search(capsys.readouterr().err)


@pytest.mark.parametrize("how", ["env", "flag"])
def test_no_color(capsys, monkeypatch, how):
    monkeypatch.setenv("FORCE_COLOR", "1")
    if how == "env":
        monkeypatch.setenv("NO_COLOR", "1")
    terminal = Terminal(color=how != "flag")
    terminal.warn("low disk")
    terminal.error("it broke")
    terminal.stream("#5 \x1b[32mRUN\x1b[0m")
    err = capsys.readouterr().err
    assert not COLOR.search(err), repr(err)
    assert "#5 RUN" in err


def test_empty_no_color_does_not_count(capsys, monkeypatch):
    monkeypatch.setenv("FORCE_COLOR", "1")
    monkeypatch.setenv("NO_COLOR", "")
    Terminal().warn("low disk")
    assert COLOR.search(capsys.readouterr().err)


def test_live_progress_on_a_terminal(capsys, monkeypatch):
    monkeypatch.setenv("FORCE_COLOR", "1")
    terminal = Terminal()
    with terminal.progress():
        assert terminal._progress is not None
        terminal.step("building base")
        terminal.stream("#1 a build line")
        terminal.activity("still building")
        terminal.step("building the app")
    assert terminal._progress is None
    err = capsys.readouterr().err
    assert "building base" in err and "#1 a build line" in err and "building the app" in err


def test_no_live_progress_on_a_pipe_or_when_quiet(capsys, monkeypatch):
    for terminal in (Terminal(), Terminal(quiet=True)):
        with terminal.progress():
            assert terminal._progress is None
            terminal.activity("nothing shows this")
    monkeypatch.setenv("FORCE_COLOR", "1")
    terminal = Terminal(quiet=True)
    with terminal.progress():
        assert terminal._progress is None
    assert "nothing shows this" not in capsys.readouterr().err


@dataclass
class FakeCheck:
    name: str
    title: str
    status: str
    detail: str
    fix: str | None = None


def test_doctor_report(capsys):
    Terminal().doctor_report(
        [
            FakeCheck("docker-cli", "docker CLI", "pass", "/usr/bin/docker"),
            FakeCheck("engine", "engine", "fail", "no engine answers", "start the engine"),
            FakeCheck("builder", "builder", "skip", "needs the engine", "unused fix"),
            FakeCheck("disk", "disk", "warn", "not measured", "check df"),
        ]
    )
    out, err = capsys.readouterr()
    assert err == ""
    lines = out.splitlines()
    assert lines[0] == "pass  docker CLI  /usr/bin/docker"
    assert lines[1] == "fail  engine      no engine answers"
    assert lines[2].strip() == "fix: start the engine"
    assert lines[3] == "skip  builder     needs the engine"
    assert lines[5].strip() == "fix: check df"
    assert lines[-1] == "1 passed, 1 warnings, 1 failed, 1 skipped"
    assert "unused fix" not in out


def test_quiet_doctor_report_prints_nothing(capsys):
    Terminal(quiet=True).doctor_report([FakeCheck("engine", "engine", "fail", "x", "y")])


def test_a_pipe_makes_no_rich_console_for_messages(capsys):
    terminal = Terminal(verbose=True)
    everything(terminal)
    with terminal.progress():
        terminal.step("still plain")
    assert terminal._err is None and terminal._out is None
    err = capsys.readouterr().err
    assert "==> still plain" in err and "error: it broke" in err
    terminal.info("an emoji code :smile: goes through rich, as before")
    assert terminal._err is not None
    assert "an emoji code" in capsys.readouterr().err


def test_rich_is_imported_during_a_build_only_for_a_closing_table(capsys):
    terminal = Terminal()
    with terminal.build_view("plain"):
        assert terminal._warming is None  # --json, --dry-run: no table, nothing imported
    terminal.table_ahead()
    with terminal.build_view("plain"):
        assert terminal._warming is not None
    terminal.build_summary(FakeResult())
    assert not terminal._warming.is_alive()
    assert "app:dev" in capsys.readouterr().out
