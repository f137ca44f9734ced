"""``[tool.uvbuild]`` and command-line flags -> one validated, frozen Config.

Every error names the dotted key (``tool.uvbuild.heavy-threshold``) or the flag
(``--heavy-threshold``) that carries the bad value, so users know where to look.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

from uvbuild.core.units import parse_size
from uvbuild.errors import ConfigError

DEFAULT_PYTHON = "3.11"
DEFAULT_UV_VERSION = "0.13.9"
DEFAULT_UV_IMAGE = f"ghcr.io/astral-sh/uv:{DEFAULT_UV_VERSION}"
DEFAULT_VENV = "/opt/venv"
DEFAULT_THRESHOLD = 50 * 1000 * 1000
#: a name pattern makes a package heavy only when its wheel is at least this (or unknown)
DEFAULT_HEAVY_MIN_SIZE = 1000 * 1000
DEFAULT_GLIBC = "2.28"
DEFAULT_LAYER_LIMIT = 2 * 1000 * 1000 * 1000
PLATFORMS = ("linux/amd64", "linux/arm64")
#: how the heavy packages are laid out in the base (see grouping.layer_groups)
LAYER_MODES = ("groups", "auto", "single")
#: the group that takes the heavy packages no group of the layout names
OTHER_LAYER = "other"
_LAYER_NAME = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,38}[a-z0-9])?")

# uv's rule for [[tool.uv.index]] names
_INDEX_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")



@dataclass(frozen=True, slots=True)
class Config:
    """Settings after defaults, ``[tool.uvbuild]`` and flags are merged (flags win)."""

    base_image: str | None = None  # None: python:<python>-slim
    python: str = DEFAULT_PYTHON
    platform: str | None = None  # None: the engine host's architecture, chosen by the planner
    venv: str = DEFAULT_VENV
    uv_image: str = DEFAULT_UV_IMAGE
    base_repo: str | None = None  # None: <project-name>-uvbuild-base
    heavy: tuple[str, ...] = ()
    heavy_only: tuple[str, ...] | None = None
    heavy_exclude: tuple[str, ...] = ()
    heavy_threshold: int = DEFAULT_THRESHOLD
    heavy_min_size: int = DEFAULT_HEAVY_MIN_SIZE
    extras: tuple[str, ...] = ()
    all_extras: bool = False
    groups: tuple[str, ...] = ()
    only_groups: tuple[str, ...] = ()
    no_dev: bool = False
    package: str | None = None
    all_packages: bool = False
    no_extras: tuple[str, ...] = ()
    no_groups: tuple[str, ...] = ()
    all_groups: bool = False
    no_default_groups: bool = False
    dev: bool = False
    only_dev: bool = False
    packages: tuple[str, ...] = ()  # several members (uv's repeated --package)
    compile_bytecode: bool = True
    dockerfile: str | None = None  # None: ./Dockerfile when it exists, else generated
    glibc: str = DEFAULT_GLIBC
    # [tool.uvbuild.layers]: ordered (group name, name patterns); None: the default layout
    layers: tuple[tuple[str, tuple[str, ...]], ...] | None = None
    layer_mode: str = "groups"
    layer_limit: int = DEFAULT_LAYER_LIMIT
    # [[tool.uv.index]] names whose credentials reach uv in the build as BuildKit secrets
    index_credentials: tuple[str, ...] = ()

    @property
    def resolved_base_image(self) -> str:
        return self.base_image or f"python:{self.python}-slim"


# key in [tool.uvbuild] -> (field name, kind)
_KEYS: dict[str, tuple[str, str]] = {
    "base-image": ("base_image", "str"),
    "python": ("python", "python"),
    "platform": ("platform", "platform"),
    "venv": ("venv", "abspath"),
    "uv-image": ("uv_image", "str"),
    "base-repo": ("base_repo", "repo"),
    "heavy": ("heavy", "names"),
    "heavy-only": ("heavy_only", "names"),
    "heavy-exclude": ("heavy_exclude", "names"),
    "heavy-threshold": ("heavy_threshold", "size"),
    "heavy-min-size": ("heavy_min_size", "size"),
    "extras": ("extras", "names"),
    "all-extras": ("all_extras", "bool"),
    "groups": ("groups", "names"),
    "only-groups": ("only_groups", "names"),
    "no-dev": ("no_dev", "bool"),
    "package": ("package", "str"),
    "all-packages": ("all_packages", "bool"),
    "no-extras": ("no_extras", "names"),
    "no-groups": ("no_groups", "names"),
    "all-groups": ("all_groups", "bool"),
    "no-default-groups": ("no_default_groups", "bool"),
    "dev": ("dev", "bool"),
    "only-dev": ("only_dev", "bool"),
    "packages": ("packages", "names"),
    "compile-bytecode": ("compile_bytecode", "bool"),
    "dockerfile": ("dockerfile", "str"),
    "glibc": ("glibc", "glibc"),
    "layers": ("layers", "layers"),
    "layer-mode": ("layer_mode", "layer-mode"),
    "layer-limit": ("layer_limit", "size"),
    "index-credentials": ("index_credentials", "index-names"),
}
CONFIG_KEYS = tuple(_KEYS)
# `--heavy` adds to the project's `heavy` list, as the key's name says; other flags replace.
_FLAGS_EXTEND = frozenset({"heavy"})
# A flag also drops the project's value of the keys that say the same thing another way.
_FLAGS_REPLACE = {
    "package": ("packages",),
    "packages": ("package",),
    "dev": ("no_dev",),
    "no_dev": ("dev",),
}
FIELD_TO_KEY = {field: key for key, (field, _) in _KEYS.items()}




def normalize_platform(value: str, where: str) -> str:
    text = value.strip().lower()
    parts = text.split("/")
    aliases = {"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64"}
    if len(parts) in (2, 3) and parts[0] == "linux" and parts[1] in aliases:
        arch = aliases[parts[1]]
        if len(parts) == 2 or (arch == "arm64" and parts[2] == "v8"):
            return f"linux/{arch}"
    raise ConfigError(f"{where}: unsupported platform {value!r}; use one of {', '.join(PLATFORMS)}")


def _convert(kind: str, value: Any, where: str) -> Any:
    if kind == "str":
        if not isinstance(value, str) or not value.strip():
            raise ConfigError(f"{where}: expected a non-empty string, got {value!r}")
        return value.strip()
    if kind == "bool":
        if not isinstance(value, bool):
            raise ConfigError(f"{where}: expected true or false, got {value!r}")
        return value
    if kind == "names":
        if isinstance(value, str) or not isinstance(value, (list, tuple)):
            raise ConfigError(f"{where}: expected an array of strings, got {value!r}")
        for item in value:
            if not isinstance(item, str) or not item.strip():
                raise ConfigError(f"{where}: expected an array of strings, found {item!r}")
        return tuple(item.strip() for item in value)
    if kind == "size":
        return parse_size(value, where)
    if kind == "platform":
        if not isinstance(value, str):
            raise ConfigError(f"{where}: expected a platform such as linux/amd64, got {value!r}")
        return normalize_platform(value, where)
    if kind == "python":
        if isinstance(value, float):
            # TOML reads `python = 3.10` as the float 3.1: refuse rather than guess.
            raise ConfigError(
                f'{where}: write the version as a string, e.g. "3.11" (got the number {value!r})'
            )
        text = value.strip() if isinstance(value, str) else ""
        if isinstance(value, bool) or not re.fullmatch(r"3\.\d{1,2}(\.\d{1,3})?", text):
            raise ConfigError(f"{where}: expected a Python version such as 3.11, got {value!r}")
        return text
    if kind == "abspath":
        if not isinstance(value, str) or not value.startswith("/") or value.rstrip("/") == "":
            raise ConfigError(
                f"{where}: expected an absolute path such as /opt/venv, got {value!r}"
            )
        return value.rstrip("/")
    if kind == "repo":
        # a port may follow the registry host, but a tag may not follow the name
        if (
            not isinstance(value, str)
            or not re.fullmatch(r"[a-z0-9]+(?:[._:/-][a-z0-9]+)*", value.strip())
            or ":" in value.strip().rsplit("/", 1)[-1]
        ):
            raise ConfigError(
                f"{where}: expected an image repository such as registry:5000/team/base "
                f"(lowercase, no tag), got {value!r}"
            )
        return value.strip()
    if kind == "layers":
        return _layers(value, where)
    if kind == "layer-mode":
        if not isinstance(value, str) or value.strip() not in LAYER_MODES:
            raise ConfigError(f"{where}: expected one of {', '.join(LAYER_MODES)}, got {value!r}")
        return value.strip()
    if kind == "index-names":
        names = _convert("names", value, where)
        for name in names:
            if not _INDEX_NAME.fullmatch(name):
                raise ConfigError(
                    f"{where}: {name!r} is not an index name; name a [[tool.uv.index]] entry "
                    "by its `name` (letters, digits, '-', '_' and '.')"
                )
        return tuple(dict.fromkeys(names))
    if kind == "glibc":
        if not isinstance(value, str) or not re.fullmatch(r"2\.\d{1,2}", value.strip()):
            raise ConfigError(f"{where}: expected a glibc version such as 2.28, got {value!r}")
        return value.strip()
    raise AssertionError(kind)


def _layers(value: Any, where: str) -> tuple[tuple[str, tuple[str, ...]], ...]:
    """``{"cuda": ["nvidia-*"], "torch": ["torch", "triton"]}`` -> ordered groups."""
    if not isinstance(value, Mapping):
        raise ConfigError(
            f'{where}: expected a table of groups, e.g. cuda = ["nvidia-*"], got {value!r}'
        )
    if not value:
        raise ConfigError(f"{where}: name at least one group, or leave the table out")
    groups = []
    for name, patterns in value.items():
        here = f"{where}.{name}"
        if not isinstance(name, str) or not _LAYER_NAME.fullmatch(name):
            raise ConfigError(
                f"{here}: a group name is lowercase letters, digits and '-' (at most 40), "
                "as it names a build stage and a label"
            )
        if name == OTHER_LAYER:
            raise ConfigError(
                f"{here}: '{OTHER_LAYER}' is the group of the heavy packages no group names; "
                'pick another name, or list "*" as the last group\'s pattern'
            )
        items = _convert("names", patterns, here)
        if not items:
            raise ConfigError(f"{here}: expected at least one name pattern")
        groups.append((name, items))
    return tuple(groups)


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
        if key not in _KEYS:
            raise ConfigError(
                f"{prefix}.{key}: unknown setting; known settings: {', '.join(CONFIG_KEYS)}"
            )
        name, kind = _KEYS[key]
        values[name] = _convert(kind, value, f"{prefix}.{key}")
    from_table = set(values)
    for name, value in (flags or {}).items():
        if value is None or value == ():
            continue
        key = FIELD_TO_KEY[name]
        converted = _convert(_KEYS[key][1], value, f"--{key}")
        if name in _FLAGS_EXTEND:
            converted = (*values.get(name, ()), *converted)
        values[name] = converted
        for sibling in _FLAGS_REPLACE.get(name, ()):
            if sibling in from_table:
                del values[sibling]
                from_table.discard(sibling)
    return Config(**values)


def config_to_dict(config: Config) -> dict[str, Any]:
    """Config as the ``[tool.uvbuild]`` keys, for ``plan --json``."""
    out: dict[str, Any] = {}
    for f in fields(config):
        value = getattr(config, f.name)
        if f.name == "layers":
            value = None if value is None else {name: list(p) for name, p in value}
        out[FIELD_TO_KEY[f.name]] = list(value) if isinstance(value, tuple) else value
    out["base-image"] = config.resolved_base_image
    return out
