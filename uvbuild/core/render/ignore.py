"""The ``.dockerignore`` of a generated build: the user's rules, then uvbuild's defaults."""

from __future__ import annotations

# What a generated build never needs from the project directory, on top of the user's
# own .dockerignore: a local venv would only bloat the app layer.
DEFAULT_IGNORES = (
    ".venv",
    "**/__pycache__",
    "**/*.pyc",
    ".pytest_cache",
    ".mypy_cache",
    ".ruff_cache",
    ".tox",
    ".nox",
)


def dockerignore(user_ignore: str | None) -> str:
    """The ignore file for a generated build: the user's rules, then uvbuild's defaults."""
    lines = [user_ignore.rstrip("\n")] if user_ignore else []
    lines.append("# added by uvbuild")
    lines += DEFAULT_IGNORES
    return "\n".join(lines) + "\n"
