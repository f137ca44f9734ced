"""``uvbuild plan`` (the heavy and light packages, the key, what moved it against an older
lock) and ``uvbuild dockerfile`` (the Dockerfile a build runs)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from uvbuild.cli.app import App
from uvbuild.cli.options import (
    dockerfile_options,
    output_options,
    plan_options,
    split_dockerfile_flags,
    split_plan_flags,
)
from uvbuild.cli.planning import (
    Flags,
    begin_lock_check,
    keyed_plans,
    make_plan,
    platform_list,
    platform_plans,
)
from uvbuild.core import render
from uvbuild.core.hashing import explain, layer_changes
from uvbuild.core.model import BuildPlan
from uvbuild.flow import images
from uvbuild.flow.platforms import plans_document


@click.command()
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
    platforms = platform_list(flags)
    several = len(platforms) > 1
    lock_check = begin_lock_check(path, lock_path)
    if several:
        plans = platform_plans(path, lock_path, flags, platforms, **user)
    else:
        plans = [make_plan(path, lock_path, flags, **user)]
    engine = app.engine(builder=builder)
    digests: dict[str, str] = {}
    plans = keyed_plans(plans, engine, pull=pull, strict=False, cache=digests)

    def rekey(old: BuildPlan) -> BuildPlan:
        return keyed_plans([old], engine, pull=pull, strict=False, cache=digests)[0]

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
        _printplatform_plans(app, plans, documents, explain_against)
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


def _printplatform_plans(
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


@click.command()
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
    (the_plan,) = keyed_plans([the_plan], app.engine(), pull=False, strict=False)
    note = images.provisional_note(the_plan)
    if note is not None:
        app.terminal.info(f"note: {note}")
    app.terminal.result(render.dockerfile(the_plan, syntax=syntax))


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
