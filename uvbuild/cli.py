"""The click command line: parse flags, call the planner and the build flow, print.

``main()`` is the one place where UvbuildError becomes a red line and an exit code.
"""

from __future__ import annotations

import json
import os
import signal
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import click

from uvbuild import __version__, planner
from uvbuild.console import Terminal
from uvbuild.core import render
from uvbuild.core.hashing import explain
from uvbuild.errors import ConfigError, Interrupted, UvbuildError
from uvbuild.uvcheck import start_lock_check


class App:
    """Per-invocation state shared by the subcommands (``ctx.obj``)."""

    def __init__(self, terminal: Terminal, debug: bool) -> None:
        self.terminal = terminal
        self.debug = debug

    def set_output(self, **settings: bool) -> None:
        """``-q``, ``-v`` or ``--no-color`` given after the subcommand."""
        current = {
            "quiet": self.terminal.quiet,
            "verbose": self.terminal.verbose,
            "color": self.terminal.color,
        }
        self.terminal = Terminal(**{**current, **settings})


def _output_flag(setting: str, value: bool) -> Callable[[click.Context, Any, bool], None]:
    def callback(ctx: click.Context, _param: Any, given: bool) -> None:
        app = ctx.find_object(App)
        if given and app is not None:
            app.set_output(**{setting: value})

    return callback


def output_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """``-q``, ``-v``, ``--no-color`` and ``--debug`` also work after the subcommand
    (``uvbuild build -q .``), as they do before it."""
    options = [
        click.option(
            "-q",
            "--quiet",
            is_flag=True,
            expose_value=False,
            callback=_output_flag("quiet", True),
            help="Print only the result (build: the image reference); errors still show.",
        ),
        click.option(
            "-v",
            "--verbose",
            is_flag=True,
            expose_value=False,
            callback=_output_flag("verbose", True),
            help="Show the docker commands run.",
        ),
        click.option(
            "--no-color",
            is_flag=True,
            expose_value=False,
            callback=_output_flag("color", False),
            help="No colour (NO_COLOR works too).",
        ),
        # main() looks for --debug anywhere on the command line.
        click.option("--debug", is_flag=True, expose_value=False, help="Show tracebacks."),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def plan_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """Flags that shape the plan; each overrides the same key of [tool.uvbuild]."""
    options = [
        click.argument(
            "path", required=False, default=".", type=click.Path(file_okay=False, path_type=Path)
        ),
        click.option("--platform", help="Target platform: linux/amd64 or linux/arm64."),
        click.option("--python", help="Target Python version, e.g. 3.11."),
        click.option("--extra", "extras", multiple=True, help="Include an extra (repeatable)."),
        click.option("--all-extras", is_flag=True, default=None, help="Include every extra."),
        click.option(
            "--no-extra", "no_extras", multiple=True, help="Leave out an extra (beats the others)."
        ),
        click.option("--group", "groups", multiple=True, help="Include a dependency group."),
        click.option("--only-group", "only_groups", multiple=True, help="Only this group."),
        click.option(
            "--no-group", "no_groups", multiple=True, help="Leave out a group (beats the others)."
        ),
        click.option("--all-groups", is_flag=True, default=None, help="Every dependency group."),
        click.option(
            "--no-default-groups",
            is_flag=True,
            default=None,
            help="Ignore [tool.uv] default-groups.",
        ),
        click.option(
            "--dev/--no-dev", "dev", default=None, help="Include (leave out) the dev group."
        ),
        click.option("--only-dev", is_flag=True, default=None, help="Only the dev group."),
        click.option(
            "--package",
            "package",
            multiple=True,
            help="Sync this workspace member instead of the root (repeatable).",
        ),
        click.option("--all-packages", is_flag=True, default=None, help="Every member."),
        click.option("--base-image", help="Image the base stage starts FROM."),
        click.option("--uv-image", help="Image carrying /uv and /uvx."),
        click.option("--base-repo", help="Repository of the base image tags."),
        click.option("--venv", help="Virtual environment path in the image."),
        click.option("--heavy", multiple=True, help="Extra heavy name pattern (repeatable)."),
        click.option("--heavy-exclude", multiple=True, help="Never heavy (repeatable)."),
        click.option("--heavy-threshold", help="Wheel size that makes a package heavy."),
        click.option(
            "--heavy-min-size",
            help="Smallest wheel a heavy name pattern takes into the base (1MB).",
        ),
        click.option("--glibc", help="glibc of the base image for manylinux wheels (2.28)."),
        click.option(
            "--layer-mode",
            type=click.Choice(["groups", "auto", "single"]),
            help="Heavy layers: by [tool.uvbuild.layers] groups, auto by size, or one.",
        ),
        click.option("--layer-limit", help="Largest heavy layer in auto mode (2GB)."),
        click.option(
            "--compile-bytecode/--no-compile-bytecode",
            default=None,
            help="Compile .pyc files at install time (default on).",
        ),
        click.option(
            "--index-credentials",
            "index_credentials",
            multiple=True,
            help="A [[tool.uv.index]] name whose UV_INDEX_<NAME>_USERNAME/_PASSWORD reach uv "
            "in the build as secrets (repeatable).",
        ),
        click.option(
            "--lock",
            "lock_path",
            type=click.Path(dir_okay=False, path_type=Path),
            help="Read this uv.lock instead of PATH/uv.lock.",
        ),
    ]
    for option in reversed(options):
        command = option(command)
    return command


PLAN_FLAG_NAMES = (
    "layer_mode",
    "layer_limit",
    "platform",
    "python",
    "extras",
    "all_extras",
    "groups",
    "only_groups",
    "dev",
    "package",
    "all_packages",
    "no_extras",
    "no_groups",
    "all_groups",
    "no_default_groups",
    "only_dev",
    "base_image",
    "uv_image",
    "base_repo",
    "venv",
    "heavy",
    "heavy_exclude",
    "heavy_threshold",
    "heavy_min_size",
    "glibc",
    "compile_bytecode",
    "index_credentials",
)


def split_plan_flags(kwargs: dict[str, Any]) -> tuple[Path, Path | None, dict[str, Any]]:
    path = kwargs.pop("path")
    lock_path = kwargs.pop("lock_path")
    flags = {name: kwargs.pop(name) for name in PLAN_FLAG_NAMES}
    if flags["heavy"]:
        flags["heavy"] = tuple(flags["heavy"])
    flags["index_credentials"] = tuple(flags["index_credentials"])
    # `--dev/--no-dev`: the last one given wins, as in uv; each is its own key
    dev = flags.pop("dev")
    flags["dev"], flags["no_dev"] = (None, None) if dev is None else (dev or None, not dev or None)
    # `--package` is repeatable, as in uv; one member keeps the `package` key
    packages = tuple(flags.pop("package") or ())
    flags["package"] = packages[0] if len(packages) == 1 else None
    flags["packages"] = packages if len(packages) > 1 else None
    return path, lock_path, flags


def make_plan(path: Path, lock_path: Path | None, flags: dict[str, Any], *, install: bool = False):
    """The plan; ``install=True`` (build, bake, dockerfile) also refuses a plan whose
    packages uv could not install on the target, before Docker is involved."""
    the_plan = planner.make_plan(path, flags, lock_path=lock_path)
    if install:
        planner.check_installable(the_plan)
    return the_plan


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="uvbuild")
@click.option("--debug", is_flag=True, help="Show tracebacks for errors.")
@click.option("-q", "--quiet", is_flag=True, help="Print only the result.")
@click.option("-v", "--verbose", is_flag=True, help="Show the docker commands run.")
@click.option("--color/--no-color", default=True, help="Colour on a terminal (NO_COLOR works).")
@click.pass_context
def cli(ctx: click.Context, debug: bool, quiet: bool, verbose: bool, color: bool) -> None:
    """Docker images for uv projects: the heavy packages in a reusable, content-keyed base."""
    ctx.obj = App(Terminal(quiet=quiet, verbose=verbose, color=color), debug)


@cli.command()
@output_options
@plan_options
@click.option("--json", "as_json", is_flag=True, help="Print the plan as JSON (schema in README).")
@click.option(
    "--explain-against",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Compare the base key with one computed from an older uv.lock.",
)
@click.pass_obj
def plan(app: App, as_json: bool, explain_against: Path | None, **kwargs: Any) -> None:
    """Show the heavy and light packages, the base key and its tag."""
    path, lock_path, flags = split_plan_flags(kwargs)
    if len(_platform_list(flags)) > 1:
        _plan_platforms(app, path, lock_path, flags, as_json, explain_against)
        return
    pending = start_lock_check(path) if lock_path is None and path.is_dir() else None
    the_plan = make_plan(path, lock_path, flags)
    check = pending() if pending is not None else None
    if check is not None and check.status != "fresh":
        app.terminal.warn(check.detail)
    explanation = None
    if explain_against is not None:
        old = make_plan(path, explain_against, flags)
        explanation = {
            "old-key": old.key,
            "new-key": the_plan.key,
            "changes": explain(json.loads(old.key_document), json.loads(the_plan.key_document)),
        }
    if as_json:
        document = the_plan.to_dict()
        document["lock-check"] = check.status if check else "unchecked"
        if explanation is not None:
            document["explain"] = explanation
        app.terminal.json(document)
        return
    app.terminal.plan_table(the_plan)
    if explanation is not None:
        if explanation["old-key"] == explanation["new-key"]:
            app.terminal.out.print(f"key unchanged against {explain_against}")
        else:
            app.terminal.out.print(f"key moved against {explain_against}:")
            for line in explanation["changes"]:
                app.terminal.out.print(f"  {line}")


def _pairs(values: Sequence[str], flag: str) -> tuple[tuple[str, str], ...]:
    pairs = []
    for value in values:
        key, sep, rest = value.partition("=")
        if not key:
            raise ConfigError(f"{flag} {value!r}: expected KEY=VALUE")
        # `--build-arg NAME` (no value) takes NAME from the environment, as docker does.
        pairs.append((key, rest if sep else os.environ.get(key, "")))
    return tuple(pairs)


def image_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """The `docker build` flags that `build` and `bake` share, each one BuildOptions field."""
    options = [
        click.option(
            "-t", "--tag", "tags", multiple=True, help="Name and tag of the image (repeatable)."
        ),
        click.option(
            "-f",
            "--file",
            "file",
            type=click.Path(dir_okay=False),
            help="A Dockerfile that uses `FROM uvbuild-base` (default: ./Dockerfile if any).",
        ),
        click.option("--target", help="Stage of the Dockerfile to build."),
        click.option("--build-arg", "build_args", multiple=True, help="KEY=VALUE (repeatable)."),
        click.option(
            "--load/--no-load", default=None, help="Load into the engine (docker driver: on)."
        ),
        click.option("--push", is_flag=True, help="Push the app image to its registry."),
        click.option("--no-cache", is_flag=True, help="No build cache for the app stages."),
        click.option(
            "--rebuild-base", is_flag=True, help="Build the base again even when it exists."
        ),
        click.option(
            "--secret", "secrets", multiple=True, help="Build secret, as docker takes it."
        ),
        click.option("--ssh", "ssh", multiple=True, help="SSH agent socket or keys, as docker."),
        click.option(
            "--label", "labels", multiple=True, help="KEY=VALUE image label (repeatable)."
        ),
        click.option("--builder", help="buildx builder to use."),
        click.option("--network", help="Network for RUN steps (e.g. host)."),
        click.option("--cache-from", multiple=True, help="External cache source (repeatable)."),
        click.option("--cache-to", multiple=True, help="Cache export destination (repeatable)."),
        click.option("--syntax", help="Add a `# syntax=REF` line to the generated Dockerfile."),
        # docker buildx build flags of Makefiles and CI; README "Which build a flag reaches"
        click.option("--iidfile", help="Write the app image's ID to the file."),
        click.option(
            "--metadata-file",
            help="Write buildx's metadata of the app build, plus uvbuild's facts (key uvbuild).",
        ),
        click.option("--pull", is_flag=True, help="Always pull the images the builds start from."),
        click.option("--provenance", help="App image: shorthand for --attest=type=provenance."),
        click.option("--sbom", help="App image: shorthand for --attest=type=sbom."),
        click.option("--attest", "attests", multiple=True, help="App image attestation."),
        click.option("--annotation", "annotations", multiple=True, help="App image annotation."),
        click.option("--shm-size", help="Shared memory size of RUN containers (e.g. 2g)."),
        click.option("--ulimit", "ulimits", multiple=True, help="Ulimit of RUN containers."),
        click.option(
            "--allow", "allow", multiple=True, help="Extra entitlement (e.g. network.host)."
        ),
        click.option(
            "--build-context",
            "build_contexts",
            multiple=True,
            help="NAME=VALUE: your own named context for the app build (repeatable).",
        ),
        click.option(
            "--call", help="build (default), or check/outline/targets on the app Dockerfile."
        ),
        click.option("--check", is_flag=True, help="Shorthand for --call=check."),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def build_options(kwargs: dict[str, Any], **fixed: Any) -> Any:
    """BuildOptions from the flags a command has; ``fixed`` sets the ones it lacks."""
    from uvbuild.flow.options import BuildOptions, normalize_call, normalize_output, user_contexts

    pairs = {"build_args": "--build-arg", "labels": "--label"}
    values: dict[str, Any] = {}
    for field in BuildOptions.__dataclass_fields__:
        if field in fixed or field not in kwargs:
            continue
        value = kwargs[field]
        if field in pairs:
            value = _pairs(value, pairs[field])
        elif field == "build_contexts":
            value = user_contexts(value)
        elif field == "outputs":
            value = tuple(normalize_output(output) for output in value)
        elif field == "allow":  # docker takes `--allow a,b` and `--allow a --allow b`
            value = tuple(part for item in value for part in item.split(",") if part)
        elif field == "call":
            value = normalize_call(value, bool(kwargs.get("check")))
        elif isinstance(value, list | tuple):
            value = tuple(value)
        values[field] = value
    return BuildOptions(**values, **fixed)


@cli.command()
@output_options
@plan_options
@click.option("--syntax", help="Add a `# syntax=REF` line (default: the built-in frontend).")
@click.pass_obj
def dockerfile(app: App, syntax: str | None, **kwargs: Any) -> None:
    """Print the generated Dockerfile (to read it, or to eject it)."""
    path, lock_path, flags = split_plan_flags(kwargs)
    the_plan = make_plan(path, lock_path, flags, install=True)
    app.terminal.result(render.dockerfile(the_plan, syntax=syntax))


@cli.command()
@output_options
@plan_options
@image_options
@click.option(
    "--progress",
    default="auto",
    show_default=True,
    type=click.Choice(["auto", "plain", "tty", "quiet", "rawjson"]),
    help="BuildKit progress output: auto is BuildKit's TTY view on a terminal, plain lines "
    "elsewhere.",
)
@click.option(
    "--push-base",
    is_flag=True,
    help="Push a base built here to its registry base-repo (skipped when already there).",
)
@click.option("--add-host", "add_hosts", multiple=True, help="HOST:IP (repeatable).")
@click.option(
    "-o",
    "--output",
    "outputs",
    multiple=True,
    help="App image exporter, as buildx: type=docker|oci|tar|local|image|registry,... or a "
    "directory (type=local); disables the default --load.",
)
@click.option("--dry-run", is_flag=True, help="Print the docker commands; build nothing.")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON summary (schema in README).")
@click.pass_obj
def build(app: App, as_json: bool, **kwargs: Any) -> None:
    """Build the image: reuse or build the base, then the light layers on top."""
    # Imported here so that `plan` and `dockerfile` never load python-on-whales.
    from uvbuild.docker.engine import Engine
    from uvbuild.flow.build import Builder

    path, lock_path, flags = split_plan_flags(kwargs)
    platforms = _platform_list(flags)
    if len(platforms) > 1:  # one plan per platform; the first one is planned here
        flags = {**flags, "platform": platforms[0]}
    pending = start_lock_check(path) if lock_path is None and path.is_dir() else None
    the_plan = make_plan(path, lock_path, flags, install=True)
    terminal = app.terminal
    if pending is not None:
        check = pending()
        if check.status == "stale":
            terminal.warn(check.detail)
        else:
            terminal.detail(f"uv.lock check: {check.status} {check.detail}".strip())
    for note in the_plan.notes:
        terminal.detail(note)
    options = build_options(kwargs)
    engine = Engine(
        builder=options.builder,
        log=terminal.detail,
        trace=terminal.command if terminal.verbose else None,
    )
    if len(platforms) > 1:
        from uvbuild.flow.platforms import build_platforms

        plans = [the_plan]
        plans += [
            make_plan(path, lock_path, {**flags, "platform": p}, install=True)
            for p in platforms[1:]
        ]
        with terminal.progress():
            summary = build_platforms(plans, options, engine, terminal)
        if as_json:
            terminal.json(summary)
        elif options.dry_run:
            for command in summary["commands"]:
                terminal.result(command)
        else:
            for tag in options.tags:
                terminal.result(tag)
        return
    with terminal.progress():
        result = Builder(the_plan, options, engine, terminal).run()
    if as_json:
        terminal.json(result.to_dict())
    elif options.dry_run:
        for command in result.commands:
            terminal.result(command)
    else:
        terminal.build_summary(result, the_plan)


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
    from uvbuild.docker.engine import Engine
    from uvbuild.doctor import diagnose, project_problem

    path, lock_path, flags = split_plan_flags(kwargs)
    terminal = app.terminal
    the_plan, problem = project_problem(path, lambda: make_plan(path, lock_path, flags))
    engine = Engine(
        builder=builder,
        log=terminal.detail,
        trace=terminal.command if terminal.verbose else None,
    )
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


# -- several platforms, bake and gc ------------------------------------------------------


def _platform_list(flags: dict[str, Any]) -> tuple[str, ...]:
    """The platforms of ``--platform a,b`` (one or none for a single platform)."""
    from uvbuild.flow.platforms import split_platforms

    value = flags.get("platform")
    return split_platforms(value) if value and "," in value else ()


def _plan_platforms(
    app: App,
    path: Path,
    lock_path: Path | None,
    flags: dict[str, Any],
    as_json: bool,
    explain_against: Path | None,
) -> None:
    """``plan --platform a,b``: one plan per platform, as sections or ``uvbuild.plans/1``."""
    from uvbuild.flow.platforms import plans_document

    pending = start_lock_check(path) if lock_path is None and path.is_dir() else None
    plans = [make_plan(path, lock_path, {**flags, "platform": p}) for p in _platform_list(flags)]
    check = pending() if pending is not None else None
    if check is not None and check.status != "fresh":
        app.terminal.warn(check.detail)
    documents = []
    for the_plan in plans:
        document = the_plan.to_dict()
        document["lock-check"] = check.status if check else "unchecked"
        if explain_against is not None:
            old = make_plan(path, explain_against, {**flags, "platform": the_plan.target.platform})
            document["explain"] = {
                "old-key": old.key,
                "new-key": the_plan.key,
                "changes": explain(json.loads(old.key_document), json.loads(the_plan.key_document)),
            }
        documents.append(document)
    if as_json:
        app.terminal.json(plans_document(documents))
        return
    for index, (the_plan, document) in enumerate(zip(plans, documents, strict=True)):
        if index:
            app.terminal.out.print("")
        app.terminal.out.print(f"== platform {the_plan.target.platform} ==")
        app.terminal.plan_table(the_plan)
        changes = document.get("explain", {}).get("changes")
        if changes is not None:
            app.terminal.out.print(f"key changes against {explain_against}: {len(changes)}")
            for line in changes:
                app.terminal.out.print(f"  {line}")


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
@image_options
@click.option("--json", "as_json", is_flag=True, help="Print a JSON summary (schema in README).")
@click.pass_obj
def bake(app: App, output: Path, as_json: bool, **kwargs: Any) -> None:
    """Write a docker-bake file that builds the base (when missing) and the app, for
    `docker buildx bake -f FILE`. Its generated inputs stay in ~/.cache/uvbuild/bake/."""
    from uvbuild.docker.engine import Engine
    from uvbuild.flow import bake as bakefile
    from uvbuild.flow.build import Builder

    path, lock_path, flags = split_plan_flags(kwargs)
    if len(_platform_list(flags)) > 1:
        raise ConfigError(
            "bake takes one --platform; write one bake file per platform, or use "
            "`uvbuild build --platform a,b --push`"
        )
    the_plan = make_plan(path, lock_path, flags, install=True)
    terminal = app.terminal
    options = build_options(kwargs, progress="plain")
    engine = Engine(
        builder=options.builder,
        log=terminal.detail,
        trace=terminal.command if terminal.verbose else None,
    )
    with terminal.progress():
        result = bakefile.write(Builder(the_plan, options, engine, terminal), output, terminal)
    if as_json:
        terminal.json(result.to_dict())
    else:
        terminal.result(str(result.file))


@cli.command()
@output_options
@plan_options
@click.option(
    "--keep",
    type=click.IntRange(min=0),
    default=2,
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
    from uvbuild import gc as collector
    from uvbuild.docker.engine import Engine

    path, lock_path, flags = split_plan_flags(kwargs)
    the_plan = make_plan(path, lock_path, flags)
    terminal = app.terminal
    engine = Engine(
        builder=builder,
        log=terminal.detail,
        trace=terminal.command if terminal.verbose else None,
    )
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
        from uvbuild.core.units import format_size

        terminal.result(f"freed {format_size(result.bytes_freed)} (du -sb {result.data_root})")
    for error in result.errors:
        terminal.warn(error)


def _on_signal(signum: int, _frame: Any) -> None:
    raise Interrupted(f"interrupted by {signal.Signals(signum).name}", signum)


def main(argv: Sequence[str] | None = None) -> None:
    """Entry point: run the CLI and turn every known error into one line and its exit code."""
    args = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in args
    # SIGINT too gets a handler: a shell may start uvbuild with SIGINT ignored (a
    # background job), and an interrupt must still stop the build child it forwards to.
    previous = {
        signum: signal.signal(signum, _on_signal) for signum in (signal.SIGINT, signal.SIGTERM)
    }
    terminal = Terminal()
    try:
        cli.main(args=args, prog_name="uvbuild", standalone_mode=False)
    except UvbuildError as exc:
        if debug:
            raise
        terminal.error(str(exc))
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        terminal.error("interrupted")
        sys.exit(130)
    except click.exceptions.Abort:
        terminal.error("aborted")
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(ConfigError.exit_code if exc.exit_code == 2 else exc.exit_code)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    sys.exit(0)
