"""The terminal: one rich Console for messages on stderr, one for results on stdout.

On a TTY rich draws colour and tables; when the output is a pipe (Makefile, CI) rich
writes plain text without control characters, and NO_COLOR is honoured by rich itself.
"""

from __future__ import annotations

import json
import os
import sys
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from uvbuild.model import BuildPlan


def human_size(size: int | None) -> str:
    if size is None:
        return "?"
    value = float(size)
    for unit in ("B", "kB", "MB", "GB"):
        if value < 1000 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1000
    raise AssertionError


class Terminal:
    """Verbosity-gated helpers; the CLI creates one and passes it down."""

    def __init__(self, *, quiet: bool = False, verbose: bool = False, color: bool = True):
        no_color = not color or "NO_COLOR" in os.environ
        self.quiet = quiet
        self.verbose = verbose
        self.err = Console(
            stderr=True, highlight=False, emoji=False, no_color=no_color, soft_wrap=True
        )
        self.out = Console(highlight=False, emoji=False, no_color=no_color, soft_wrap=True)

    @property
    def interactive(self) -> bool:
        return self.err.is_terminal

    def info(self, message: str) -> None:
        if not self.quiet:
            self.err.print(escape(message))

    def detail(self, message: str) -> None:
        if self.verbose and not self.quiet:
            self.err.print(escape(message), style="dim")

    def step(self, message: str) -> None:
        if not self.quiet:
            self.err.print(f"[bold cyan]==>[/] {escape(message)}")

    def warn(self, message: str) -> None:
        self.err.print(f"[yellow]warning:[/] {escape(message)}")

    def error(self, message: str) -> None:
        self.err.print(f"[bold red]error:[/] {escape(message)}")

    def result(self, text: str) -> None:
        """Machine output on stdout, never styled or wrapped."""
        sys.stdout.write(text if text.endswith("\n") else text + "\n")
        sys.stdout.flush()

    def json(self, document: Any) -> None:
        self.result(json.dumps(document, indent=2, sort_keys=False))

    def stream(self, line: str) -> None:
        """A line of build output, passed through as it comes."""
        if not self.quiet:
            sys.stderr.write(line if line.endswith("\n") else line + "\n")
            sys.stderr.flush()

    def plan_table(self, plan: BuildPlan) -> None:
        table = Table(title=f"uvbuild plan for {plan.project_name or plan.project_dir}")
        for column in ("layer", "package", "version", "source", "wheel size", "why"):
            # Names, versions and sizes never wrap or shrink to "nvidia-cubl…": on a narrow
            # terminal or a pipe (80 columns) the source and reason columns give way.
            table.add_column(
                column,
                justify="right" if column == "wheel size" else "left",
                no_wrap=column in ("package", "version", "wheel size"),
            )
        for choice in plan.grouping.heavy:
            s = choice.selected
            table.add_row(
                "heavy",
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
            unknown = f", {t['unknown-size']} of unknown size" if t["unknown-size"] else ""
            self.out.print(
                f"{group}: {t['count']} packages, {human_size(t['bytes'])} of wheels{unknown}"
            )
        self.out.print(f"base key: {plan.key}")
        self.out.print(f"base tag: [bold]{escape(plan.tag)}[/]")
        self.out.print("key inputs:")
        document = json.loads(plan.key_document)
        for name, value in document.items():
            if name != "packages":
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
