"""Damaged project files for the planner's property tests and ``bench/fuzz_plan.py``.

A *seed* is a project that plans: one of the fixture projects, or a project of the uv.lock
corpus, with or without one of the Dockerfiles in ``tests/fixtures/dockerfiles`` (seed mode
and ``FROM uvbuild-base``). :func:`damaged` is a Hypothesis strategy that damages one or two
of its files (``pyproject.toml``, ``uv.lock``, ``Dockerfile``, ``.python-version``): in
the parsed TOML (keys dropped, retyped, renamed, wrapped in the wrong nesting, array
entries duplicated, odd unicode, huge numbers, a random ``[tool.uvbuild]``) or in the
bytes (truncated, garbage inserted, lines or tables duplicated, numbers too long for
Python, invalid UTF-8, empty files). :func:`outcome` plans the result in-process with the
real file reading (``planner.make_plan``, ``check_installable``, the JSON and the
Dockerfile: what ``uvbuild plan`` and ``uvbuild dockerfile`` do, without ``uv lock
--check``) and returns ``None`` when it planned or stopped with a good error, else the
problem: another exception, a message of more than one line or naming no file, a hang.
"""

from __future__ import annotations

import datetime
import faulthandler
import functools
import json
import math
import re
import shutil
import signal
import sys
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hypothesis import strategies as st

from tests.paths import CORPUS, FIXTURES, REPO
from uvbuild import planner
from uvbuild.core import render
from uvbuild.core.config import CONFIG_KEYS
from uvbuild.errors import UvbuildError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

FLAGS = {"platform": "linux/amd64"}
DOCKERFILES = FIXTURES / "dockerfiles"
# the fixture projects that plan as they are (the others are lock-only fixtures)
FIXTURE_PROJECTS = (
    "two_indexes",
    "empty_extra",
    "default_groups_all",
    "virtual_workspace",
    "cross_member_conflict",
)
# the files a damage may touch, and the names an error about them may give
FILES = ("pyproject.toml", "uv.lock", "Dockerfile", ".python-version")
UVBUILD_SOURCE = str(REPO / "uvbuild")


@dataclass(frozen=True)
class Seed:
    """A project that plans: the directory to copy and the files to damage."""

    name: str
    dir: Path
    files: tuple[tuple[str, bytes], ...]

    def __repr__(self) -> str:
        return f"Seed({self.name!r})"


def _seed(name: str, project: Path, dockerfile: str | None = None) -> Seed:
    files = [(f, (project / f).read_bytes()) for f in FILES if (project / f).is_file()]
    if dockerfile is not None:
        files = [(f, b) for f, b in files if f != "Dockerfile"]
        files.append(("Dockerfile", (DOCKERFILES / dockerfile).read_bytes()))
        name = f"{name}+{dockerfile}"
    return Seed(name, project, tuple(files))


def fixture_seeds() -> list[Seed]:
    """The fixture projects, and the GPU one under each Dockerfile of the fixtures."""
    seeds = [_seed(name, FIXTURES / name) for name in FIXTURE_PROJECTS]
    for dockerfile in sorted(p.name for p in DOCKERFILES.iterdir()):
        seeds.append(_seed("two_indexes", FIXTURES / "two_indexes", dockerfile))
    return seeds


def corpus_seeds(root: Path = CORPUS, limit: int | None = None) -> list[Seed]:
    """The corpus projects (the ``limit`` smallest locks, else all), and each under each
    fixture Dockerfile."""
    if not root.is_dir():
        return []
    projects = sorted(
        (
            p
            for p in root.iterdir()
            if (p / "uv.lock").is_file() and (p / "pyproject.toml").is_file()
        ),
        key=lambda p: (p / "uv.lock").stat().st_size,
    )
    projects = projects[:limit]
    seeds = [_seed(p.name, p) for p in projects]
    for dockerfile in sorted(p.name for p in DOCKERFILES.iterdir()):
        seeds += [_seed(p.name, p, dockerfile) for p in projects]
    return seeds


# -- odd values ------------------------------------------------------------------------------

ODD_TEXT = (
    "",
    " ",
    "\x00",
    "a\x00b",
    "\n",
    "two\nlines",
    "\r",
    "\t",
    "\u2028",
    "\x85",
    "\x1b[31m",
    "\u202eevil",  # right-to-left override
    "\u200f",  # right-to-left mark
    "e\u0301",  # combining acute
    "\u0301",
    "\ufeff",
    "\ud800",  # a lone surrogate: written as bytes, not valid UTF-8
    "\udcff",
    "\U0001f4e6",
    "\u0130",  # İ: lower() is two characters
    "\u00df",
    "x" * 5000,
    "../../etc/passwd",
    "/",
    "*",
    "[",
    "${X}",
    "$(id)",
    "'\"\\",
    "torch",
    "nvidia-*",
    "==1.0",
    ">=3.11",
    ">=3.11,<",
    "3.11",
    "3",
    "3.99999999999999999999",
    "2.28",
    "linux/amd64",
    "linux/arm64/v8",
    "https://pypi.org/simple",
    "all",
    "auto",
    "groups",
    "1MB",
    "2GB",
    "-1GB",
    "1e999GB",
    "99999999999999999999999999TB",
    "sha256:",
    'python_version >= "3.11"',
    "extra == 'cpu'",
    "(",
)
ODD_NUMBERS = (
    0,
    1,
    -1,
    2,
    3,
    2**31,
    2**63 - 1,
    -(2**63),
    2**64,
    10**400,
    -(10**400),
    0.5,
    -0.0,
    1e308,
    math.inf,
    -math.inf,
    math.nan,
)
ODD_OTHER = (
    True,
    False,
    datetime.date(2024, 1, 1),
    datetime.datetime(2024, 1, 1, 12, 0, tzinfo=datetime.timezone.utc),
    datetime.time(12, 0),
    [],
    {},
    [[]],
    [{}],
    {"": ""},
)

scalars = st.one_of(
    st.sampled_from(ODD_TEXT),
    st.sampled_from(ODD_NUMBERS),
    st.sampled_from(ODD_OTHER),
    st.text(max_size=12),
    st.integers(),
    st.floats(),
)
odd_values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.dictionaries(
            st.one_of(st.sampled_from(ODD_TEXT[:20]), st.text(max_size=5)), inner, max_size=3
        ),
    ),
    max_leaves=6,
)

# plausible values of the settings: right types among the wrong ones
plausible = st.one_of(
    st.sampled_from(ODD_TEXT[23:]),
    st.lists(st.sampled_from(ODD_TEXT[23:]), max_size=3),
    st.dictionaries(
        st.sampled_from(("gpu", "cuda", "", "base", "x")),
        st.lists(st.sampled_from(ODD_TEXT[23:]), max_size=2),
        max_size=3,
    ),
    st.booleans(),
    st.sampled_from(ODD_NUMBERS),
)
TOOL_UV_KEYS = (
    "default-groups",
    "index",
    "index-url",
    "sources",
    "compile-bytecode",
    "python-downloads",
    "no-sources",
    "no-binary",
    "package",
    "workspace",
)


def _index_entries() -> st.SearchStrategy[Any]:
    entry = st.dictionaries(
        st.sampled_from(("name", "url", "default", "explicit")),
        st.one_of(st.sampled_from(ODD_TEXT), st.booleans(), st.integers()),
        max_size=4,
    )
    return st.one_of(st.lists(entry, max_size=3), odd_values)


# -- TOML out --------------------------------------------------------------------------------


def _toml_string(text: str) -> str:
    """A TOML basic string: JSON's escapes are TOML's; DEL must be escaped too; a lone
    surrogate stays (the file then is not valid UTF-8)."""
    return json.dumps(text, ensure_ascii=False).replace("\x7f", "\\u007f")


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, str):
        return _toml_string(value)
    if isinstance(value, (datetime.date, datetime.time)):
        return value.isoformat()
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        items = ", ".join(f"{_toml_string(str(k))} = {_toml_value(v)}" for k, v in value.items())
        return "{ " + items + " }" if items else "{}"
    raise TypeError(f"no TOML for {value!r}")


def _is_tables(value: Any) -> bool:
    return isinstance(value, list) and bool(value) and all(isinstance(v, dict) for v in value)


def _table(header: tuple[str, ...], data: dict[str, Any], out: list[str]) -> None:
    """``data`` as key = value lines, then its tables and arrays of tables as sections (one
    long inline line would make tomllib quadratic)."""
    for key, value in data.items():
        if isinstance(value, list) and len(value) > 1 and not _is_tables(value):
            items = "".join(f"\n    {_toml_value(v)}," for v in value)
            out.append(f"{_toml_string(str(key))} = [{items}\n]")
        elif not isinstance(value, dict) and not _is_tables(value):
            out.append(f"{_toml_string(str(key))} = {_toml_value(value)}")
    for key, value in data.items():
        path = (*header, _toml_string(str(key)))
        if isinstance(value, dict):
            out.append(f"\n[{'.'.join(path)}]")
            _table(path, value, out)
        elif _is_tables(value):
            for item in value:
                out.append(f"\n[[{'.'.join(path)}]]")
                _table(path, item, out)


def dumps(data: dict[str, Any]) -> bytes:
    """``data`` as TOML (lone surrogates become invalid UTF-8)."""
    out: list[str] = []
    _table((), data, out)
    return ("\n".join(out) + "\n").encode("utf-8", "surrogatepass")


# -- damage to parsed TOML -------------------------------------------------------------------


def _children(node: Any) -> list[Any]:
    if isinstance(node, dict):
        return list(node)
    if isinstance(node, list):
        return list(range(len(node)))
    return []


def _describe(path: list[Any]) -> str:
    return (
        "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in path).lstrip(".") or "<root>"
    )


@st.composite
def _tree_damage(draw: st.DrawFn, data: dict[str, Any]) -> str:
    """Damage ``data`` in place at one place; what was done."""
    path: list[Any] = []
    parent: Any = None
    node: Any = data
    while _children(node) and (parent is None or draw(st.integers(0, 3)) > 0):
        keys = _children(node)
        key = keys[draw(st.integers(0, len(keys) - 1))]
        parent, node = node, node[key]
        path.append(key)
    where = _describe(path)
    if parent is None:  # the root: add or replace a top-level key
        key = draw(
            st.sampled_from(
                (
                    "version",
                    "revision",
                    "package",
                    "manifest",
                    "project",
                    "tool",
                    "requires-python",
                    "x",
                )
            )
        )
        data[key] = draw(odd_values)
        return f"set {key} = {data[key]!r}"
    key = path[-1]
    op = draw(
        st.sampled_from(
            ("drop", "retype", "wrap-list", "wrap-table", "unwrap", "duplicate", "rename", "empty")
        )
    )
    if op == "drop":
        del parent[key]
    elif op == "retype":
        parent[key] = draw(odd_values)
        return f"{where} = {parent[key]!r}"
    elif op == "wrap-list":
        parent[key] = [node]
    elif op == "wrap-table":
        parent[key] = (
            {str(i): v for i, v in enumerate(node)} if isinstance(node, list) else {"x": node}
        )
    elif op == "unwrap":
        inner = _children(node)
        if not inner:
            parent[key] = draw(odd_values)
            return f"{where} = {parent[key]!r}"
        parent[key] = node[inner[0]]
    elif op == "duplicate":
        if isinstance(parent, list):
            parent.insert(key, json_copy(node))
        else:
            twin = draw(
                st.sampled_from(
                    (str(key).upper(), str(key) + "\u0301", str(key).replace("-", "_"), f" {key}")
                )
            )
            parent[twin] = json_copy(node)
            return f"{where} duplicated as {twin!r}"
    elif op == "rename":
        new = draw(st.one_of(st.sampled_from(ODD_TEXT[:22]), st.text(max_size=6)))
        value = parent.pop(key)
        if isinstance(parent, list):
            parent.insert(key, {new: value})
        else:
            parent[new] = value
        return f"{where} renamed {new!r}"
    else:
        parent[key] = type(node)() if isinstance(node, (str, list, dict)) else 0
    return f"{op} {where}"


def json_copy(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: json_copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [json_copy(v) for v in value]
    return value


@st.composite
def _settings_damage(draw: st.DrawFn, data: dict[str, Any]) -> str:
    """A random ``[tool.uvbuild]`` or ``[tool.uv]`` on a parsed pyproject."""
    tool = data.setdefault("tool", {})
    if not isinstance(tool, dict):
        return "tool is not a table"
    if draw(st.booleans()):
        keys = st.one_of(st.sampled_from(CONFIG_KEYS), st.sampled_from(ODD_TEXT[:6]))
        table = draw(
            st.dictionaries(keys, st.one_of(plausible, odd_values), min_size=1, max_size=4)
        )
        tool["uvbuild"] = table
        return f"tool.uvbuild = {table!r}"
    uv = tool.setdefault("uv", {})
    if not isinstance(uv, dict):
        return "tool.uv is not a table"
    key = draw(st.sampled_from(TOOL_UV_KEYS))
    uv[key] = draw(_index_entries() if key == "index" else st.one_of(plausible, odd_values))
    return f"tool.uv.{key} = {uv[key]!r}"


# -- damage to bytes -------------------------------------------------------------------------

GARBAGE = (
    b"\x00",
    b"\x00" * 64,
    b"\xff\xfe",
    b"\xef\xbb\xbf",  # a BOM in the middle
    b"\xed\xa0\x80",  # a surrogate, UTF-8-encoded: not valid UTF-8
    b"\xc3",  # half a character
    b"\x80\x81\x82",
    "\u202e".encode(),
    "e\u0301".encode(),
    b"\r",
    b"\\\n",
    b"\n[",
    b"\n[[package]]\n",
    b"\n[tool.uvbuild]\n",
    b'"""',
    b"'",
    b"=",
    b"{",
    b"\n\n\n",
    b"9" * 5000,
    b"[" * 3000,
)
DOCKERFILE_LINES = (
    "FROM",
    "FROM scratch",
    "FROM uvbuild-base",
    "FROM ${MISSING}",
    "FROM python:3.11-slim AS uvbuild-system",
    "ARG X",
    "ARG X=${X}",
    "ARG BASE_IMAGE=\u202eevil",
    "ENV UV_PROJECT_ENVIRONMENT=",
    "ENV UV_PROJECT_ENVIRONMENT=relative",
    "ENV UV_COMPILE_BYTECODE=maybe",
    "ENV UV_PYTHON_DOWNLOADS=sometimes",
    "ENV UV_NO_DEV=\x00",
    "WORKDIR",
    "WORKDIR \u202e",
    "COPY --from=missing / /",
    "COPY --link --from=uv /uv /usr/local/bin/uv",
    "RUN uv sync",
    "RUN uv sync --frozen",
    "RUN uv sync --frozen --extra \u202e",
    "RUN uv sync --frozen --package",
    "RUN uv sync --frozen --group",
    "RUN uv sync --frozen --python 3.99999999999999999",
    "RUN uv sync --frozen --no-such-flag",
    "RUN uv sync --locked --all-packages --only-group x --no-group x",
    "RUN --mount=type=cache,target= uv sync --frozen",
    "RUN --mount=type=bind,source=,target=/x uv sync --frozen",
    "RUN uv sync --frozen && uv sync --frozen",
    "RUN <<EOF\nuv sync --frozen\nEOF",
    "RUN <<EOF",
    'RUN ["uv", "sync"',
    'RUN ["uv", "sync", "--frozen"]',
    'SHELL ["/bin/sh"',
    "ONBUILD RUN uv sync",
    "# syntax=docker/dockerfile:1",
    "# escape=`",
    "\\",
)


# words after a `uv sync` of the user's Dockerfile
SYNC_WORDS = (
    "--extra x",
    "--extra \u202e",
    "--extra",
    "--all-extras",
    "--no-extra x",
    "--group dev",
    "--group \u0301",
    "--only-group x",
    "--no-group dev",
    "--all-groups",
    "--no-default-groups",
    "--dev",
    "--only-dev",
    "--no-dev",
    "--package gpuapp",
    "--package x",
    "--package",
    "--all-packages",
    "--python 3.12",
    "--python 3.99999999999999999999",
    "-p pypy",
    "--python",
    "--frozen",
    "--locked",
    "--no-install-project",
    "--no-install-workspace",
    "--no-sources",
    "--no-binary",
    "--compile-bytecode",
    "--no-python-downloads",
    "--directory /x",
    "--project ..",
    "--active",
    "--inexact",
    "--no-such-flag",
    "&& echo done",
    "|| true",
    "; uv sync --frozen",
    "--extra=x",
    "-- x",
    "'--extra' \"x\"",
    "$EXTRA",
    "${EXTRA:-x}",
    "`id`",
    "\\\n--frozen",
)


def _lines(data: bytes) -> list[bytes]:
    return data.splitlines(keepends=True)


@st.composite
def _bytes_damage(draw: st.DrawFn, data: bytes, name: str) -> tuple[bytes, str]:
    ops = [
        "truncate",
        "insert",
        "delete",
        "duplicate-lines",
        "drop-line",
        "number",
        "string",
        "whole",
    ]
    if name != "Dockerfile":
        ops.append("duplicate-table")
    else:  # the instructions and the sync's flags, more often than bytes
        ops += ["dockerfile-line"] * 4 + ["sync-word"] * 4
    op = draw(st.sampled_from(ops))
    if op == "sync-word":
        syncs = [m.end() for m in re.finditer(rb"uv sync", data)]
        if syncs:
            at = syncs[draw(st.integers(0, len(syncs) - 1))]
            word = draw(st.sampled_from(SYNC_WORDS)).encode()
            return data[:at] + b" " + word + data[at:], f"{word!r} after `uv sync` at {at}"
    size = len(data)
    offset = draw(st.integers(0, size))
    lines = _lines(data)
    if op == "truncate":
        return data[:offset], f"truncated at {offset}"
    if op == "insert":
        junk = draw(st.one_of(st.sampled_from(GARBAGE), st.binary(min_size=1, max_size=8)))
        return data[:offset] + junk + data[offset:], f"{junk[:20]!r} inserted at {offset}"
    if op == "delete":
        length = draw(st.integers(1, 200))
        return data[:offset] + data[offset + length :], f"{length} bytes deleted at {offset}"
    if op in ("duplicate-lines", "drop-line", "dockerfile-line") and lines:
        i = draw(st.integers(0, len(lines) - 1))
        if op == "drop-line":
            return b"".join(lines[:i] + lines[i + 1 :]), f"line {i + 1} dropped"
        if op == "dockerfile-line":
            new = draw(st.sampled_from(DOCKERFILE_LINES)).encode() + b"\n"
            replace = draw(st.booleans())
            rest = lines[i + 1 :] if replace else lines[i:]
            how = "replaced by" if replace else "inserted before it:"
            return b"".join([*lines[:i], new, *rest]), f"line {i + 1} {how} {new!r}"
        j = draw(st.integers(i, min(len(lines), i + 20)))
        at = draw(st.integers(0, len(lines)))
        out = lines[:at] + lines[i:j] + lines[at:]
        return b"".join(out), f"lines {i + 1}-{j} copied before line {at + 1}"
    if op == "duplicate-table":
        headers = [i for i, line in enumerate(lines) if line.startswith(b"[")]
        if headers:
            k = draw(st.integers(0, len(headers) - 1))
            start = headers[k]
            end = headers[k + 1] if k + 1 < len(headers) else len(lines)
            block = lines[start:end]
            if block and not block[-1].endswith(b"\n"):
                block = [*block[:-1], block[-1] + b"\n"]
            out = b"".join([*lines, b"\n", *block])
            return out, f"table at line {start + 1} repeated at the end"
    if op == "number":
        numbers = list(re.finditer(rb"\b\d+\b", data))
        if numbers:
            m = numbers[draw(st.integers(0, len(numbers) - 1))]
            new = draw(
                st.sampled_from(
                    (b"9" * 5000, b"9" * 400, b"-1", b"0", b"1e999", b"0x" + b"f" * 40, b"nan")
                )
            )
            return data[: m.start()] + new + data[
                m.end() :
            ], f"number at {m.start()} -> {new[:12]!r}"
    if op == "string":
        strings = list(re.finditer(rb'"([^"\\\n]*)"', data))
        if strings:
            m = strings[draw(st.integers(0, len(strings) - 1))]
            new = draw(st.sampled_from(ODD_TEXT)).encode("utf-8", "surrogatepass")
            new = new.replace(b"\\", b"\\\\").replace(b'"', b'\\"')
            return data[: m.start(1)] + new + data[
                m.end(1) :
            ], f"string at {m.start(1)} -> {new[:20]!r}"
    whole = draw(
        st.one_of(
            st.sampled_from(
                (b"", b"\n", b"\xef\xbb\xbf", b"\x00" * 100, b"\xff" * 10, b"[", b"version = 1\n")
            ),
            st.binary(max_size=64),
        )
    )
    return whole, f"replaced by {whole[:20]!r}"


# -- the strategy ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Damaged:
    """A seed's files after damage: what is written, and what was done (the repr)."""

    seed: Seed
    files: tuple[tuple[str, bytes], ...]
    steps: tuple[str, ...] = field(default=())

    def __repr__(self) -> str:
        return f"Damaged({self.seed.name!r}, steps={list(self.steps)!r})"

    def write(self, project: Path) -> None:
        """The seed's project at ``project`` with the damaged files in it."""
        shutil.copytree(self.seed.dir, project, ignore=shutil.ignore_patterns("SOURCE", "*.md"))
        for name in FILES:
            (project / name).unlink(missing_ok=True)
        for name, data in self.files:
            (project / name).write_bytes(data)


def _parsed(data: bytes) -> dict[str, Any] | None:
    """``data`` parsed (a fresh copy to damage), None when it is not TOML."""
    parsed = _parse(data)
    return None if parsed is None else json_copy(parsed)


@functools.lru_cache(maxsize=64)
def _parse(data: bytes) -> dict[str, Any] | None:
    try:
        return tomllib.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError, ValueError, RecursionError):
        return None


@st.composite
def damaged(draw: st.DrawFn, seeds: list[Seed]) -> Damaged:
    """One seed, one or two of its files damaged one to three times each."""
    seed = draw(st.sampled_from(seeds))
    files = dict(seed.files)
    names = [n for n in FILES if n in files] + [".python-version"] * (
        ".python-version" not in files
    )
    targets = draw(st.lists(st.sampled_from(names), min_size=1, max_size=2, unique=True))
    steps = []
    for name in targets:
        data = files.get(name, b"3.11\n")
        for _ in range(draw(st.integers(1, 3))):
            parsed = _parsed(data) if name in ("pyproject.toml", "uv.lock") else None
            how = draw(st.integers(0, 4)) if parsed is not None else 0
            if how in (1, 2, 3):
                step = draw(_tree_damage(parsed))
                data = dumps(parsed)
            elif how == 4:
                step = draw(
                    _settings_damage(parsed) if name == "pyproject.toml" else _tree_damage(parsed)
                )
                data = dumps(parsed)
            else:
                data, step = draw(_bytes_damage(data, name))
            steps.append(f"{name}: {step}")
        files[name] = data
    return Damaged(seed, tuple(files.items()), tuple(steps))


# -- the oracle ------------------------------------------------------------------------------


class Hang(BaseException):
    """Planning took longer than the deadline (a BaseException: no `except Exception`
    in the planner swallows it)."""


@contextmanager
def deadline(seconds: float) -> Iterator[None]:
    """Raise Hang in the main thread after ``seconds`` (SIGALRM). A hang in C code, which
    no signal handler interrupts, ends the process after four times that, with every
    thread's traceback (faulthandler): a run never hangs."""
    if not hasattr(signal, "setitimer"):  # pragma: no cover
        yield
        return

    def expired(signum: int, frame: Any) -> None:
        raise Hang(f"planning took more than {seconds} s")

    previous = signal.signal(signal.SIGALRM, expired)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    faulthandler.dump_traceback_later(seconds * 4, exit=True)
    try:
        yield
    finally:
        faulthandler.cancel_dump_traceback_later()
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


@dataclass(frozen=True)
class Problem:
    """What went wrong: ``kind`` (crash, hang, multi-line, no-file), where (the deepest
    frame in uvbuild's code: file:line) and the message."""

    kind: str
    where: str
    message: str

    @property
    def signature(self) -> tuple[str, str]:
        return (self.kind, self.where)

    def __str__(self) -> str:
        return f"{self.kind} at {self.where}: {self.message}"


def _where(exc: BaseException) -> str:
    frames = traceback.extract_tb(exc.__traceback__)
    ours = [f for f in frames if f.filename.startswith(UVBUILD_SOURCE)] or frames[-1:]
    if not ours:
        return "?"
    frame = ours[-1]
    name = frame.filename
    if name.startswith(str(REPO)):
        name = str(Path(name).relative_to(REPO))
    return f"{name}:{frame.lineno}"


def check_message(message: str) -> str | None:
    """Why ``message`` is not a good error line (None: it is)."""
    if not message.strip():
        return "no-message"
    if len(message.splitlines()) != 1 or "\n" in message or "\r" in message:
        return "multi-line"
    if not any(name in message for name in FILES):
        return "no-file"
    return None


def plan_and_render(project: Path) -> None:
    """What ``uvbuild plan --json`` and ``uvbuild dockerfile`` do with the files, in-process
    and without ``uv lock --check`` or an engine."""
    plan = planner.make_plan(project, dict(FLAGS))
    json.dumps(plan.to_dict())
    planner.check_installable(plan)
    render.dockerfile(plan)


def outcome(project: Path, seconds: float = 30.0) -> Problem | None:
    """Plan ``project``: None when it planned or raised a good UvbuildError."""
    try:
        with deadline(seconds):
            plan_and_render(project)
    except UvbuildError as exc:
        kind = check_message(str(exc))
        return Problem(kind, _where(exc), str(exc)[:500]) if kind else None
    except Hang as exc:
        return Problem("hang", _where(exc), str(exc))
    except Exception as exc:
        return Problem("crash", _where(exc), f"{type(exc).__name__}: {str(exc)[:400]}")
    return None
