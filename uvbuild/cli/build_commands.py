"""``uvbuild build`` (the base reused or built, then the app; one flow per platform) and
``uvbuild bake`` (the same two requests written as a docker-bake file)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from uvbuild.cli.app import App
from uvbuild.cli.options import (
    build_options,
    image_options,
    output_options,
    plan_options,
    split_plan_flags,
)
from uvbuild.cli.planning import begin_lock_check, make_plan, platform_list, platform_plans
from uvbuild.errors import ConfigError
from uvbuild.flow.build import BuildFlow
from uvbuild.flow.platforms import build_platforms


@click.command()
@output_options
@plan_options
@image_options("build")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON summary (schema in README).")
@click.pass_obj
def build(app: App, as_json: bool, **kwargs: Any) -> None:
    """Build the image: reuse or build the base, then the light layers on top."""
    path, lock_path, flags = split_plan_flags(kwargs)
    platforms = platform_list(flags)
    if len(platforms) > 1:  # one plan per platform; the first one is planned here
        flags = {**flags, "platform": platforms[0]}
    lock_check = begin_lock_check(path, lock_path)
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
        plans = [
            the_plan,
            *platform_plans(path, lock_path, flags, platforms[1:], install=True, **user),
        ]
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


@click.command()
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
    if len(platform_list(flags)) > 1:
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
