"""The terminal: one rich Console for messages on stderr, one for results on stdout.

On a TTY rich draws colour, tables and a live line for the step in progress (with its
elapsed time) while the build output scrolls above it. When stderr is not a TTY (Makefile,
CI) every line is plain text without control characters. NO_COLOR (or ``--no-color``)
turns colour off; ``-q`` leaves only results on stdout and errors on stderr.

rich is imported when first needed: a message line on a pipe is written as the plain text
rich would print (``markup.plain_line``), so a build on a pipe imports rich only for its
closing table, and imports it while buildx builds (``build_view``).
"""

from __future__ import annotations

import builtins
import contextlib
import json
import os
import sys
import threading
from collections.abc import Iterator, Sequence
from typing import IO, TYPE_CHECKING, Any, Protocol

from uvbuild.console.markup import MARKUP_TAG, escape, plain, plain_line, show
from uvbuild.console.plan_table import print_plan
from uvbuild.console.summary import print_summary
from uvbuild.core.model import BuildPlan
from uvbuild.flow.result import BuildResult

if TYPE_CHECKING:  # rich: imported where used (a no-op build on a pipe draws no live
    # line and prints its messages as plain text, and `-q` prints no table)
    from rich.console import Console
    from rich.progress import Progress, TaskID


def _is_pipe(file: IO[str]) -> bool:
    """Whether rich's Console would treat ``file`` as no terminal, for sure: no variable
    that forces it either way, not IDLE or Jupyter, and ``isatty()`` False. When unsure,
    False (rich is asked)."""
    environ = os.environ
    if "TTY_COMPATIBLE" in environ or "FORCE_COLOR" in environ:
        return False
    if hasattr(builtins, "get_ipython") or getattr(sys.stdin, "__module__", "").startswith(
        "idlelib"
    ):
        return False
    isatty = getattr(file, "isatty", None)
    try:
        return isatty is not None and not isatty()
    except ValueError:
        return False


def _warm_rich() -> None:
    """Import what the closing table needs."""
    with contextlib.suppress(Exception):
        import rich.console
        import rich.table  # noqa: F401


STATUS_STYLE = {"pass": "green", "warn": "yellow", "fail": "bold red", "skip": "dim"}


class CheckLine(Protocol):
    """What a line of ``doctor_report`` shows of a check (``uvbuild.doctor.Check``)."""

    title: str
    status: str
    detail: str
    fix: str | None


class Terminal:
    """Verbosity-gated helpers; the CLI creates one and passes it down."""

    def __init__(self, *, quiet: bool = False, verbose: bool = False, color: bool = True):
        # NO_COLOR counts when set to anything but the empty string (no-color.org).
        no_color = not color or bool(os.environ.get("NO_COLOR"))
        self.quiet = quiet
        self.verbose = verbose
        self.color = not no_color
        self._err: Console | None = None
        self._out: Console | None = None
        self._progress: Progress | None = None
        self._task: TaskID | None = None
        self._direct = False  # a child draws on the terminal itself (see build_view)
        self._warming: threading.Thread | None = None
        self._table_ahead = False

    def table_ahead(self) -> None:
        """A table (the build summary) will close the run: rich is imported while the
        builds run (``build_view``), not after them."""
        self._table_ahead = True

    @property
    def err(self) -> Console:
        """The Console of messages (stderr), made when first needed."""
        if self._err is None:
            self._err = _console(stderr=True, no_color=not self.color)
        return self._err

    @err.setter
    def err(self, console: Console) -> None:
        self._err = console

    @property
    def out(self) -> Console:
        """The Console of results (stdout), made when first needed."""
        if self._out is None:
            self._out = _console(stderr=False, no_color=not self.color)
        return self._out

    @out.setter
    def out(self, console: Console) -> None:
        self._out = console

    def _say(self, prefix: str, text: str, style: str | None = None) -> None:
        """A message: ``prefix`` (markup whose text is plain) and ``text`` (any text)."""
        if self._err is None and self._progress is None and _is_pipe(sys.stderr):
            line = plain_line(text)
            if line is not None:
                sys.stderr.write(MARKUP_TAG.sub("", prefix) + line + "\n")
                sys.stderr.flush()
                return
        show(self.err, prefix + escape(text), style)

    @contextlib.contextmanager
    def progress(self) -> Iterator[None]:
        """While open, on a TTY, a live line shows the current step and its elapsed time."""
        if self.quiet or (self._err is None and _is_pipe(sys.stderr)):
            yield
            return
        if not self.err.is_terminal or self.err.is_dumb_terminal:
            yield
            return
        from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

        progress = Progress(
            SpinnerColumn(),
            TextColumn("{task.description}", markup=False),
            TimeElapsedColumn(),
            console=self.err,
            transient=True,
            redirect_stdout=False,
            redirect_stderr=False,
        )
        with progress:
            self._progress = progress
            try:
                yield
            finally:
                self._progress = None
                self._task = None

    @contextlib.contextmanager
    def build_view(self, progress: str | None) -> Iterator[int | None]:
        """Where a build draws its own progress: the terminal's file descriptor when
        ``--progress`` is ``auto`` or ``tty`` and stderr is a real terminal (buildx then
        draws BuildKit's compact TTY view there, with uvbuild's live line paused), else
        None: the output comes through ``stream`` as plain lines."""
        fd = _stderr_fd()
        if self._table_ahead and not self.quiet and self._warming is None:
            # the closing table's rich, imported while buildx builds
            self._warming = threading.Thread(target=_warm_rich, daemon=True)
            self._warming.start()
        if (
            progress not in ("auto", "tty")
            or fd is None
            or self.quiet
            or not os.isatty(fd)
            or self.err.is_dumb_terminal
        ):
            yield None
            return
        live = self._progress
        if live is not None:
            live.stop()  # transient: the live line is erased while buildx draws
        self.err.file.flush()
        self._direct = True
        try:
            yield fd
        finally:
            self._direct = False
            if live is not None:
                live.start()

    def info(self, message: str) -> None:
        if not self.quiet:
            self._say("", message)

    def detail(self, message: str) -> None:
        if self.verbose and not self.quiet:
            self._say("", message, style="dim")

    def command(self, line: str) -> None:
        """A docker command uvbuild runs (``-v``)."""
        self.detail(line)

    def step(self, message: str) -> None:
        if self.quiet:
            return
        self._say("[bold cyan]==>[/] ", message)
        self.activity(message)

    def activity(self, message: str) -> None:
        """Show ``message`` on the live line only (nothing when there is none)."""
        if self._progress is not None:
            if self._task is not None:
                self._progress.remove_task(self._task)
            self._task = self._progress.add_task(message, total=None)

    def warn(self, message: str) -> None:
        if not self.quiet:
            self._say("[yellow]warning:[/] ", message)

    def error(self, message: str) -> None:
        self._say("[bold red]error:[/] ", message)

    def result(self, text: str) -> None:
        """Machine output on stdout, never styled or wrapped."""
        sys.stdout.write(text if text.endswith("\n") else text + "\n")
        sys.stdout.flush()

    def json(self, document: Any) -> None:
        self.result(json.dumps(document, indent=2, sort_keys=False))

    def stream(self, line: str) -> None:
        """A line of build output, passed through as it comes."""
        if self.quiet or self._direct:  # direct: buildx has already drawn it
            return
        if self._progress is not None:
            from rich.text import Text

            # Printed above the live line; a coloured TTY keeps the tool's own colours.
            self.err.print(Text.from_ansi(line) if self.color else Text(plain(line)))
            return
        terminal = not _is_pipe(sys.stderr) and self.err.is_terminal
        text = line if terminal and self.color else plain(line)
        sys.stderr.write(text + "\n")
        sys.stderr.flush()

    def doctor_report(self, checks: Sequence[CheckLine]) -> None:
        """One line per check (status, title, detail), and its fix under a failure."""
        if self.quiet:
            return
        width = max((len(check.title) for check in checks), default=0)
        for check in checks:
            status = f"[{STATUS_STYLE[check.status]}]{check.status:<4}[/]"
            line = f"{status}  {escape(check.title.ljust(width))}  {escape(check.detail)}"
            show(self.out, line)
            if check.fix and check.status in ("fail", "warn"):
                show(self.out, f"      {' ' * width}  fix: {escape(check.fix)}")
        counts = {s: sum(1 for c in checks if c.status == s) for s in STATUS_STYLE}
        show(
            self.out,
            f"{counts['pass']} passed, {counts['warn']} warnings, {counts['fail']} failed, "
            f"{counts['skip']} skipped",
        )

    def plan_table(self, plan: BuildPlan) -> None:
        """The plan: its package table, then the totals, layers, key and notes."""
        print_plan(self.out, plan)

    def build_summary(self, result: BuildResult, plan: BuildPlan | None = None) -> None:
        """The closing summary: base reused or built, layers shared or new, durations;
        with the plan, each layer is named by what it holds (``summary.layer_names``).
        With ``-q``, only the image's reference (on stdout)."""
        if self.quiet:
            ref = result.tags[0] if result.tags else result.image_id
            if ref:
                self.result(ref)
            return
        if self._warming is not None:
            self._warming.join()
        print_summary(self.err, result, plan)
        for ref in result.tags or ((result.image_id,) if result.image_id else ()):
            self.result(ref)


def _console(*, stderr: bool, no_color: bool) -> Console:
    from rich.console import Console

    return Console(stderr=stderr, highlight=False, emoji=False, no_color=no_color, soft_wrap=True)


def _stderr_fd() -> int | None:
    try:
        return sys.stderr.fileno()
    except (AttributeError, OSError, ValueError):  # replaced by a test or an embedding
        return None
