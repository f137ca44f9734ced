"""Reading a rendered Dockerfile in the render tests: one stage's lines, the FROM lines."""

from __future__ import annotations


def stage(text: str, name: str) -> str:
    """The lines of one stage (from its FROM line to the next stage's comment or FROM)."""
    start = text.index(f" AS {name}\n")
    start = text.rindex("\n", 0, start) + 1
    end = text.find("\n\n", start)
    return text[start : end if end != -1 else None]


def from_lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.startswith("FROM ")]
