"""What a setting is, and the kinds of value settings take.

Each setting of ``Config`` is declared once, as a dataclass field made by :func:`setting`:
its name, type and default are the field's, its ``[tool.uvbuild]`` key is the name with
dashes, and the field's metadata carries the rest (kind of value, flag, help). The checks of
``load_config`` and the click options of the CLI are both read from these rows.

Every check names where the value came from (``where``: the dotted key or the flag), so
users know what to fix.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from typing import Any

from uvbuild.core.units import parse_size
from uvbuild.errors import ConfigError

PLATFORMS = ("linux/amd64", "linux/arm64")
#: how the heavy packages are laid out in the base (see grouping.layer_groups)
LAYER_MODES = ("groups", "auto", "single")
# uv's python-downloads values
PYTHON_DOWNLOADS = ("automatic", "manual", "never")
#: the group that takes the heavy packages no group of the layout names
OTHER_LAYER = "other"
_LAYER_NAME = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,38}[a-z0-9])?")
# uv's rule for [[tool.uv.index]] names
_INDEX_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")

#: the forms a flag takes: ``--x V``, ``--x V`` repeatable, ``--x`` (on, else unset),
#: ``--x/--no-x`` (on, off, else unset)
FORMS = ("value", "repeat", "flag", "switch")


@dataclass(frozen=True, slots=True)
class Flag:
    """How the command line gives a setting. A flag not given leaves the key's value."""

    names: tuple[str, ...]  # as click takes them: ("--extra",), ("--dev/--no-dev",)
    help: str
    form: str = "value"
    # The other setting this flag gives: `--no-dev` gives no_dev, several `--package`s give
    # packages. Given, the flag drops the project's value of both, as they say one thing.
    also: str | None = None
    extends: bool = False  # the values add to the project's list instead of replacing it


@dataclass(frozen=True, slots=True)
class Setting:
    """One row of the table: a ``Config`` field and everything said about it."""

    name: str
    kind: str
    default: Any
    flag: Flag | None

    @property
    def key(self) -> str:
        """The ``[tool.uvbuild]`` key (the flag's error messages name it too)."""
        return self.name.replace("_", "-")


_META = "uvbuild.setting"


def setting(
    default: Any,
    kind: str,
    flag: str | None = None,
    help: str = "",
    *,
    form: str = "value",
    also: str | None = None,
    extends: bool = False,
) -> Any:
    """A ``Config`` field with its row: ``setting(None, "python", "--python", "Target ...")``.
    Without ``flag`` the setting is a key of ``[tool.uvbuild]`` only."""
    assert kind in KINDS, f"unknown kind of value {kind!r}"
    assert form in FORMS, f"unknown flag form {form!r}"
    # `also` is the other half of a switch (--no-dev) or several values (--package)
    assert also is None or (flag is not None and form in ("switch", "repeat"))
    given = Flag(tuple(flag.split()), help, form, also, extends) if flag else None
    return field(default=default, metadata={_META: (kind, given)})


def rows(config_class: type) -> tuple[Setting, ...]:
    """The table of a dataclass whose fields are all made by :func:`setting`."""
    table = []
    for item in fields(config_class):
        assert _META in item.metadata, f"{item.name} is not declared with setting()"
        kind, flag = item.metadata[_META]
        table.append(Setting(item.name, kind, item.default, flag))
    names = {row.name for row in table}
    for row in table:
        also = row.flag.also if row.flag else None
        assert also is None or also in names, f"--{row.key} gives {also!r}, which is no setting"
    return tuple(table)


# -- the kinds of value --------------------------------------------------------------------


_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")


def dotted(prefix: str, key: Any) -> str:
    """``tool.uvbuild.heavy``; a key that is not a bare TOML key is quoted as TOML does
    (``tool.uvbuild."a b"``), its control and non-ASCII characters escaped: one line."""
    text = str(key)
    return f"{prefix}.{text}" if _BARE_KEY.fullmatch(text) else f"{prefix}.{json.dumps(text)}"


def normalize_platform(value: str, where: str) -> str:
    text = value.strip().lower()
    parts = text.split("/")
    aliases = {"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64"}
    if len(parts) in (2, 3) and parts[0] == "linux" and parts[1] in aliases:
        arch = aliases[parts[1]]
        if len(parts) == 2 or (arch == "arm64" and parts[2] == "v8"):
            return f"linux/{arch}"
    raise ConfigError(f"{where}: unsupported platform {value!r}; use one of {', '.join(PLATFORMS)}")


def _text(value: Any, where: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(f"{where}: expected a non-empty string, got {value!r}")
    return value.strip()


def _bool(value: Any, where: str) -> bool:
    if not isinstance(value, bool):
        raise ConfigError(f"{where}: expected true or false, got {value!r}")
    return value


def _names(value: Any, where: str) -> tuple[str, ...]:
    if isinstance(value, str) or not isinstance(value, (list, tuple)):
        raise ConfigError(f"{where}: expected an array of strings, got {value!r}")
    for item in value:
        if not isinstance(item, str) or not item.strip():
            raise ConfigError(f"{where}: expected an array of strings, found {item!r}")
    return tuple(item.strip() for item in value)


def _platform(value: Any, where: str) -> str:
    if not isinstance(value, str):
        raise ConfigError(f"{where}: expected a platform such as linux/amd64, got {value!r}")
    return normalize_platform(value, where)


def _python(value: Any, where: str) -> str:
    if isinstance(value, float):
        # TOML reads `python = 3.10` as the float 3.1: refuse rather than guess.
        raise ConfigError(
            f'{where}: write the version as a string, e.g. "3.11" (got the number {value!r})'
        )
    text = value.strip() if isinstance(value, str) else ""
    if isinstance(value, bool) or not re.fullmatch(r"3\.[0-9]{1,2}(\.[0-9]{1,3})?", text):
        raise ConfigError(f"{where}: expected a Python version such as 3.11, got {value!r}")
    return text


def _abspath(value: Any, where: str) -> str:
    if not isinstance(value, str) or not value.startswith("/") or value.rstrip("/") == "":
        raise ConfigError(f"{where}: expected an absolute path such as /opt/venv, got {value!r}")
    return value.rstrip("/")


def _repo(value: Any, where: str) -> str:
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
        here = dotted(where, name)
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
        items = _names(patterns, here)
        if not items:
            raise ConfigError(f"{here}: expected at least one name pattern")
        groups.append((name, items))
    return tuple(groups)


def _layer_mode(value: Any, where: str) -> str:
    if not isinstance(value, str) or value.strip() not in LAYER_MODES:
        raise ConfigError(f"{where}: expected one of {', '.join(LAYER_MODES)}, got {value!r}")
    return value.strip()


def _python_downloads(value: Any, where: str) -> str:
    if not isinstance(value, str) or value.strip() not in PYTHON_DOWNLOADS:
        raise ConfigError(f"{where}: expected one of {', '.join(PYTHON_DOWNLOADS)}, got {value!r}")
    return value.strip()


def _index_names(value: Any, where: str) -> tuple[str, ...]:
    names = _names(value, where)
    for name in names:
        if not _INDEX_NAME.fullmatch(name):
            raise ConfigError(
                f"{where}: {name!r} is not an index name; name a [[tool.uv.index]] entry "
                "by its `name` (letters, digits, '-', '_' and '.')"
            )
    return tuple(dict.fromkeys(names))


def _glibc(value: Any, where: str) -> str:
    if not isinstance(value, str) or not re.fullmatch(r"2\.[0-9]{1,2}", value.strip()):
        raise ConfigError(f"{where}: expected a glibc version such as 2.28, got {value!r}")
    return value.strip()


#: kind -> check: (value, where) -> the value as Config holds it, or ConfigError
KINDS: dict[str, Callable[[Any, str], Any]] = {
    "str": _text,
    "bool": _bool,
    "names": _names,
    "size": parse_size,
    "platform": _platform,
    "python": _python,
    "abspath": _abspath,
    "repo": _repo,
    "layers": _layers,
    "layer-mode": _layer_mode,
    "python-downloads": _python_downloads,
    "index-names": _index_names,
    "glibc": _glibc,
}


def convert(kind: str, value: Any, where: str) -> Any:
    return KINDS[kind](value, where)
