"""A user's Dockerfile as BuildKit's own grammar reads it: instructions grouped into stages,
with the text of each instruction exactly as written, and Dockerfile variable expansion.

Parsing is done by the ``dockerfile`` library, which wraps the official Go parser
(github.com/moby/buildkit/frontend/dockerfile/parser), so line continuations, escape
directives, heredocs and JSON forms are read as BuildKit reads them.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

import dockerfile

from uvbuild.errors import ConfigError


@dataclass(frozen=True, slots=True)
class Instruction:
    cmd: str  # upper case: RUN, COPY, ...
    flags: tuple[str, ...]  # --mount=..., --from=..., as written
    value: tuple[str, ...]  # the arguments (one shell string for a RUN in shell form)
    json: bool  # exec (JSON) form
    heredoc: bool
    start: int  # first line, 1-based
    end: int  # last line
    text: str  # the lines of the file it spans, as written

    def flag(self, name: str) -> str | None:
        """The value of ``--name=value`` (the last one given), else None."""
        found = None
        for flag in self.flags:
            key, sep, rest = flag.partition("=")
            if key == f"--{name}" and sep:
                found = rest
        return found


@dataclass(frozen=True, slots=True)
class Stage:
    index: int
    name: str | None  # lower case, as BuildKit compares stage names
    base: str  # the FROM image or stage, as written
    start: Instruction  # the FROM instruction
    body: tuple[Instruction, ...]


@dataclass(frozen=True, slots=True)
class ParsedDockerfile:
    path: str
    syntax: str | None  # the `# syntax=` directive
    globals: tuple[Instruction, ...]  # the ARGs before the first FROM
    stages: tuple[Stage, ...]

    def stage_named(self, name: str) -> Stage | None:
        lowered = name.lower()
        for stage in self.stages:
            if stage.name == lowered or (stage.name is None and name == str(stage.index)):
                return stage
        return None


_SYNTAX = re.compile(r"^#\s*syntax\s*=\s*(\S+)\s*$", re.IGNORECASE)


def _syntax_directive(text: str) -> str | None:
    for line in text.splitlines():
        if not line.startswith("#"):
            return None
        match = _SYNTAX.match(line)
        if match:
            return match.group(1)
    return None


def _refuse_nul(text: str, path: str) -> None:
    # The parser reads each line as a C string, so a NUL silently cuts the word it is in
    # (`FROM a\0b` reads as `FROM a`), where BuildKit reads the whole word.
    at = text.find("\0")
    if at >= 0:
        line = text.count("\n", 0, at) + 1
        raise ConfigError(
            f"{path}:{line}: a NUL byte in the Dockerfile; remove it "
            "(BuildKit reads the file as text)"
        )


def parse(text: str, path: str) -> ParsedDockerfile:
    """The instructions of ``text`` (the file at ``path``), grouped into stages."""
    _refuse_nul(text, path)
    try:
        commands = dockerfile.parse_string(text)
    except dockerfile.GoParseError as exc:
        raise ConfigError(f"{path}: not a Dockerfile BuildKit can read: {exc}") from exc
    lines = text.splitlines()
    instructions = [
        Instruction(
            cmd=c.cmd.upper(),
            flags=tuple(c.flags),
            value=tuple(c.value),
            json=bool(c.json),
            heredoc=bool(c.heredocs),
            start=c.start_line,
            end=c.end_line,
            text="\n".join(lines[c.start_line - 1 : c.end_line]),
        )
        for c in commands
        if c.cmd  # the parser's node for a file of line continuations only has none
    ]
    globals_: list[Instruction] = []
    stages: list[Stage] = []
    current: tuple[Instruction, list[Instruction]] | None = None
    for item in instructions:
        if item.cmd == "FROM":
            if current is not None:
                stages.append(_stage(len(stages), *current))
            current = (item, [])
        elif current is None:
            globals_.append(item)
        else:
            current[1].append(item)
    if current is None:
        raise ConfigError(f"{path}: no FROM instruction: not a Dockerfile that builds an image")
    stages.append(_stage(len(stages), *current))
    return ParsedDockerfile(path, _syntax_directive(text), tuple(globals_), tuple(stages))


def _stage(index: int, start: Instruction, body: list[Instruction]) -> Stage:
    value = start.value
    name = value[2].lower() if len(value) >= 3 and value[1].upper() == "AS" else None
    return Stage(index, name, value[0] if value else "", start, tuple(body))


# -- variables ---------------------------------------------------------------------------

_VARIABLE = re.compile(
    r"\\(?P<escaped>\$)"
    r"|\$(?:\{(?P<braced>[A-Za-z_][A-Za-z0-9_]*)"
    r"(?:(?P<colon>:)?(?P<op>[-+])(?P<word>[^}]*))?\}"
    r"|(?P<plain>[A-Za-z_][A-Za-z0-9_]*))"
)


def expand(word: str, env: Mapping[str, str]) -> str:
    """``word`` with ``$NAME``, ``${NAME}``, ``${NAME:-default}``, ``${NAME:+alt}`` (and
    ``${NAME-default}``, ``${NAME+alt}``, where only an unset name counts as missing)
    replaced as the Dockerfile frontend replaces them (unset: empty)."""

    def replace(match: re.Match[str]) -> str:
        if match.group("escaped"):
            return "$"
        name = match.group("braced") or match.group("plain")
        value = env.get(name, "")
        # with the colon an empty value counts as missing, without it only an unset name
        present = bool(value) if match.group("colon") else name in env
        op = match.group("op")
        if op == "-":
            return value if present else expand(match.group("word"), env)
        if op == "+":
            return expand(match.group("word"), env) if present else ""
        return value

    return _VARIABLE.sub(replace, word)


def unquote(word: str) -> str:
    """A Dockerfile word without its surrounding quotes (ENV A="two words")."""
    if len(word) >= 2 and word[0] == word[-1] and word[0] in "\"'":
        return word[1:-1]
    return word


def assignments(instruction: Instruction) -> list[tuple[str, str | None]]:
    """The (name, value as written) pairs of an ENV or ARG (None: an ARG without a
    default); :func:`evaluate` gives a value's meaning."""
    value = instruction.value
    if instruction.cmd == "ENV":
        return [(value[i], value[i + 1]) for i in range(0, len(value) - 1, 2)]
    pairs: list[tuple[str, str | None]] = []
    for item in value:
        name, sep, default = item.partition("=")
        pairs.append((name, default if sep else None))
    return pairs


def evaluate(written: str, env: Mapping[str, str]) -> str:
    """An ENV or ARG value as written -> its value: single quotes keep it literal, double
    quotes or none expand its variables."""
    if len(written) >= 2 and written[0] == written[-1] == "'":
        return written[1:-1]
    return expand(unquote(written), env)
