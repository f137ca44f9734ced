"""uvbuild.cli.options: every flag read from a table, every option of a command read."""

from __future__ import annotations

import inspect

import pytest

from uvbuild.cli import commands, options
from uvbuild.core.config import SETTINGS


def test_every_build_option_field_has_a_flag():
    build_fields = {row.field for row in options.BUILD_FLAGS if "build" in row.commands}
    assert build_fields == set(options.BUILD_FIELDS)
    bake_fields = {row.field for row in options.BUILD_FLAGS if "bake" in row.commands}
    # bake writes a file: no progress (always plain), exporter, extra hosts, push or dry run
    assert set(options.BUILD_FIELDS) - bake_fields == {
        "progress",
        "push_base",
        "add_hosts",
        "outputs",
        "dry_run",
    }


def test_a_flag_for_no_field_fails_when_the_table_is_built():
    with pytest.raises(AssertionError, match="BuildOptions has no field 'colour'"):
        options._row("--colour", "colour", "No such field.")
    with pytest.raises(AssertionError, match="no flag of its own"):
        options._check([options._row("--check", "call", "Part of call.", param="check")])


@pytest.mark.parametrize("name", sorted(commands.cli.commands))
def test_every_option_of_a_command_is_read(name):
    """Each click parameter is a parameter of the command, a plan flag (a Config row), PATH,
    --lock or a docker build flag (a BUILD_FLAGS row): none is left over in **kwargs."""
    command = commands.cli.commands[name]
    declared = {
        p.name
        for p in inspect.signature(command.callback).parameters.values()
        if p.kind is not p.VAR_KEYWORD
    }
    read = {
        *declared,
        "path",
        "lock_path",
        *(row.name for row in options.PLAN_FLAGS),
        *(row.param for row in options.BUILD_FLAGS if name in row.commands),
        *(options.DOCKERFILE_PARAMS if name in ("plan", "dockerfile") else ()),
    }
    exposed = {param.name for param in command.params if param.expose_value}
    assert exposed <= read
    assert {row.name for row in options.PLAN_FLAGS} <= exposed


def test_plan_flags_follow_the_config_table():
    flags = {row.flag.names[0]: row for row in options.PLAN_FLAGS}
    assert flags["--extra"].name == "extras"
    assert flags["--dev/--no-dev"].flag.also == "no_dev"
    assert flags["--package"].flag.also == "packages"
    assert flags["--heavy"].flag.extends
    keys_only = {row.key for row in SETTINGS if row.flag is None}
    assert keys_only == {"no-dev", "packages", "dockerfile", "heavy-only", "layers"}
