"""How the seed split refuses a Dockerfile: the line, why, and the way forward (a
Dockerfile that names the system part itself, or the generated one)."""

from __future__ import annotations

from uvbuild.errors import ConfigError

WAY_OUT = (
    "start the Python stage with `FROM uvbuild-base` (on a stage named `uvbuild-system`), "
    'or set tool.uvbuild.dockerfile = "generated"'
)


def refuse(path: str, line: int, why: str) -> ConfigError:
    return refuse_at(f"{path}:{line}", why)


def refuse_at(where: str, why: str) -> ConfigError:
    """``where`` is ``<path>:<line>``; every refusal ends with the way forward."""
    return ConfigError(f"{where}: {why}; {WAY_OUT}")
