"""The click options, made from the tables that declare each setting once.

- the output flags (``-q``, ``-v``, ``--no-color``, ``--debug``), which set the App;
- the plan flags, one per row of ``Config`` that has a flag (``uvbuild.core.config``);
- the docker build flags, one row of ``BUILD_FLAGS`` per ``BuildOptions`` field.

A row whose field does not exist fails here, when the module is imported.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import click

from uvbuild.cli.app import App
from uvbuild.core.config import SETTINGS
from uvbuild.core.settings import LAYER_MODES, Setting
from uvbuild.errors import ConfigError
from uvbuild.flow.options import BuildOptions, normalize_call, normalize_output, user_contexts

Command = Callable[..., Any]


def _apply(command: Command, options: Sequence[Callable[[Command], Command]]) -> Command:
    for option in reversed(options):  # the first one listed comes first in --help
        command = option(command)
    return command


# -- output ------------------------------------------------------------------------------


def _output_flag(setting: str, value: bool) -> Callable[[click.Context, Any, bool], None]:
    def callback(ctx: click.Context, _param: Any, given: bool) -> None:
        if given:
            ctx.ensure_object(App).set_output(**{setting: value})

    return callback


def set_debug(ctx: click.Context, _param: Any, given: bool) -> None:
    """``--debug``: eager, so it is set before any other option of its command is read."""
    if given:
        ctx.ensure_object(App).debug = True


# (names, the Terminal setting, its value, help)
_OUTPUT_FLAGS = (
    (
        "-q --quiet",
        "quiet",
        True,
        "Print only the result (build: the image reference); errors still show.",
    ),
    ("-v --verbose", "verbose", True, "Show the docker commands run."),
    ("--no-color", "color", False, "No colour (NO_COLOR works too)."),
)


def output_options(command: Command) -> Command:
    """``-q``, ``-v``, ``--no-color`` and ``--debug`` also work after the subcommand
    (``uvbuild build -q .``), as they do before it."""
    options = [
        click.option(
            *names.split(),
            is_flag=True,
            expose_value=False,
            callback=_output_flag(setting, value),
            help=help,
        )
        for names, setting, value, help in _OUTPUT_FLAGS
    ]
    debug = click.option(
        "--debug",
        is_flag=True,
        is_eager=True,
        expose_value=False,
        callback=set_debug,
        help="Show tracebacks.",
    )
    return _apply(command, [*options, debug])


# -- the plan ------------------------------------------------------------------------------

#: the settings that have a flag, in the order of --help
PLAN_FLAGS = tuple(row for row in SETTINGS if row.flag is not None)


def _plan_option(row: Setting) -> Callable[[Command], Command]:
    assert row.flag is not None
    extra: dict[str, Any] = {}
    if row.flag.form == "repeat":
        extra["multiple"] = True
    elif row.flag.form == "flag":
        extra.update(is_flag=True, default=None)  # None: not given, the key keeps its value
    elif row.flag.form == "switch":
        extra["default"] = None
    if row.kind == "layer-mode":
        extra["type"] = click.Choice(LAYER_MODES)
    return click.option(*row.flag.names, row.name, help=row.flag.help, **extra)


def plan_options(command: Command) -> Command:
    """Flags that shape the plan; each overrides the same key of [tool.uvbuild]."""
    options = [
        click.argument(
            "path", required=False, default=".", type=click.Path(file_okay=False, path_type=Path)
        ),
        *(_plan_option(row) for row in PLAN_FLAGS),
        click.option(
            "--lock",
            "lock_path",
            type=click.Path(dir_okay=False, path_type=Path),
            help="Read this uv.lock instead of PATH/uv.lock.",
        ),
    ]
    return _apply(command, options)


# the parameters dockerfile_options adds
DOCKERFILE_PARAMS = ("file", "build_args")


def dockerfile_options(command: Command) -> Command:
    """``-f/--file`` and ``--build-arg`` for the commands that plan without building
    (plan, dockerfile): the user's Dockerfile decides the plan of a seed build."""
    options = [
        click.option(
            "-f",
            "--file",
            "file",
            type=click.Path(dir_okay=False),
            help="The Dockerfile to build (default: ./Dockerfile if any).",
        ),
        click.option("--build-arg", "build_args", multiple=True, help="KEY=VALUE (repeatable)."),
    ]
    return _apply(command, options)


def split_dockerfile_flags(kwargs: dict[str, Any]) -> dict[str, Any]:
    """``dockerfile`` and ``build_args`` for ``make_plan``, taken out of ``kwargs``."""
    pairs = _pairs("--build-arg")(kwargs.pop("build_args"), kwargs)
    return {"dockerfile": kwargs.pop("file"), "build_args": pairs}


def _flag_values(row: Setting, given: Any) -> dict[str, Any]:
    """One flag's value as ``load_config`` takes it: by setting name, None or () when the
    flag was not given."""
    assert row.flag is not None
    if row.flag.form == "repeat":
        given = tuple(given)
    also = row.flag.also
    if also is None:
        return {row.name: given}
    if row.flag.form == "switch":  # --dev sets dev, --no-dev sets no_dev
        return {row.name: given or None, also: given is False or None}
    # one --package sets package, several set packages
    if len(given) == 1:
        return {row.name: given[0], also: None}
    return {row.name: None, also: given or None}


def split_plan_flags(kwargs: dict[str, Any]) -> tuple[Path, Path | None, dict[str, Any]]:
    """PATH, ``--lock`` and the plan flags (for ``planner.make_plan``), taken out of
    ``kwargs``."""
    path = kwargs.pop("path")
    lock_path = kwargs.pop("lock_path")
    flags: dict[str, Any] = {}
    for row in PLAN_FLAGS:
        flags.update(_flag_values(row, kwargs.pop(row.name)))
    return path, lock_path, flags


# -- the docker build flags ----------------------------------------------------------------

Convert = Callable[[Any, Mapping[str, Any]], Any]  # (value, every flag given) -> field value
BUILD_FIELDS = tuple(item.name for item in fields(BuildOptions))
BOTH = frozenset({"build", "bake"})
BUILD = frozenset({"build"})


@dataclass(frozen=True)
class BuildFlag:
    """One docker build flag: its names, the BuildOptions field it sets, its help, the
    commands that take it and how its value becomes the field's."""

    names: tuple[str, ...]  # as click takes them, the parameter name last
    field: str
    help: str
    commands: frozenset[str]
    convert: Convert | None
    click_args: Mapping[str, Any]  # is_flag, multiple, type, default

    @property
    def param(self) -> str:
        return self.names[-1]


def _row(
    names: str,
    field: str,
    help: str,
    *,
    commands: frozenset[str] = BOTH,
    param: str | None = None,
    convert: Convert | None = None,
    **click_args: Any,
) -> BuildFlag:
    """``param`` (default: the field) is the click parameter; a flag whose parameter is not
    its field (``--check``) is read by the converter of the field's own flag."""
    assert field in BUILD_FIELDS, f"{names}: BuildOptions has no field {field!r}"
    return BuildFlag((*names.split(), param or field), field, help, commands, convert, click_args)


def _pairs(flag: str) -> Convert:
    def convert(values: Sequence[str], _given: Mapping[str, Any]) -> tuple[tuple[str, str], ...]:
        pairs = []
        for value in values:
            key, sep, rest = value.partition("=")
            if not key:
                raise ConfigError(f"{flag} {value!r}: expected KEY=VALUE")
            # `--build-arg NAME` (no value) takes NAME from the environment, as docker does.
            pairs.append((key, rest if sep else os.environ.get(key, "")))
        return tuple(pairs)

    return convert


def _allow(values: Sequence[str], _given: Mapping[str, Any]) -> tuple[str, ...]:
    # docker takes `--allow a,b` and `--allow a --allow b`
    return tuple(part for item in values for part in item.split(",") if part)


def _call(value: str | None, given: Mapping[str, Any]) -> str | None:
    return normalize_call(value, bool(given["check"]))


PROGRESS = ["auto", "plain", "tty", "quiet", "rawjson"]
ON = {"is_flag": True}
REPEAT = {"multiple": True}

#: the `docker build` flags of build and bake, in the order of --help
BUILD_FLAGS = (
    _row("-t --tag", "tags", "Name and tag of the image (repeatable).", **REPEAT),
    _row(
        "-f --file",
        "file",
        "A Dockerfile that uses `FROM uvbuild-base` (default: ./Dockerfile if any).",
        type=click.Path(dir_okay=False),
    ),
    _row("--target", "target", "Stage of the Dockerfile to build."),
    _row(
        "--build-arg",
        "build_args",
        "KEY=VALUE (repeatable).",
        convert=_pairs("--build-arg"),
        **REPEAT,
    ),
    _row("--load/--no-load", "load", "Load into the engine (docker driver: on).", default=None),
    _row("--push", "push", "Push the app image to its registry.", **ON),
    _row("--no-cache", "no_cache", "No build cache for the app stages.", **ON),
    _row("--rebuild-base", "rebuild_base", "Build the base again even when it exists.", **ON),
    _row("--secret", "secrets", "Build secret, as docker takes it.", **REPEAT),
    _row("--ssh", "ssh", "SSH agent socket or keys, as docker.", **REPEAT),
    _row(
        "--label",
        "labels",
        "KEY=VALUE image label (repeatable).",
        convert=_pairs("--label"),
        **REPEAT,
    ),
    _row("--builder", "builder", "buildx builder to use."),
    _row("--network", "network", "Network for RUN steps (e.g. host)."),
    _row("--cache-from", "cache_from", "External cache source (repeatable).", **REPEAT),
    _row("--cache-to", "cache_to", "Cache export destination (repeatable).", **REPEAT),
    _row("--syntax", "syntax", "Add a `# syntax=REF` line to the generated Dockerfile."),
    # docker buildx build flags of Makefiles and CI; README "Which build a flag reaches"
    _row("--iidfile", "iidfile", "Write the app image's ID to the file."),
    _row(
        "--metadata-file",
        "metadata_file",
        "Write buildx's metadata of the app build, plus uvbuild's facts (key uvbuild).",
    ),
    _row("--pull", "pull", "Always pull the images the builds start from.", **ON),
    _row("--provenance", "provenance", "App image: shorthand for --attest=type=provenance."),
    _row("--sbom", "sbom", "App image: shorthand for --attest=type=sbom."),
    _row("--attest", "attests", "App image attestation.", **REPEAT),
    _row("--annotation", "annotations", "App image annotation.", **REPEAT),
    _row("--shm-size", "shm_size", "Shared memory size of RUN containers (e.g. 2g)."),
    _row("--ulimit", "ulimits", "Ulimit of RUN containers.", **REPEAT),
    _row("--allow", "allow", "Extra entitlement (e.g. network.host).", convert=_allow, **REPEAT),
    _row(
        "--build-context",
        "build_contexts",
        "NAME=VALUE: your own named context for the app build (repeatable).",
        convert=lambda values, _given: user_contexts(values),
        **REPEAT,
    ),
    _row(
        "--call",
        "call",
        "build (default), or check/outline/targets on the app Dockerfile.",
        convert=_call,
    ),
    _row("--check", "call", "Shorthand for --call=check.", param="check", **ON),
    # build only: bake writes a file (its -o), always with plain progress
    _row(
        "--progress",
        "progress",
        "BuildKit progress output: auto is BuildKit's TTY view on a terminal, plain lines "
        "elsewhere.",
        commands=BUILD,
        default="auto",
        show_default=True,
        type=click.Choice(PROGRESS),
    ),
    _row(
        "--push-base",
        "push_base",
        "Push a base built here to its registry base-repo (skipped when already there).",
        commands=BUILD,
        **ON,
    ),
    _row("--add-host", "add_hosts", "HOST:IP (repeatable).", commands=BUILD, **REPEAT),
    _row(
        "-o --output",
        "outputs",
        "App image exporter, as buildx: type=docker|oci|tar|local|image|registry,... or a "
        "directory (type=local); disables the default --load.",
        commands=BUILD,
        convert=lambda values, _given: tuple(normalize_output(value) for value in values),
        **REPEAT,
    ),
    _row("--dry-run", "dry_run", "Print the docker commands; build nothing.", commands=BUILD, **ON),
)


def _check(table: Sequence[BuildFlag]) -> None:
    """A flag that sets part of a field (``--check``) needs the field's own flag, whose
    converter reads it, in every command that takes it."""
    for row in table:
        if row.param != row.field:
            owners = [o for o in table if o.param == row.field and row.commands <= o.commands]
            assert owners, f"{row.names[0]} feeds {row.field!r}, which has no flag of its own"


_check(BUILD_FLAGS)


def _flags_of(command: str) -> dict[str, BuildFlag]:
    return {row.param: row for row in BUILD_FLAGS if command in row.commands}


def image_options(command_name: str) -> Callable[[Command], Command]:
    """The docker build flags that ``command_name`` takes."""
    options = [
        click.option(*row.names, help=row.help, **row.click_args)
        for row in _flags_of(command_name).values()
    ]
    return lambda command: _apply(command, options)


def build_options(kwargs: dict[str, Any], command: str, **fixed: Any) -> BuildOptions:
    """BuildOptions from the flags of ``command``, taken out of ``kwargs``; ``fixed`` sets
    fields the command has no flag for."""
    rows = _flags_of(command)
    assert not fixed.keys() & rows.keys(), "a fixed field that is also a flag"
    given = {param: kwargs.pop(param) for param in rows}
    values: dict[str, Any] = {}
    for field in BUILD_FIELDS:  # in field order: the first bad value is the one reported
        row = rows.get(field)
        if row is None:
            continue
        value = given[field]
        if row.convert is not None:
            value = row.convert(value, given)
        elif isinstance(value, list | tuple):
            value = tuple(value)
        values[field] = value
    return BuildOptions(**values, **fixed)
