"""The ``uv sync`` a plan installs for: the Request made from the Config, whose selection
comes from [tool.uvbuild] and the flags or, under a seed Dockerfile, from that Dockerfile's
own ``uv sync`` alone; and, for a selection error, where its value came from."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from uvbuild.core.config import Config, load_config
from uvbuild.core.model import Lock, Request, UserDockerfile
from uvbuild.core.user_dockerfile import seed
from uvbuild.errors import ConfigError
from uvbuild.planner.project_files import Project
from uvbuild.planner.resolve import resolve_config

# The Request fields Config holds under the same name (package/packages are merged below).
_SYNC_FIELDS = (
    "all_packages",
    "extras",
    "all_extras",
    "groups",
    "only_groups",
    "no_dev",
    "no_extras",
    "no_groups",
    "all_groups",
    "no_default_groups",
    "dev",
    "only_dev",
)


_SELECTION = (*_SYNC_FIELDS, "package", "packages")

# the uv sync flag of each selection field whose name is not the flag's
_SELECTION_FLAGS = {
    "extras": "--extra",
    "no_extras": "--no-extra",
    "groups": "--group",
    "no_groups": "--no-group",
    "only_groups": "--only-group",
    "packages": "--package",
}


def make_request(config: Config, project: Project, lock_data: Lock) -> Request:
    if project.default_groups is None:  # "all": every group of every package, as uv reads it
        defaults = tuple(
            sorted(
                {g for p in lock_data.packages for g, _ in p.dev_dependencies}
                | {g for g, _ in lock_data.manifest.dependency_groups}
            )
        )
    else:
        defaults = project.default_groups
    if config.package is not None and config.packages:
        raise ConfigError(
            "tool.uvbuild.package and tool.uvbuild.packages are both set; keep one "
            "(packages takes several members)"
        )
    packages = config.packages or ((config.package,) if config.package is not None else ())
    return Request(
        package=packages[0] if packages else None,
        default_groups=defaults,
        packages=packages,
        **{name: getattr(config, name) for name in _SYNC_FIELDS},
    )


def seeded_config(
    project: Project,
    flags: Mapping[str, Any],
    split: seed.SeedSplit,
    requires_python: str | None,
) -> Config:
    """The Config of a plan on a seed Dockerfile: the flags under its sync's settings, and
    its sync's selection in place of uvbuild's."""
    _refuse_selection_flags(flags, split)
    seeded = seed_flags(split)
    config = resolve_config(project, {**flags, **seeded}, requires_python)
    # the sync's selection, exactly: tool.uvbuild's extras or groups (which an empty
    # flag leaves, and a given one extends) would plan packages the sync does not
    # install
    synced = load_config(None, seeded)
    return replace(config, **{name: getattr(synced, name) for name in _SELECTION})


def _refuse_selection_flags(flags: Mapping[str, Any], split: seed.SeedSplit) -> None:
    """uvbuild's selection flags have no say over a Dockerfile built as it is: its own
    ``uv sync`` installs what it selects, so a flag that would plan otherwise is an error."""
    given = sorted(name for name in _SELECTION if flags.get(name))
    if given:
        flag = _SELECTION_FLAGS.get(given[0], "--" + given[0].replace("_", "-"))
        raise ConfigError(
            f"{flag}: {split.path} is built as it is, and its `uv sync` on line "
            f"{split.sync_line} decides what is installed: give the selection there (or in "
            "its UV_* settings), not to uvbuild"
        )


def seed_flags(split: seed.SeedSplit) -> dict[str, Any]:
    """The plan flags of a seed Dockerfile: its sync's selection replaces uvbuild's own
    (every selection field is set), and its venv, interpreter and bytecode setting."""
    defaults = {name: Config.__dataclass_fields__[name].default for name in _SYNC_FIELDS}
    return {**defaults, "package": None, "packages": (), **split.flags}


def with_origin(
    exc: ConfigError, flags: Mapping[str, Any], project: Project, user: UserDockerfile
) -> ConfigError:
    """``exc`` as it is, or, when it names a uv sync flag (``--extra x: ...``) that the
    command line did not give, with where the value came from: the user's ``uv sync``, else
    pyproject.toml."""
    message = str(exc)
    flag = message.split(" ", 1)[0].rstrip(":")
    if not flag.startswith("--"):
        return exc
    field = {v: k for k, v in _SELECTION_FLAGS.items()}.get(flag, flag[2:].replace("-", "_"))
    if flags.get(field) not in (None, ()) or (field == "packages" and flags.get("package")):
        return exc
    if user.seed is not None:
        return ConfigError(f"{user.seed.path}:{user.seed.sync_line}: its `uv sync` {message}")
    return ConfigError(f"{project.dir / 'pyproject.toml'}: [tool.uvbuild] {message}")
