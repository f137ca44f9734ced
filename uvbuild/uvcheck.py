"""Asks uv itself whether uv.lock still matches pyproject.toml, offline and bounded (through
the one runner, ``uvbuild.docker.process``).

A "fresh" verdict is kept in ``~/.cache/uvbuild/lock-checks.json`` under a fingerprint of
everything it was made from (``fingerprint``): the uv program (its path and the file it
is), the variables that steer uv (``UV_*``, ``PATH``, ``HOME``, ``XDG_CONFIG_HOME``,
``XDG_CONFIG_DIRS``, ``VIRTUAL_ENV``, ``PYENV_VERSION``, ``PYENV_ROOT``), ``uv.lock``, the
``pyproject.toml``, ``uv.toml`` and ``.python-version`` files of the project and every
directory above it, uv's user and system ``uv.toml``, pyenv's global ``version`` (for a uv
behind a pyenv shim), and the ``pyproject.toml`` of every
workspace member and path source the lock names. While that fingerprint is the same (and
for ``TTL_SECONDS`` at most) uv is not asked again: the same question has the same answer.
A project whose lock names a path source without a static ``pyproject.toml`` (a
``setup.py``, ``setup.cfg`` or ``dynamic`` metadata: uv would build it to read it) is always
asked. Other verdicts are never kept. Delete the file to forget them.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from uvbuild.docker import jsonfile, prefetch, process

CHECK_TIMEOUT = 30
FILE_NAME = "lock-checks.json"
TTL_SECONDS = 24 * 3600.0
KEEP = 32
ENV_NAMES = (
    "PATH",
    "HOME",
    "XDG_CONFIG_HOME",
    "XDG_CONFIG_DIRS",
    "VIRTUAL_ENV",
    "PYENV_VERSION",
    "PYENV_ROOT",
)
# A source of uv.lock that lives on this machine: `source = { editable = "..." }` and so on.
_LOCAL_SOURCE = re.compile(r'source = \{ (?:editable|virtual|directory|path) = "([^"]*)"')
_DYNAMIC = re.compile(r"^\s*dynamic\s*=", re.MULTILINE)


@dataclass(frozen=True, slots=True)
class LockCheck:
    status: str  # "fresh", "stale" or "unchecked"
    detail: str = ""


def find_uv() -> str | None:
    """The uv to ask: the one on PATH, else the one installed with the running interpreter.

    ``pip install uv`` into uvbuild's own virtual environment puts the binary in that
    environment's bin/, which is not on PATH unless the environment is activated (pipx,
    ``venv/bin/uvbuild``, a Makefile calling ``.venv/bin/uvbuild``). The ``uv`` package's
    ``find_uv_bin()`` also knows the layouts of ``--prefix``, ``--target`` and ``--user``.
    """
    found = shutil.which("uv")
    if found:
        return found
    # not resolved: a venv's python is a symlink, and its uv sits beside the link
    beside = Path(sys.executable).parent / ("uv.exe" if os.name == "nt" else "uv")
    if beside.is_file() and os.access(beside, os.X_OK):
        return str(beside)
    try:
        from uv import find_uv_bin  # the `uv` distribution, when it is installed
    except ImportError:
        return None
    try:
        return find_uv_bin()
    except FileNotFoundError:
        return None


def _content(path: Path) -> str:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return "-"


def fingerprint(project_dir: Path, uv: str, env: Mapping[str, str]) -> str | None:
    """What uv's verdict on ``project_dir`` is made from (see the module's docstring), or
    None when it cannot be told (a path source uv would build to read its metadata)."""
    project = project_dir.resolve()
    parts = [f"uv {uv}"]
    for program in (Path(uv), Path(uv).resolve()):
        try:
            info = program.stat()
            parts.append(f"{program}: {info.st_size} {info.st_mtime_ns} {info.st_ino}")
        except OSError:
            return None
    names = sorted(n for n in env if n.startswith("UV_")) + list(ENV_NAMES)
    parts += [f"{name}={env.get(name, '')}" for name in names]
    try:
        lock = (project / "uv.lock").read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None
    parts.append(f"uv.lock: {hashlib.sha256(lock.encode()).hexdigest()}")
    for directory in (project, *project.parents):
        for name in ("pyproject.toml", "uv.toml", ".python-version", ".python-versions"):
            parts.append(f"{directory / name}: {_content(directory / name)}")
    home = Path(env.get("HOME") or "~").expanduser()
    config = Path(env.get("XDG_CONFIG_HOME") or home / ".config")
    system = [Path(d) for d in (env.get("XDG_CONFIG_DIRS") or "/etc/xdg").split(":") if d]
    pyenv = Path(env.get("PYENV_ROOT") or home / ".pyenv") / "version"  # a pyenv shim's uv
    files = [config / "uv" / "uv.toml", *(d / "uv" / "uv.toml" for d in system)]
    for path in (*files, Path("/etc/uv/uv.toml"), pyenv):
        parts.append(f"{path}: {_content(path)}")
    for relative in sorted(set(_LOCAL_SOURCE.findall(lock))):
        source = (project / relative).resolve()
        if source.is_file():  # a wheel or an sdist by path
            parts.append(f"{source}: {_content(source)}")
            continue
        if (source / "setup.py").exists() or (source / "setup.cfg").exists():
            return None
        try:
            text = (source / "pyproject.toml").read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            return None
        if _DYNAMIC.search(text):
            return None
        parts.append(f"{source}/pyproject.toml: {hashlib.sha256(text.encode()).hexdigest()}")
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()


class VerdictCache:
    """The fresh verdicts in ``directory/lock-checks.json``; a failure to read or write it
    is a miss, never an error."""

    def __init__(self, directory: Path, clock: Callable[[], float] = time.time) -> None:
        self.path = directory / FILE_NAME
        self._clock = clock

    def _read(self) -> dict[str, float]:
        found = jsonfile.read(self.path)
        return {k: v for k, v in found.items() if isinstance(v, (int, float))}

    def fresh(self, key: str) -> bool:
        at = self._read().get(key)
        return at is not None and 0 <= self._clock() - at < TTL_SECONDS

    def keep(self, key: str) -> None:
        kept = {k: v for k, v in self._read().items() if k != key}
        newest = sorted(kept.items(), key=lambda item: -item[1])[: KEEP - 1]
        jsonfile.write(self.path, {key: self._clock(), **dict(newest)}, indent=1)


def start_lock_check(
    project_dir: str | Path, uv: str | None = None, cache_dir: Path | None = None
) -> Callable[[], LockCheck]:
    """Start the check and return a function that waits for its verdict, so the caller can
    plan while uv works. A fresh verdict of the same fingerprint, kept in ``cache_dir``
    (default: uvbuild's cache directory), is the answer without asking uv."""
    uv = uv or find_uv()
    if uv is None:
        verdict = LockCheck(
            "unchecked",
            f"uv is neither on PATH nor installed beside {sys.executable}, so uv.lock was "
            "not checked; install uv (or `pip install 'uvbuild[uv]'`)",
        )
        return lambda: verdict
    cache = VerdictCache(cache_dir if cache_dir is not None else prefetch.user_cache_dir())
    key = fingerprint(Path(project_dir), uv, os.environ)
    if key is not None and cache.fresh(key):
        return lambda: LockCheck("fresh")
    try:
        wait = process.start(
            [uv, "lock", "--check", "--offline", "--no-progress"], CHECK_TIMEOUT, project_dir
        )
    except OSError as exc:
        verdict = LockCheck("unchecked", f"cannot run uv ({exc})")
        return lambda: verdict

    def verdict_of_uv() -> LockCheck:
        done = wait()
        # uv's own exit codes are 0, 1 and 2: TIMED_OUT is the runner's
        if done.returncode == process.TIMED_OUT:
            return LockCheck("unchecked", f"`uv lock --check` took over {CHECK_TIMEOUT} s")
        verdict = _verdict(done.returncode, done.stderr)
        if verdict.status == "fresh" and key is not None:
            cache.keep(key)
        return verdict

    return verdict_of_uv


def check_lock(project_dir: str | Path, uv: str | None = None) -> LockCheck:
    return start_lock_check(project_dir, uv)()


def _verdict(returncode: int, stderr: str) -> LockCheck:
    if returncode == 0:
        return LockCheck("fresh")
    if "needs to be updated" in stderr:
        return LockCheck("stale", "uv.lock does not match pyproject.toml; run `uv lock`")
    errors = [line for line in stderr.splitlines() if line.startswith("error:")]
    reason = errors[0].removeprefix("error:").strip() if errors else f"exit {returncode}"
    return LockCheck("unchecked", f"`uv lock --check --offline` could not decide: {reason}")
