"""The terminal: one rich Console for messages on stderr, one for results on stdout.

On a TTY rich draws colour, tables and a live line for the step in progress (with its
elapsed time) while the build output scrolls above it. When stderr is not a TTY (Makefile,
CI) every line is plain text without control characters. NO_COLOR (or ``--no-color``)
turns colour off; ``-q`` leaves only results on stdout and errors on stderr.

rich is imported when first needed: a message line on a pipe is written as the plain text
rich would print (``_plain_line``), so a build on a pipe imports rich only for its closing
table, and imports it while buildx builds (``build_view``).
"""

from __future__ import annotations

import builtins
import contextlib
import json
import os
import re
import sys
import textwrap
import threading
from collections.abc import Iterator, Sequence
from typing import IO, TYPE_CHECKING, Any, Protocol

from uvbuild.core import render
from uvbuild.core.model import BuildPlan, HeavyChoice, LayerGroup
from uvbuild.core.units import format_size, size_total
from uvbuild.flow.result import BuildResult

if TYPE_CHECKING:  # rich: imported where used (a no-op build on a pipe draws no live
    # line and prints its messages as plain text, and `-q` prints no table)
    from rich.console import Console
    from rich.progress import Progress, TaskID
    from rich.table import Table

# ANSI escape sequences, and every control character but tab and newline.
_CONTROL = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b[@-Z\\-_]|[\x00-\x08\x0b-\x1f\x7f]")


def plain(text: str) -> str:
    """``text`` without escape sequences or control characters (tab and newline stay)."""
    return _CONTROL.sub("", text)


def escape(markup: str) -> str:
    """rich's ``escape``: ``markup`` as literal text in rich markup."""
    from rich.markup import escape as rich_escape

    return rich_escape(markup)


# What rich would change in a message line beyond stripping its markup: tabs (expanded by
# cell width), backslashes (its escaping keeps a trailing one doubled) and `:name:` (an
# emoji code). A line with none of them prints on a pipe as its text, unchanged.
_RICH_SPECIAL = re.compile(r"[\t\\]|:\S*:")


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


def _plain_line(text: str) -> str | None:
    """The line rich prints on a pipe for the markup ``escape(text)`` (after a plain
    prefix), when that is ``text`` itself; None when rich must say."""
    return None if _RICH_SPECIAL.search(text) else plain(text)


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
            line = _plain_line(text)
            if line is not None:
                sys.stderr.write(_MARKUP_TAG.sub("", prefix) + line + "\n")
                sys.stderr.flush()
                return
        _show(self.err, prefix + escape(text), style)

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
            _show(self.out, line)
            if check.fix and check.status in ("fail", "warn"):
                _show(self.out, f"      {' ' * width}  fix: {escape(check.fix)}")
        counts = {s: sum(1 for c in checks if c.status == s) for s in STATUS_STYLE}
        _show(
            self.out,
            f"{counts['pass']} passed, {counts['warn']} warnings, {counts['fail']} failed, "
            f"{counts['skip']} skipped",
        )

    def plan_table(self, plan: BuildPlan) -> None:
        """The plan: its package table, then the totals, layers, key and notes."""
        rows, heavy = _package_rows(plan)
        self._print_packages(
            f"uvbuild plan for {plan.project_name or plan.project_dir}", rows, heavy
        )
        self._print_totals(plan)
        described = plan.describe_dockerfile()
        if described is not None:
            self.out.print(escape(described))
        self._print_key(plan)
        for note in plan.notes:
            self.out.print(f"note: {escape(note)}")

    def _print_packages(self, title: str, rows: Sequence[PackageRow], heavy: int) -> None:
        """The package table in its full form when it fits the width (a pipe counts as 80
        columns, or COLUMNS); narrower, the source column goes (the most common source is
        printed once below the table, another one in the row's ``why``) and ``why`` wraps;
        narrower still, one line per package. Names, versions and sizes are never cut."""
        from rich.measure import Measurement

        width = self.out.width
        table = _package_table(title, rows, heavy, None)
        natural = Measurement.get(self.out, self.out.options.update_width(10**6), table)
        if natural.maximum <= width:
            self.out.print(table)
            return
        counts: dict[str, int] = {}
        for row in rows:
            counts[row[3]] = counts.get(row[3], 0) + 1
        main = max(counts, key=lambda source: (counts[source], source))
        table = _package_table(title, rows, heavy, main)
        if _fixed_width(table) + 12 > width:  # `why` would get fewer than 12 columns
            self.out.print(title)
            for layer, name, version, _source, size, why in rows:
                line = f"  {layer}: {name} {version}, {format_size(size)}"
                line += f" ({why})" if why else ""
                wrapped = textwrap.wrap(line, width, subsequent_indent="      ")
                for part in wrapped or [line]:
                    self.out.print(escape(part))
        else:
            self.out.print(table)
        others = [(row[1], row[3]) for row in rows if row[3] != main]
        self.out.print(f"source: {escape(main)}" + (", except:" if others else ""))
        for name, source in others:
            self.out.print(f"  {escape(name)}: {escape(source)}")

    def _print_totals(self, plan: BuildPlan) -> None:
        """Heavy and light package counts and wheel sizes, and the heavy layers."""
        totals = plan.to_dict()["totals"]
        for group in ("heavy", "light"):
            t = totals[group]
            self.out.print(
                f"{group}: {t['count']} packages, wheels "
                f"{size_total(t['bytes'], t['unknown-size'])}"
            )
        if not plan.layers:
            self.out.print(f"heavy layers ({plan.layer_mode}): one")
        else:
            self.out.print(f"heavy layers ({plan.layer_mode}, COPY --link), bottom first:")
            self._print_layers(plan.layers)
        threshold = format_size(plan.config.pool_threshold)
        if plan.light_layers:
            self.out.print(
                f"light layers (wheels of {threshold} and more, COPY --link above the base):"
            )
            self._print_layers(plan.light_layers)
        pool = totals["pool"]
        self.out.print(
            f"pool (the deps stage's uv sync): {pool['count']} packages, wheels "
            f"{size_total(pool['bytes'], pool['unknown-size'])}"
        )

    def _print_layers(self, groups: Sequence[LayerGroup]) -> None:
        for group in groups:
            self.out.print(
                f"  {escape(group.name)}: {len(group.packages)} packages, wheels "
                f"{size_total(group.size, group.unknown_size)}, key {group.key[:16]}"
            )

    def _print_key(self, plan: BuildPlan) -> None:
        """The base's key and tag, and what went into the key."""
        provisional = " (provisional: images by name only)" if plan.provisional else ""
        self.out.print(f"base key: {plan.key}{provisional}")
        self.out.print(f"base tag: [bold]{escape(plan.tag)}[/]")
        self.out.print("key inputs:")
        document = json.loads(plan.key_document)
        for name, value in document.items():
            if name == "layers":
                keys = ", ".join(f"{e['name']} {e['key'][:16]}" for e in value) or "none"
                self.out.print(f"  layers: {escape(keys)}")
            elif name == "system":
                self.out.print(f"  system: {len(value)} lines (the user's system part)")
            elif name == "images":
                self.out.print("  images:")
                for ref, digest in value.items():
                    self.out.print(f"    {escape(ref)}: {escape(digest)}")
            elif name != "packages":
                self.out.print(f"  {name}: {escape(json.dumps(value))}")
        self.out.print(f"  packages: {len(document['packages'])} heavy entries")

    def build_summary(self, result: BuildResult, plan: BuildPlan | None = None) -> None:
        """The closing summary: base reused or built, layers shared or new, durations;
        with the plan, each layer is named by what it holds (layer_names)."""
        if self.quiet:
            ref = result.tags[0] if result.tags else result.image_id
            if ref:
                self.result(ref)
            return
        if self._warming is not None:
            self._warming.join()
        from rich.table import Table

        table = Table(title="image layers")
        for column in ("#", "layer", "size", "from", "holds"):
            table.add_column(column, justify="right" if column in ("#", "size") else "left")
        steps = [(layer.created_by, layer.shared) for layer in result.layers]
        names = layer_names(plan, steps) if plan else [_short_step(s) for s, _ in steps]
        for number, (layer, name) in enumerate(zip(result.layers, names, strict=True), start=1):
            table.add_row(
                str(number),
                layer.diff_id.removeprefix("sha256:")[:12],
                format_size(layer.size) if layer.size >= 0 else "?",
                "base" if layer.shared else "[green]new[/]",
                escape(name),
            )
        self.err.print(table)
        new = sum(x.size for x in result.layers if not x.shared and x.size > 0)
        shared = sum(x.size for x in result.layers if x.shared and x.size > 0)
        self.err.print(
            f"base {escape(result.base_tag)}: {result.base_action}"
            + (f" in {result.base_seconds:.1f} s" if result.base_seconds else "")
        )
        self.err.print(
            f"app: {result.app_seconds:.1f} s; new layers {format_size(new)}, "
            f"shared with base {format_size(shared)}"
        )
        for ref in result.tags or ((result.image_id,) if result.image_id else ()):
            self.result(ref)


# One row of the package table: layer, package, version, source, wheel size (None: not
# known), why.
PackageRow = tuple[str, str, str, str, int | None, str]


def _package_rows(plan: BuildPlan) -> tuple[list[PackageRow], int]:
    """The table's rows and how many of them are heavy. With layer groups the heavy rows
    follow the layers, bottom first, and the layer column names each one's group."""
    heavy = [c for group in plan.layers for c in group.packages] or plan.grouping.heavy
    rows: list[PackageRow] = []
    for choice in heavy:
        s = choice.selected
        group = plan.layer_of(s.name)
        layer = group.name if group else "heavy"
        rows.append(
            (layer, s.name, s.version or "", s.package.source.describe(), s.size, choice.reason)
        )
    for s in plan.light:
        group = plan.layer_of(s.name)
        why = "builds from sdist" if s.from_sdist else ""
        layer = group.name if group else "pool"
        rows.append((layer, s.name, s.version or "", s.package.source.describe(), s.size, why))
    return rows, len(heavy)


def _package_table(title: str, rows: Sequence[PackageRow], heavy: int, main: str | None) -> Table:
    from rich.table import Table

    """The plan's package table; with ``main`` (the most common source) the compact form
    without a source column (listed below it) and ``why`` wrapping."""
    if main is None:
        table = Table(title=title)
    else:  # no borders, two spaces between columns, like `docker ps`
        table = Table(title=title, box=None, padding=(0, 1), pad_edge=False)
    columns = ("layer", "package", "version", "source", "wheel size", "why")
    for column in columns:
        if main and column == "source":
            continue
        table.add_column(
            column,
            justify="right" if column == "wheel size" else "left",
            no_wrap=column != "why",
            overflow="fold",
        )
    for index, (layer, name, version, source, size, why) in enumerate(rows):
        if index == heavy and heavy:
            table.add_section()
        if main is None:
            table.add_row(layer, name, version, source, format_size(size), why)
        else:
            table.add_row(layer, name, version, format_size(size), why)
    return table


def _fixed_width(table: Table) -> int:
    """Columns the compact table needs besides ``why``: its no-wrap columns at their
    widest and the gaps between columns."""
    widths = [
        max([len(column.header), *(len(str(cell)) for cell in column._cells)])
        for column in table.columns
        if column.no_wrap
    ]
    return sum(widths) + 2 * (len(table.columns) - 1)


def describe_packages(choices: Sequence[HeavyChoice], label: str) -> str:
    """``frameworks: torch 2.5.1 +3`` when one package holds most of the bytes, else
    ``cuda: 12 packages, 2.9 GB`` (``choices``: HeavyChoice, as in a LayerGroup)."""
    selected = [choice.selected for choice in choices]
    if not selected:
        return label
    total = sum(s.size or 0 for s in selected)
    biggest = max(selected, key=lambda s: (s.size or 0, s.name))
    if len(selected) == 1 or (total and (biggest.size or 0) * 2 >= total):
        more = f" +{len(selected) - 1}" if len(selected) > 1 else ""
        return f"{label}: {biggest.name} {biggest.version or ''}".rstrip() + more
    unknown = sum(1 for s in selected if s.size is None)
    size = format_size(total) + (f" + {unknown} of unknown size" if unknown else "")
    return f"{label}: {len(selected)} packages, {size}"


def layer_names(plan: BuildPlan, layers: Sequence[tuple[str, bool]]) -> list[str]:
    """What each image layer holds, from the plan and the image history.

    ``layers`` is (created by, shared with the base) per layer, oldest first. The base's
    own layers follow render.base_stage: the uv binaries (``uv``), the target Python where
    the image has none (``python 3.11, ...``), then either the venv and
    one ``COPY --link`` per layer group in plan.layers order (``venv``,
    ``cuda: 12 packages, 2.9 GB``...), or one RUN holding the venv and every heavy package;
    below uv, the base image's layers (``base image``). The generated app stages give
    ``deps: ...`` and ``app: ...``; any other layer is named by its instruction.
    """
    copy_group = iter((*plan.layers, *plan.light_layers))
    heavy = [choice for group in plan.layers for choice in group.packages] or list(
        plan.grouping.heavy
    )
    light = [s for s in plan.pool if not s.package.source.is_local]
    created = [_short_step(step, width=10_000) for step, _ in layers]
    uv_at = next((i for i, step in enumerate(created) if f"cp {render.UV_MOUNT}/uv " in step), None)
    names = []
    for index, ((_, shared), step) in enumerate(zip(layers, created, strict=True)):
        name = None
        if uv_at is not None and index < uv_at and shared:
            name = "base image"
        elif index == uv_at:
            name = "uv"
        elif step.startswith(f"COPY {render.LAYER_DIR}/"):
            group = next(copy_group, None)
            name = describe_packages(group.packages, group.name) if group else None
        elif step.startswith("RUN ") and "uv python find" in step and "uv python install" in step:
            name = f"python {plan.target.python}, where the image has none"
        elif step.startswith("RUN ") and "uv venv" in step and f" {plan.config.venv}" in step:
            name = "venv" if plan.layers or not heavy else describe_packages(heavy, "venv + heavy")
        elif step.startswith("RUN ") and "uv sync" in step and "--no-install-" in step:
            name = f"deps: {len(light)} light packages"
        elif step.startswith("RUN ") and "uv sync" in step:
            project = plan.project_name or "the project"
            name = f"app: {project}" + (f" + {len(plan.members)} members" if plan.members else "")
        elif step.startswith("COPY pyproject.toml uv.lock "):
            name = "deps: pyproject.toml, uv.lock"
        elif step.startswith("COPY . "):
            name = "app: source"
        names.append(name or _short_step(step))
    return names


def _console(*, stderr: bool, no_color: bool) -> Console:
    from rich.console import Console

    return Console(stderr=stderr, highlight=False, emoji=False, no_color=no_color, soft_wrap=True)


# A tag of rich markup (uvbuild's own prefixes: ``[bold cyan]``, ``[/]``).
_MARKUP_TAG = re.compile(r"\[[a-z#/@][^\[]*?\]")


def _show(console: Console, markup: str, style: str | None = None) -> None:
    """Print ``markup`` styled on a terminal; on a pipe, where no style would reach anyway,
    as plain text, so no control character does either."""
    from rich.text import Text

    if console.is_terminal:
        console.print(markup, style=style)
    else:
        console.print(Text(plain(Text.from_markup(markup).plain)))


def _stderr_fd() -> int | None:
    try:
        return sys.stderr.fileno()
    except (AttributeError, OSError, ValueError):  # replaced by a test or an embedding
        return None


def _short_step(created_by: str, width: int = 70) -> str:
    text = " ".join(created_by.replace("/bin/sh -c ", "").split())
    text = text.removeprefix("#(nop) ").removesuffix(" # buildkit").strip()
    return text if len(text) <= width else text[: width - 1] + "…"
