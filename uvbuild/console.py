"""The terminal: one rich Console for messages on stderr, one for results on stdout.

On a TTY rich draws colour, tables and a live line for the step in progress (with its
elapsed time) while the build output scrolls above it. When stderr is not a TTY (Makefile,
CI) every line is plain text without control characters. NO_COLOR (or ``--no-color``)
turns colour off; ``-q`` leaves only results on stdout and errors on stderr.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import sys
from collections.abc import Iterator, Sequence
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.progress import Progress, SpinnerColumn, TaskID, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

from uvbuild.core.model import BuildPlan

# ANSI escape sequences, and every control character but tab and newline.
_CONTROL = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b[@-Z\\-_]|[\x00-\x08\x0b-\x1f\x7f]")


def plain(text: str) -> str:
    """``text`` without escape sequences or control characters (tab and newline stay)."""
    return _CONTROL.sub("", text)


def human_size(size: int | None) -> str:
    if size is None:
        return "?"
    value = float(size)
    for unit in ("B", "kB", "MB", "GB"):
        if value < 1000 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1000
    raise AssertionError


def size_total(known: int, unknown: int = 0) -> str:
    """A total of wheel sizes that shows the wheels the lock gives no size for:
    ``3.1 GB``, ``3.1 GB + 4 of unknown size``, or ``2 of unknown size`` (none known)."""
    if not unknown:
        return human_size(known)
    if not known:
        return f"{unknown} of unknown size"
    return f"{human_size(known)} + {unknown} of unknown size"


STATUS_STYLE = {"pass": "green", "warn": "yellow", "fail": "bold red", "skip": "dim"}


class Terminal:
    """Verbosity-gated helpers; the CLI creates one and passes it down."""

    def __init__(self, *, quiet: bool = False, verbose: bool = False, color: bool = True):
        # NO_COLOR counts when set to anything but the empty string (no-color.org).
        no_color = not color or bool(os.environ.get("NO_COLOR"))
        self.quiet = quiet
        self.verbose = verbose
        self.color = not no_color
        self.err = Console(
            stderr=True, highlight=False, emoji=False, no_color=no_color, soft_wrap=True
        )
        self.out = Console(highlight=False, emoji=False, no_color=no_color, soft_wrap=True)
        self._progress: Progress | None = None
        self._task: TaskID | None = None

    @property
    def interactive(self) -> bool:
        return self.err.is_terminal

    def _say(self, markup: str, style: str | None = None) -> None:
        if self.err.is_terminal:
            self.err.print(markup, style=style)
        else:
            # A pipe: no markup styles reach it anyway; make sure no control does either.
            self.err.print(Text(plain(Text.from_markup(markup).plain)))

    @contextlib.contextmanager
    def progress(self) -> Iterator[None]:
        """While open, on a TTY, a live line shows the current step and its elapsed time."""
        if not self.err.is_terminal or self.quiet or self.err.is_dumb_terminal:
            yield
            return
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

    def info(self, message: str) -> None:
        if not self.quiet:
            self._say(escape(message))

    def detail(self, message: str) -> None:
        if self.verbose and not self.quiet:
            self._say(escape(message), style="dim")

    def command(self, line: str) -> None:
        """A docker command uvbuild runs (``-v``)."""
        self.detail(line)

    def step(self, message: str) -> None:
        if self.quiet:
            return
        self._say(f"[bold cyan]==>[/] {escape(message)}")
        self.activity(message)

    def activity(self, message: str) -> None:
        """Show ``message`` on the live line only (nothing when there is none)."""
        if self._progress is not None:
            if self._task is not None:
                self._progress.remove_task(self._task)
            self._task = self._progress.add_task(message, total=None)

    def warn(self, message: str) -> None:
        if not self.quiet:
            self._say(f"[yellow]warning:[/] {escape(message)}")

    def error(self, message: str) -> None:
        self._say(f"[bold red]error:[/] {escape(message)}")

    def result(self, text: str) -> None:
        """Machine output on stdout, never styled or wrapped."""
        sys.stdout.write(text if text.endswith("\n") else text + "\n")
        sys.stdout.flush()

    def json(self, document: Any) -> None:
        self.result(json.dumps(document, indent=2, sort_keys=False))

    def stream(self, line: str) -> None:
        """A line of build output, passed through as it comes."""
        if self.quiet:
            return
        if self._progress is not None:
            # Printed above the live line; a coloured TTY keeps the tool's own colours.
            self.err.print(Text.from_ansi(line) if self.color else Text(plain(line)))
            return
        text = line if self.err.is_terminal and self.color else plain(line)
        sys.stderr.write(text + "\n")
        sys.stderr.flush()

    def doctor_report(self, checks: Sequence[Any]) -> None:
        """One line per check (status, title, detail), and its fix under a failure."""
        if self.quiet:
            return
        width = max((len(check.title) for check in checks), default=0)
        for check in checks:
            status = f"[{STATUS_STYLE[check.status]}]{check.status:<4}[/]"
            line = f"{status}  {escape(check.title.ljust(width))}  {escape(check.detail)}"
            self._print_out(line)
            if check.fix and check.status in ("fail", "warn"):
                self._print_out(f"      {' ' * width}  fix: {escape(check.fix)}")
        counts = {s: sum(1 for c in checks if c.status == s) for s in STATUS_STYLE}
        self._print_out(
            f"{counts['pass']} passed, {counts['warn']} warnings, {counts['fail']} failed, "
            f"{counts['skip']} skipped"
        )

    def _print_out(self, markup: str) -> None:
        if self.out.is_terminal:
            self.out.print(markup)
        else:
            self.out.print(Text(plain(Text.from_markup(markup).plain)))

    def plan_table(self, plan: BuildPlan) -> None:
        table = Table(title=f"uvbuild plan for {plan.project_name or plan.project_dir}")
        for column in ("layer", "package", "version", "source", "wheel size", "why"):
            # Names, versions and sizes never wrap or shrink to "nvidia-cubl…": on a narrow
            # terminal or a pipe (80 columns) the source and reason columns give way.
            table.add_column(
                column,
                justify="right" if column == "wheel size" else "left",
                no_wrap=column in ("layer", "package", "version", "wheel size"),
            )
        # With layer groups the heavy rows follow the layers, bottom first, and the layer
        # column names each one's group.
        heavy = [c for group in plan.layers for c in group.packages] or plan.grouping.heavy
        for choice in heavy:
            s = choice.selected
            group = plan.layer_of(s.name)
            table.add_row(
                group.name if group else "heavy",
                s.name,
                s.version or "",
                s.package.source.describe(),
                human_size(s.size),
                choice.reason,
            )
        if plan.grouping.heavy:
            table.add_section()
        for s in plan.light:
            why = "builds from sdist" if s.from_sdist else ""
            table.add_row(
                "light",
                s.name,
                s.version or "",
                s.package.source.describe(),
                human_size(s.size),
                why,
            )
        self.out.print(table)
        totals = plan.to_dict()["totals"]
        for group in ("heavy", "light"):
            t = totals[group]
            self.out.print(
                f"{group}: {t['count']} packages, wheels "
                f"{size_total(t['bytes'], t['unknown-size'])}"
            )
        if plan.layers:
            self.out.print(f"heavy layers ({plan.layer_mode}, COPY --link), bottom first:")
            for group in plan.layers:
                self.out.print(
                    f"  {escape(group.name)}: {len(group.packages)} packages, wheels "
                    f"{size_total(group.size, group.unknown_size)}, key {group.key[:16]}"
                )
        else:
            self.out.print(f"heavy layers ({plan.layer_mode}): one")
        self.out.print(f"base key: {plan.key}")
        self.out.print(f"base tag: [bold]{escape(plan.tag)}[/]")
        self.out.print("key inputs:")
        document = json.loads(plan.key_document)
        for name, value in document.items():
            if name == "layers":
                keys = ", ".join(f"{e['name']} {e['key'][:16]}" for e in value) or "none"
                self.out.print(f"  layers: {escape(keys)}")
            elif name != "packages":
                self.out.print(f"  {name}: {escape(json.dumps(value))}")
        self.out.print(f"  packages: {len(document['packages'])} heavy entries")
        for note in plan.notes:
            self.out.print(f"note: {escape(note)}")

    def build_summary(self, result: Any) -> None:
        """The closing summary: base reused or built, layers shared or new, durations."""
        if self.quiet:
            ref = result.tags[0] if result.tags else result.image_id
            if ref:
                self.result(ref)
            return
        table = Table(title="image layers")
        for column in ("#", "layer", "size", "from", "step"):
            table.add_column(column, justify="right" if column in ("#", "size") else "left")
        for number, layer in enumerate(result.layers, start=1):
            table.add_row(
                str(number),
                layer.diff_id.removeprefix("sha256:")[:12],
                human_size(layer.size) if layer.size >= 0 else "?",
                "base" if layer.shared else "[green]new[/]",
                escape(_short_step(layer.created_by)),
            )
        self.err.print(table)
        new = sum(x.size for x in result.layers if not x.shared and x.size > 0)
        shared = sum(x.size for x in result.layers if x.shared and x.size > 0)
        self.err.print(
            f"base {escape(result.base_tag)}: {result.base_action}"
            + (f" in {result.base_seconds:.1f} s" if result.base_seconds else "")
        )
        self.err.print(
            f"app: {result.app_seconds:.1f} s; new layers {human_size(new)}, "
            f"shared with base {human_size(shared)}"
        )
        for ref in result.tags or ((result.image_id,) if result.image_id else ()):
            self.result(ref)


def _short_step(created_by: str, width: int = 70) -> str:
    text = " ".join(created_by.replace("/bin/sh -c ", "").split())
    text = text.removeprefix("#(nop) ").strip()
    return text if len(text) <= width else text[: width - 1] + "…"
