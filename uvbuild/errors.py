"""Every error uvbuild raises on purpose, each with its own exit code.

The CLI turns these into one line on stderr and ``exit_code``; anything else is a bug
and keeps its traceback.
"""

from __future__ import annotations

from collections.abc import Iterable


class UvbuildError(Exception):
    """Base class; messages fit on one line and say what to do next."""

    exit_code = 1


class ConfigError(UvbuildError):
    """pyproject.toml, [tool.uvbuild] or a command-line flag is wrong."""

    exit_code = 2


class LockError(UvbuildError):
    """uv.lock is missing, unreadable, too new, or cannot serve the request."""

    exit_code = 3


class EngineUnavailable(UvbuildError):
    """The docker CLI, the engine, buildx or the named builder cannot be used."""

    exit_code = 4


class BuildFailed(UvbuildError):
    """A docker build ran and failed."""

    exit_code = 5


class Interrupted(UvbuildError):
    """SIGINT or SIGTERM stopped the run; the exit code follows the shell convention."""

    exit_code = 130

    def __init__(self, message: str, signum: int = 2) -> None:
        super().__init__(message)
        self.signum = signum
        self.exit_code = 128 + signum


def short_list(names: Iterable[str], limit: int = 5) -> str:
    """``a, b, c, d, e and 85 more``: a list of names short enough for a one-line message.

    ``names`` is any iterable of strings; duplicates go and the rest is sorted. ``none``
    when it is empty.
    """
    unique = sorted(set(names))
    if not unique:
        return "none"
    if len(unique) <= limit + 1:
        return ", ".join(unique)
    return f"{', '.join(unique[:limit])} and {len(unique) - limit} more"
