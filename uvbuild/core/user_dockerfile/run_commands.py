"""The shell commands of a Dockerfile RUN: its top-level commands (cut at ``&&``, ``||``,
``;``, ``|``, ``&``), their words, and what a command does (``uv sync``, an install by pip,
``uv python install``, a new venv, a change of the shell's state only)."""

from __future__ import annotations

import posixpath
import re
import shlex
from collections.abc import Iterator
from dataclasses import dataclass

from uvbuild.core.user_dockerfile.dockerfile_text import Instruction

# Commands that only change the shell's state: kept before the sync when the commands
# before it move to the system part.
_STATE_COMMANDS = {"cd", "export", "set", "source", ".", "umask", "pushd", "shopt"}


@dataclass(frozen=True, slots=True)
class Segment:
    start: int  # offset of the command in the RUN's shell text
    end: int
    separator: str  # what follows it: &&, ||, ;, |, & or "" at the end


def segments(script: str) -> list[Segment]:
    """The top-level commands of a shell command line, with their offsets (quotes,
    escapes, ``$(...)`` and backticks are stepped over)."""
    found: list[Segment] = []
    start = 0
    quote = ""
    depth = 0
    i = 0
    while i < len(script):
        char = script[i]
        if quote:
            if char == "\\" and quote == '"':
                i += 2
                continue
            if char == quote:
                quote = ""
        elif char == "\\":
            i += 2
            continue
        elif char in "'\"`":
            quote = char
        elif char == "(":
            depth += 1
        elif char == ")":
            depth = max(depth - 1, 0)
        elif depth == 0 and char in ";&|\n":
            two = script[i : i + 2]
            separator = two if two in ("&&", "||") else char
            found.append(Segment(start, i, separator.strip() or ";"))
            i += len(separator)
            start = i
            continue
        i += 1
    found.append(Segment(start, len(script), ""))
    return [s for s in found if script[s.start : s.end].strip()]


def words(command: str) -> list[str]:
    try:
        return shlex.split(command, comments=True)
    except ValueError:
        return command.split()


def leading_assignments(command_words: list[str]) -> tuple[dict[str, str], list[str]]:
    """Leading ``NAME=value`` assignments of a simple command, and the rest."""
    env: dict[str, str] = {}
    index = 0
    while index < len(command_words) and re.fullmatch(
        r"[A-Za-z_][A-Za-z0-9_]*=.*", command_words[index]
    ):
        name, _, value = command_words[index].partition("=")
        env[name] = value
        index += 1
    return env, command_words[index:]


def uv_subcommand(command_words: list[str]) -> tuple[str | None, list[str]]:
    """For ``uv [global options] <sub> args``: (sub, args); (None, []) for another command."""
    if not command_words or posixpath.basename(command_words[0]) != "uv":
        return None, []
    rest = command_words[1:]
    while rest and rest[0].startswith("-"):
        rest = rest[1:]
    if not rest:
        return None, []
    return rest[0], rest[1:]


def _program_words(command: str) -> list[str]:
    """The words of ``command`` from its program on (its leading assignments left out)."""
    return leading_assignments(words(command))[1]


def is_sync(command: str) -> bool:
    return uv_subcommand(_program_words(command))[0] == "sync"


def installs_by_pip(command: str) -> bool:
    program = _program_words(command)
    sub, args = uv_subcommand(program)
    if sub == "pip" and args[:1] == ["install"]:
        return True
    return (
        bool(program)
        and posixpath.basename(program[0]).startswith("pip")
        and ("install" in program)
    )


def installs_python(command: str) -> bool:
    sub, args = uv_subcommand(_program_words(command))
    return sub == "python" and args[:1] == ["install"]


def creates_venv(command: str) -> bool:
    program = _program_words(command)
    sub, _ = uv_subcommand(program)
    return sub == "venv" or (len(program) >= 3 and program[1:3] == ["-m", "venv"])


def changes_shell_state_only(command: str) -> bool:
    first = words(command)[:1]
    return bool(first) and first[0] in _STATE_COMMANDS


def run_script(instruction: Instruction) -> str:
    """A RUN's shell text (an exec-form RUN's words joined as the shell would read them)."""
    if instruction.json:
        return shlex.join(instruction.value)
    return instruction.value[0] if instruction.value else ""


def run_prefix(instruction: Instruction) -> str:
    return " ".join(["RUN", *instruction.flags])


def commands(instruction: Instruction) -> Iterator[str]:
    script = run_script(instruction)
    for segment in segments(script):
        yield script[segment.start : segment.end]
