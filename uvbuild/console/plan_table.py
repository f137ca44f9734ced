"""The plan as ``uvbuild plan`` prints it: the package table (full, compact, or one line per
package, whichever fits the width), the totals and layers, the base's key and its inputs."""

from __future__ import annotations

import json
import textwrap
from collections.abc import Sequence
from typing import TYPE_CHECKING

from uvbuild.console.markup import escape
from uvbuild.core.model import BuildPlan, LayerGroup
from uvbuild.core.units import format_size, size_total

if TYPE_CHECKING:
    from rich.console import Console
    from rich.table import Table


def print_plan(out: Console, plan: BuildPlan) -> None:
    """The plan: its package table, then the totals, layers, key and notes."""
    rows, heavy = _package_rows(plan)
    _print_packages(out, f"uvbuild plan for {plan.project_name or plan.project_dir}", rows, heavy)
    _print_totals(out, plan)
    described = plan.describe_dockerfile()
    if described is not None:
        out.print(escape(described))
    _print_key(out, plan)
    for note in plan.notes:
        out.print(f"note: {escape(note)}")


def _print_packages(out: Console, title: str, rows: Sequence[PackageRow], heavy: int) -> None:
    """The package table in its full form when it fits the width (a pipe counts as 80
    columns, or COLUMNS); narrower, the source column goes (the most common source is
    printed once below the table, another one in the row's ``why``) and ``why`` wraps;
    narrower still, one line per package. Names, versions and sizes are never cut."""
    from rich.measure import Measurement

    width = out.width
    table = _package_table(title, rows, heavy, None)
    natural = Measurement.get(out, out.options.update_width(10**6), table)
    if natural.maximum <= width:
        out.print(table)
        return
    counts: dict[str, int] = {}
    for row in rows:
        counts[row[3]] = counts.get(row[3], 0) + 1
    main = max(counts, key=lambda source: (counts[source], source))
    table = _package_table(title, rows, heavy, main)
    if _fixed_width(table) + 12 > width:  # `why` would get fewer than 12 columns
        out.print(title)
        for layer, name, version, _source, size, why in rows:
            line = f"  {layer}: {name} {version}, {format_size(size)}"
            line += f" ({why})" if why else ""
            wrapped = textwrap.wrap(line, width, subsequent_indent="      ")
            for part in wrapped or [line]:
                out.print(escape(part))
    else:
        out.print(table)
    others = [(row[1], row[3]) for row in rows if row[3] != main]
    out.print(f"source: {escape(main)}" + (", except:" if others else ""))
    for name, source in others:
        out.print(f"  {escape(name)}: {escape(source)}")


def _print_totals(out: Console, plan: BuildPlan) -> None:
    """Heavy and light package counts and wheel sizes, and the heavy layers."""
    totals = plan.to_dict()["totals"]
    for group in ("heavy", "light"):
        t = totals[group]
        out.print(
            f"{group}: {t['count']} packages, wheels {size_total(t['bytes'], t['unknown-size'])}"
        )
    if not plan.layers:
        out.print(f"heavy layers ({plan.layer_mode}): one")
    else:
        out.print(f"heavy layers ({plan.layer_mode}, COPY --link), bottom first:")
        _print_layers(out, plan.layers)
    threshold = format_size(plan.config.pool_threshold)
    if plan.light_layers:
        out.print(f"light layers (wheels of {threshold} and more, COPY --link above the base):")
        _print_layers(out, plan.light_layers)
    pool = totals["pool"]
    out.print(
        f"pool (the deps stage's uv sync): {pool['count']} packages, wheels "
        f"{size_total(pool['bytes'], pool['unknown-size'])}"
    )


def _print_layers(out: Console, groups: Sequence[LayerGroup]) -> None:
    for group in groups:
        out.print(
            f"  {escape(group.name)}: {len(group.packages)} packages, wheels "
            f"{size_total(group.size, group.unknown_size)}, key {group.key[:16]}"
        )


def _print_key(out: Console, plan: BuildPlan) -> None:
    """The base's key and tag, and what went into the key."""
    provisional = " (provisional: images by name only)" if plan.provisional else ""
    out.print(f"base key: {plan.key}{provisional}")
    out.print(f"base tag: [bold]{escape(plan.tag)}[/]")
    out.print("key inputs:")
    document = json.loads(plan.key_document)
    for name, value in document.items():
        if name == "layers":
            keys = ", ".join(f"{e['name']} {e['key'][:16]}" for e in value) or "none"
            out.print(f"  layers: {escape(keys)}")
        elif name == "system":
            out.print(f"  system: {len(value)} lines (the user's system part)")
        elif name == "images":
            out.print("  images:")
            for ref, digest in value.items():
                out.print(f"    {escape(ref)}: {escape(digest)}")
        elif name != "packages":
            out.print(f"  {name}: {escape(json.dumps(value))}")
    out.print(f"  packages: {len(document['packages'])} heavy entries")


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
    """The plan's package table; with ``main`` (the most common source) the compact form
    without a source column (listed below it) and ``why`` wrapping."""
    from rich.table import Table

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
