"""``[tool.uvbuild]`` and command-line flags -> one validated, frozen Config.

``Config`` is the table of settings: each field is one setting, declared once with
:func:`~uvbuild.core.settings.setting` (default, kind of value, flag, help); its key in
``[tool.uvbuild]`` is the field name with dashes. ``load_config`` and the CLI's options
are read from it. Every error names the dotted key (``tool.uvbuild.heavy-threshold``) or
the flag (``--heavy-threshold``) that carries the bad value, so users know where to look.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from uvbuild.core.settings import (
    LAYER_MODES,
    OTHER_LAYER,
    PLATFORMS,
    Setting,
    convert,
    dotted,
    normalize_platform,
    rows,
    setting,
)
from uvbuild.errors import ConfigError

__all__ = [
    "CONFIG_KEYS",
    "DEFAULT_GLIBC",
    "DEFAULT_HEAVY_MIN_SIZE",
    "DEFAULT_LAYER_LIMIT",
    "DEFAULT_POOL_THRESHOLD",
    "DEFAULT_PYTHON",
    "DEFAULT_THRESHOLD",
    "DEFAULT_UV_IMAGE",
    "DEFAULT_UV_VERSION",
    "DEFAULT_VENV",
    "FIELD_TO_KEY",
    "LAYER_MODES",
    "OTHER_LAYER",
    "PLATFORMS",
    "SETTINGS",
    "Config",
    "load_config",
    "normalize_platform",
]

DEFAULT_PYTHON = "3.11"
DEFAULT_UV_VERSION = "0.13.9"
DEFAULT_UV_IMAGE = f"ghcr.io/astral-sh/uv:{DEFAULT_UV_VERSION}"
DEFAULT_VENV = "/opt/venv"
DEFAULT_THRESHOLD = 50 * 1000 * 1000
#: a name pattern makes a package heavy only when its wheel is at least this (or unknown)
DEFAULT_HEAVY_MIN_SIZE = 1000 * 1000
DEFAULT_GLIBC = "2.28"
DEFAULT_LAYER_LIMIT = 2 * 1000 * 1000 * 1000
#: a light wheel at least this large gets a keyed layer of its own (see grouping.pool_layers)
DEFAULT_POOL_THRESHOLD = 1000 * 1000


@dataclass(frozen=True, slots=True)
class Config:
    """Settings after defaults, ``[tool.uvbuild]`` and flags are merged (flags win).

    The fields are in the order of ``--help``; a setting without a flag is a key only.
    """

    # None: the engine host's architecture, chosen by the planner
    platform: str | None = setting(
        None, "platform", "--platform", "Target platform: linux/amd64 or linux/arm64."
    )
    python: str = setting(DEFAULT_PYTHON, "python", "--python", "Target Python version, e.g. 3.11.")
    # uv's selection flags (README: Selection)
    extras: tuple[str, ...] = setting(
        (), "names", "--extra", "Include an extra (repeatable).", form="repeat"
    )
    all_extras: bool = setting(False, "bool", "--all-extras", "Include every extra.", form="flag")
    no_extras: tuple[str, ...] = setting(
        (), "names", "--no-extra", "Leave out an extra (beats the others).", form="repeat"
    )
    groups: tuple[str, ...] = setting(
        (), "names", "--group", "Include a dependency group.", form="repeat"
    )
    only_groups: tuple[str, ...] = setting(
        (), "names", "--only-group", "Only this group.", form="repeat"
    )
    no_groups: tuple[str, ...] = setting(
        (), "names", "--no-group", "Leave out a group (beats the others).", form="repeat"
    )
    all_groups: bool = setting(
        False, "bool", "--all-groups", "Every dependency group.", form="flag"
    )
    no_default_groups: bool = setting(
        False, "bool", "--no-default-groups", "Ignore [tool.uv] default-groups.", form="flag"
    )
    # `--dev/--no-dev`: the last one given wins, as in uv; each is its own key
    dev: bool = setting(
        False,
        "bool",
        "--dev/--no-dev",
        "Include (leave out) the dev group.",
        form="switch",
        also="no_dev",
    )
    no_dev: bool = setting(False, "bool")
    only_dev: bool = setting(False, "bool", "--only-dev", "Only the dev group.", form="flag")
    # `--package` is repeatable, as in uv; one member keeps the `package` key
    package: str | None = setting(
        None,
        "str",
        "--package",
        "Sync this workspace member instead of the root (repeatable).",
        form="repeat",
        also="packages",
    )
    packages: tuple[str, ...] = setting((), "names")  # several members (uv's repeated --package)
    all_packages: bool = setting(False, "bool", "--all-packages", "Every member.", form="flag")
    # None: python:<python>-slim
    base_image: str | None = setting(
        None, "str", "--base-image", "Image the base stage starts FROM."
    )
    uv_image: str = setting(DEFAULT_UV_IMAGE, "str", "--uv-image", "Image carrying /uv and /uvx.")
    # None: <project-name>-uvbuild-base
    base_repo: str | None = setting(
        None, "repo", "--base-repo", "Repository of the base image tags."
    )
    venv: str = setting(DEFAULT_VENV, "abspath", "--venv", "Virtual environment path in the image.")
    # None: ./Dockerfile when it exists, else generated
    dockerfile: str | None = setting(None, "str")
    # `--heavy` adds to the project's `heavy` list, as the key's name says; other flags replace.
    heavy: tuple[str, ...] = setting(
        (),
        "names",
        "--heavy",
        "Extra heavy name pattern (repeatable).",
        form="repeat",
        extends=True,
    )
    heavy_only: tuple[str, ...] | None = setting(None, "names")
    heavy_exclude: tuple[str, ...] = setting(
        (), "names", "--heavy-exclude", "Never heavy (repeatable).", form="repeat"
    )
    heavy_threshold: int = setting(
        DEFAULT_THRESHOLD, "size", "--heavy-threshold", "Wheel size that makes a package heavy."
    )
    heavy_min_size: int = setting(
        DEFAULT_HEAVY_MIN_SIZE,
        "size",
        "--heavy-min-size",
        "Smallest wheel a heavy name pattern takes into the base (1MB).",
    )
    glibc: str = setting(
        DEFAULT_GLIBC, "glibc", "--glibc", "glibc of the base image for manylinux wheels (2.28)."
    )
    # [tool.uvbuild.layers]: ordered (group name, name patterns); None: the default layout
    layers: tuple[tuple[str, tuple[str, ...]], ...] | None = setting(None, "layers")
    layer_mode: str = setting(
        "groups",
        "layer-mode",
        "--layer-mode",
        "Heavy layers: by [tool.uvbuild.layers] groups, auto by size, or one.",
    )
    layer_limit: int = setting(
        DEFAULT_LAYER_LIMIT, "size", "--layer-limit", "Largest heavy layer in auto mode (2GB)."
    )
    pool_threshold: int = setting(
        DEFAULT_POOL_THRESHOLD,
        "size",
        "--pool-threshold",
        "Light wheels at least this large get keyed layers of their own; smaller ones "
        "stay in the pool, the deps stage's `uv sync` (1MB; 0: every light package does).",
    )
    python_downloads: str = setting(
        "automatic",
        "python-downloads",
        "--python-downloads",
        "When the base image has no Python of the target version: `automatic` installs it "
        "with `uv python install` (as `uv sync` would), `manual`/`never` do not.",
    )
    compile_bytecode: bool = setting(
        True,
        "bool",
        "--compile-bytecode/--no-compile-bytecode",
        "Compile .pyc files at install time (default on).",
        form="switch",
    )
    # [[tool.uv.index]] names whose credentials reach uv in the build as BuildKit secrets
    index_credentials: tuple[str, ...] = setting(
        (),
        "index-names",
        "--index-credentials",
        "A [[tool.uv.index]] name whose UV_INDEX_<NAME>_USERNAME/_PASSWORD reach uv "
        "in the build as secrets (repeatable).",
        form="repeat",
    )

    @property
    def resolved_base_image(self) -> str:
        return self.base_image or f"python:{self.python}-slim"


# tool.uvbuild.dockerfile = "generated": build the generated Dockerfile even when the
# project has its own
GENERATED = "generated"

SETTINGS: tuple[Setting, ...] = rows(Config)
CONFIG_KEYS = tuple(row.key for row in SETTINGS)
FIELD_TO_KEY = {row.name: row.key for row in SETTINGS}
_BY_KEY = {row.key: row for row in SETTINGS}
_BY_NAME = {row.name: row for row in SETTINGS}
# A flag also drops the project's value of the key that says the same thing another way.
_SAME_THING = {
    **{row.name: row.flag.also for row in SETTINGS if row.flag and row.flag.also},
    **{row.flag.also: row.name for row in SETTINGS if row.flag and row.flag.also},
}


def load_config(
    table: Mapping[str, Any] | None,
    flags: Mapping[str, Any] | None = None,
    *,
    prefix: str = "tool.uvbuild",
) -> Config:
    """Merge the pyproject table and flag values (keyed by field name; None = not given)."""
    values: dict[str, Any] = {}
    if table is not None and not isinstance(table, Mapping):
        raise ConfigError(f"{prefix}: expected a table, got {type(table).__name__}")
    for key, value in (table or {}).items():
        if key not in _BY_KEY:
            raise ConfigError(
                f"{dotted(prefix, key)}: unknown setting; known settings: " + ", ".join(CONFIG_KEYS)
            )
        row = _BY_KEY[key]
        values[row.name] = convert(row.kind, value, f"{prefix}.{key}")
    from_table = set(values)
    for name, value in (flags or {}).items():
        if value is None or value == ():
            continue
        row = _BY_NAME[name]
        converted = convert(row.kind, value, f"--{row.key}")
        if row.flag is not None and row.flag.extends:
            converted = (*values.get(name, ()), *converted)
        values[name] = converted
        sibling = _SAME_THING.get(name)
        if sibling in from_table:
            del values[sibling]
            from_table.discard(sibling)
    return Config(**values)
