"""``uvbuild doctor`` (can this machine build?) and ``uvbuild gc`` (this project's old bases
and the cache records that keep them)."""

from __future__ import annotations

import contextlib
from typing import Any

import click

from uvbuild import gc as collector
from uvbuild.cli.app import App
from uvbuild.cli.options import output_options, plan_options, split_plan_flags
from uvbuild.cli.planning import keyed_plans, make_plan
from uvbuild.core.units import format_size
from uvbuild.errors import UvbuildError


@click.command()
@output_options
@plan_options
@click.option("--builder", help="buildx builder to check (default: the current one).")
@click.option(
    "--json", "as_json", is_flag=True, help="Print the checks as JSON (schema in README)."
)
@click.pass_obj
def doctor(app: App, builder: str | None, as_json: bool, **kwargs: Any) -> None:
    """Check that this machine can build: docker, engine, buildx, builder, Dockerfile
    features, images, base repository and disk. Exits non-zero when a required check fails."""
    from uvbuild.doctor import diagnose, project_problem  # only here: build does not pay for it

    path, lock_path, flags = split_plan_flags(kwargs)
    terminal = app.terminal
    the_plan, problem = project_problem(path, lambda: make_plan(path, lock_path, flags))
    engine = app.engine(builder=builder)
    if the_plan is not None:
        # the base tag a build would use; an image found nowhere is the images check's
        with contextlib.suppress(UvbuildError):
            (the_plan,) = keyed_plans([the_plan], engine, pull=False, strict=False)
    with terminal.progress():
        terminal.activity(f"uvbuild doctor: checking docker, the engine and {path}")
        report = diagnose(engine, path.resolve(), the_plan, problem)
    if as_json:
        terminal.json(report.to_dict())
    else:
        terminal.doctor_report(report.checks)
    error = report.error()
    if error is not None:
        raise error


@click.command()
@output_options
@plan_options
@click.option(
    "--keep",
    type=click.IntRange(min=0),
    default=collector.DEFAULT_KEEP,
    show_default=True,
    help="Newest bases to keep per platform.",
)
@click.option("--dry-run", is_flag=True, help="Show what would be removed; remove nothing.")
@click.option(
    "--all-repos",
    is_flag=True,
    help="Also bases of this project in other repositories, and untagged ones.",
)
@click.option("--builder", help="buildx builder whose cache records are pruned.")
@click.option("--json", "as_json", is_flag=True, help="Print what was removed as JSON.")
@click.pass_obj
def gc(
    app: App,
    keep: int,
    dry_run: bool,
    all_repos: bool,
    builder: str | None,
    as_json: bool,
    **kwargs: Any,
) -> None:
    """Remove this project's old local base images (all but the KEEP newest and those in
    use) and the build cache records that keep their layers alive."""
    path, lock_path, flags = split_plan_flags(kwargs)
    the_plan = make_plan(path, lock_path, flags)
    terminal = app.terminal
    engine = app.engine(builder=builder)
    with terminal.progress():
        result = collector.collect(
            the_plan, engine, terminal, keep=keep, dry_run=dry_run, all_repos=all_repos
        )
    if as_json:
        terminal.json(result.to_dict())
        return
    verb = "would remove" if dry_run else "removed"
    for decision in result.decisions:
        name = ", ".join(decision.base.tags) or decision.base.id[:19]
        what = verb if decision.remove else f"kept ({decision.reason})"
        terminal.result(f"{what}: {name}")
    if result.bytes_freed is not None:
        terminal.result(f"freed {format_size(result.bytes_freed)} (du -sb {result.data_root})")
    for error in result.errors:
        terminal.warn(error)
