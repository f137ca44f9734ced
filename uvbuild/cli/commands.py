"""The click commands: read the flags, make the plan, hand it to the flow, print the result.

Each command takes the App (``ctx.obj``): its terminal, and ``app.engine()`` for the
commands that talk to Docker.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import click

from uvbuild import __version__, planner
from uvbuild import gc as collector
from uvbuild.cli.app import App
from uvbuild.cli.options import (
    build_options,
    dockerfile_options,
    image_options,
    output_options,
    plan_options,
    set_debug,
    split_dockerfile_flags,
    split_plan_flags,
)
from uvbuild.core import render
from uvbuild.core.hashing import explain, layer_changes
from uvbuild.core.model import BuildPlan
from uvbuild.core.units import format_size
from uvbuild.docker.verbs import EngineLike
from uvbuild.errors import ConfigError, UvbuildError
from uvbuild.flow import images
from uvbuild.flow.build import BuildFlow
from uvbuild.flow.platforms import build_platforms, plans_document, split_platforms
from uvbuild.uvcheck import LockCheck, start_lock_check

Flags = dict[str, Any]


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="uvbuild")
@click.option(
    "--debug",
    is_flag=True,
    is_eager=True,
    expose_value=False,
    callback=set_debug,
    help="Show tracebacks for errors.",
)
@click.option("-q", "--quiet", is_flag=True, help="Print only the result.")
@click.option("-v", "--verbose", is_flag=True, help="Show the docker commands run.")
@click.option("--color/--no-color", default=True, help="Colour on a terminal (NO_COLOR works).")
@click.pass_context
def cli(ctx: click.Context, quiet: bool, verbose: bool, color: bool) -> None:
    """Docker images for uv projects: the heavy packages in a reusable, content-keyed base."""
    ctx.ensure_object(App).set_output(quiet=quiet, verbose=verbose, color=color)


def make_plan(
    path: Path,
    lock_path: Path | None,
    flags: Flags,
    *,
    install: bool = False,
    dockerfile: str | None = None,
    build_args: tuple[tuple[str, str], ...] = (),
) -> BuildPlan:
    """The plan; ``install=True`` (build, bake, dockerfile) also refuses a plan whose
    packages uv could not install on the target, before Docker is involved.
    ``dockerfile`` is ``--file``, ``build_args`` the ``--build-arg`` pairs."""
    the_plan = planner.make_plan(
        path, flags, lock_path=lock_path, dockerfile=dockerfile, build_args=dict(build_args)
    )
    if install:
        planner.check_installable(the_plan)
    return the_plan


def _keyed(
    plans: Sequence[BuildPlan],
    engine: EngineLike,
    *,
    pull: bool,
    strict: bool,
    cache: dict[str, str] | None = None,
) -> list[BuildPlan]:
    """The plans keyed on the digests of their images (uvbuild.flow.images), each image
    asked once; ``strict=False``: without an answer, provisional keys."""
    known = cache if cache is not None else {}
    return [images.keyed(p, engine, pull=pull, strict=strict, cache=known) for p in plans]


def _platform_list(flags: Flags) -> tuple[str, ...]:
    """The platforms of ``--platform a,b`` (one or none for a single platform)."""
    value = flags.get("platform")
    return split_platforms(value) if value and "," in value else ()


def _plans(
    path: Path, lock_path: Path | None, flags: Flags, platforms: tuple[str, ...], **how: Any
) -> list[BuildPlan]:
    """One plan per platform of ``--platform a,b``."""
    return [make_plan(path, lock_path, {**flags, "platform": p}, **how) for p in platforms]


def _lock_check(path: Path, lock_path: Path | None) -> Callable[[], LockCheck | None]:
    """Starts ``uv lock --check`` in the background while the plan is made, when PATH's
    uv.lock is the one read; the call returns its answer (None: not checked)."""
    pending = start_lock_check(path) if lock_path is None and path.is_dir() else None
    return pending if pending is not None else lambda: None


def _explanation(
    path: Path,
    old_lock: Path,
    flags: Flags,
    the_plan: BuildPlan,
    user: Flags,
    rekey: Callable[[BuildPlan], BuildPlan] = lambda p: p,
) -> dict[str, Any]:
    """``--explain-against``: the base key from the older lock (keyed as ``rekey`` keys
    the current plan: the same image digests) and what moved it."""
    old = rekey(make_plan(path, old_lock, flags, **user))
    return {
        "old-key": old.key,
        "new-key": the_plan.key,
        "changes": explain(json.loads(old.key_document), json.loads(the_plan.key_document)),
        "layers": layer_changes(
            (*old.layers, *old.light_layers),
            (*the_plan.layers, *the_plan.light_layers),
            old.pool,
            the_plan.pool,
        ),
    }


# -- plan and dockerfile ---------------------------------------------------------------------


@cli.command()
@output_options
@plan_options
@dockerfile_options
@click.option("--json", "as_json", is_flag=True, help="Print the plan as JSON (schema in README).")
@click.option(
    "--explain-against",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Compare the base key with one computed from an older uv.lock.",
)
@click.option(
    "--pull", is_flag=True, help="Ask the registry for the images' digests, as build --pull."
)
@click.option("--builder", help="buildx builder whose driver decides where images are read.")
@click.pass_obj
def plan(
    app: App,
    as_json: bool,
    explain_against: Path | None,
    pull: bool,
    builder: str | None,
    **kwargs: Any,
) -> None:
    """Show the heavy and light packages, the base key and its tag."""
    path, lock_path, flags = split_plan_flags(kwargs)
    user = split_dockerfile_flags(kwargs)
    platforms = _platform_list(flags)
    several = len(platforms) > 1
    lock_check = _lock_check(path, lock_path)
    if several:
        plans = _plans(path, lock_path, flags, platforms, **user)
    else:
        plans = [make_plan(path, lock_path, flags, **user)]
    engine = app.engine(builder=builder)
    digests: dict[str, str] = {}
    plans = _keyed(plans, engine, pull=pull, strict=False, cache=digests)

    def rekey(old: BuildPlan) -> BuildPlan:
        return _keyed([old], engine, pull=pull, strict=False, cache=digests)[0]

    check = lock_check()
    if check is not None and check.status != "fresh":
        app.terminal.warn(check.detail)
    documents = []
    for the_plan in plans:
        document = the_plan.to_dict()
        document["lock-check"] = check.status if check else "unchecked"
        if explain_against is not None:
            # several platforms: the older lock planned for each
            old_flags = {**flags, "platform": the_plan.target.platform} if several else flags
            document["explain"] = _explanation(
                path, explain_against, old_flags, the_plan, user, rekey
            )
        documents.append(document)
    if as_json:
        app.terminal.json(plans_document(documents) if several else documents[0])
    elif several:
        _print_plans(app, plans, documents, explain_against)
    else:
        _print_plan(app, plans[0], documents[0].get("explain"), explain_against)


def _print_plan(
    app: App, the_plan: BuildPlan, explanation: dict[str, Any] | None, against: Path | None
) -> None:
    out = app.terminal.out
    app.terminal.plan_table(the_plan)
    if explanation is None:
        return
    if explanation["old-key"] == explanation["new-key"]:
        out.print(f"key unchanged against {against}")
    else:
        out.print(f"key moved against {against}:")
        for line in explanation["changes"]:
            out.print(f"  {line}")
    _print_layer_moves(app, explanation["layers"], against)


def _print_layer_moves(app: App, lines: list[str], against: Path | None) -> None:
    out = app.terminal.out
    if not lines:
        out.print(f"no layer moves against {against}")
        return
    out.print(f"layers that move against {against}:")
    for line in lines:
        out.print(f"  {line}")


def _print_plans(
    app: App, plans: list[BuildPlan], documents: list[dict[str, Any]], against: Path | None
) -> None:
    """``plan --platform a,b``: one section per platform."""
    out = app.terminal.out
    for index, (the_plan, document) in enumerate(zip(plans, documents, strict=True)):
        if index:
            out.print("")
        out.print(f"== platform {the_plan.target.platform} ==")
        app.terminal.plan_table(the_plan)
        changes = document.get("explain", {}).get("changes")
        if changes is not None:
            out.print(f"key changes against {against}: {len(changes)}")
            for line in changes:
                out.print(f"  {line}")
            _print_layer_moves(app, document["explain"]["layers"], against)


@cli.command()
@output_options
@plan_options
@dockerfile_options
@click.option("--syntax", help="Add a `# syntax=REF` line (default: the built-in frontend).")
@click.pass_obj
def dockerfile(app: App, syntax: str | None, **kwargs: Any) -> None:
    """Print the Dockerfile a build runs: the generated one, or the user's own cut at its
    `uv sync` with the keyed layers below it (to read it, or to eject it)."""
    path, lock_path, flags = split_plan_flags(kwargs)
    user = split_dockerfile_flags(kwargs)
    the_plan = make_plan(path, lock_path, flags, install=True, **user)
    (the_plan,) = _keyed([the_plan], app.engine(), pull=False, strict=False)
    note = images.provisional_note(the_plan)
    if note is not None:
        app.terminal.info(f"note: {note}")
    app.terminal.result(render.dockerfile(the_plan, syntax=syntax))


# -- build and bake ----------------------------------------------------------------------------


@cli.command()
@output_options
@plan_options
@image_options("build")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON summary (schema in README).")
@click.pass_obj
def build(app: App, as_json: bool, **kwargs: Any) -> None:
    """Build the image: reuse or build the base, then the light layers on top."""
    path, lock_path, flags = split_plan_flags(kwargs)
    platforms = _platform_list(flags)
    if len(platforms) > 1:  # one plan per platform; the first one is planned here
        flags = {**flags, "platform": platforms[0]}
    lock_check = _lock_check(path, lock_path)
    options = build_options(kwargs, "build")
    user = {"dockerfile": options.file, "build_args": options.build_args}
    the_plan = make_plan(path, lock_path, flags, install=True, **user)
    terminal = app.terminal
    check = lock_check()
    if check is not None:
        if check.status == "stale":
            terminal.warn(check.detail)
        else:
            terminal.detail(f"uv.lock check: {check.status} {check.detail}".strip())
    for note in the_plan.notes:
        terminal.detail(note)
    engine = app.engine(builder=options.builder)
    if len(platforms) > 1:
        plans = [the_plan, *_plans(path, lock_path, flags, platforms[1:], install=True, **user)]
        with terminal.progress():
            summary = build_platforms(plans, options, engine, terminal)
        if as_json:
            terminal.json(summary)
        else:
            for line in summary["commands"] if options.dry_run else options.tags:
                terminal.result(line)
        return
    flow = BuildFlow(the_plan, options, engine, terminal)
    if not as_json and not options.dry_run:
        terminal.table_ahead()
    with terminal.progress():
        result = flow.run()
    if as_json:
        terminal.json(result.to_dict())
    elif options.dry_run:
        for command in result.commands:
            terminal.result(command)
    else:
        terminal.build_summary(result, flow.plan)


@cli.command()
@output_options
@plan_options
@click.option(
    "-o",
    "--output",
    "output",
    default="docker-bake.json",
    show_default=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="Bake file to write.",
)
@image_options("bake")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON summary (schema in README).")
@click.pass_obj
def bake(app: App, output: Path, as_json: bool, **kwargs: Any) -> None:
    """Write a docker-bake file that builds the base (when missing) and the app, for
    `docker buildx bake -f FILE`. Its generated inputs stay in ~/.cache/uvbuild/bake/."""
    path, lock_path, flags = split_plan_flags(kwargs)
    if len(_platform_list(flags)) > 1:
        raise ConfigError(
            "bake takes one --platform; write one bake file per platform, or use "
            "`uvbuild build --platform a,b --push`"
        )
    options = build_options(kwargs, "bake", progress="plain")
    the_plan = make_plan(
        path,
        lock_path,
        flags,
        install=True,
        dockerfile=options.file,
        build_args=options.build_args,
    )
    terminal = app.terminal
    engine = app.engine(builder=options.builder)
    from uvbuild.flow import bake as bakefile  # only here: build does not pay for it

    with terminal.progress():
        result = bakefile.write(BuildFlow(the_plan, options, engine, terminal), output, terminal)
    if as_json:
        terminal.json(result.to_dict())
    else:
        terminal.result(str(result.file))


# -- doctor and gc ---------------------------------------------------------------------------


@cli.command()
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
            (the_plan,) = _keyed([the_plan], engine, pull=False, strict=False)
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


@cli.command()
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
