"""Answers started ahead: the read-only commands the same invocation ran last time, started
before uvbuild imports its own modules, so they run while Python starts up.

A no-op ``uvbuild build`` asks ``uv lock --check`` and a few ``docker image inspect`` /
``image history``, each a process start of 20-300 ms, one after another, after uvbuild's
imports. What it asks changes only when the project, the images or the flags change, so
``begin`` (called by ``uvbuild.cli.main`` first) reads what the same invocation (working
directory and arguments, output flags aside) asked last time from
``~/.cache/uvbuild/prefetch.json`` and starts those commands at once; the runner
(``uvbuild.docker.process``) hands an answer over when the run asks exactly that command
(arguments and directory) again, and only while it is still right (see the rules there:
a snapshot is taken before any build or change, an answer about what an image id fixes
holds across builds). What was not asked is stopped; ``end`` keeps what the run asked for next time.
So output, errors and exit codes are those of a run that asked the same commands a little
later, and a record that does not fit costs only the processes it started.

Only the verbs of ``process.AHEAD`` are started, and only with the docker CLI and the uv
that this run would use (``shutil.which``, or uv beside the interpreter). Set
``UVBUILD_NO_PREFETCH=1`` to start nothing ahead; delete the file to forget every record.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from uvbuild.docker import jsonfile, process

FILE_NAME = "prefetch.json"
KEEP = 32  # records kept, newest first
MOST = 8  # commands started ahead per run
OFF = "UVBUILD_NO_PREFETCH"
# Flags that change what is printed, not what is asked: runs that differ only in them
# share a record (`uvbuild -q build .` warms `uvbuild build .`).
OUTPUT_FLAGS = frozenset(
    ("-q", "--quiet", "-v", "--verbose", "--json", "--color", "--no-color", "--debug")
)


def user_cache_dir() -> Path:
    """``$XDG_CACHE_HOME/uvbuild`` (``~/.cache/uvbuild``)."""
    root = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(root) / "uvbuild"


def run_key(argv: Sequence[str], cwd: str) -> str:
    """The record's key: the working directory and the arguments but the output flags."""
    args = [arg for arg in argv if arg not in OUTPUT_FLAGS]
    return hashlib.sha256(json.dumps([cwd, args]).encode()).hexdigest()


def _programs() -> set[str]:
    """The docker CLI and uv this run would call (as ``Engine.docker_cmd`` and
    ``uvcheck.find_uv`` find them)."""
    found = {shutil.which("docker"), shutil.which("uv")}
    beside = Path(sys.executable).parent / "uv"
    return {str(path) for path in found if path} | {str(beside)}


def _usable(entry: object, programs: set[str]) -> tuple[list[str], str | None] | None:
    """A recorded ``{"argv": [...], "cwd": ...}`` that may be started, or None."""
    if not isinstance(entry, dict):
        return None
    argv, cwd = entry.get("argv"), entry.get("cwd")
    if not isinstance(argv, list) or not all(isinstance(arg, str) for arg in argv):
        return None
    if not argv or argv[0] not in programs or not process.may_start_ahead(argv):
        return None
    if cwd is not None and not (isinstance(cwd, str) and os.path.isdir(cwd)):
        return None
    return argv, cwd


class Prefetch:
    """One invocation's record: ``begin`` starts what it lists, ``end`` updates it."""

    def __init__(self, argv: Sequence[str], cache_dir: Path, cwd: str | None = None) -> None:
        self.path = cache_dir / FILE_NAME
        if cwd is None:
            try:
                cwd = os.getcwd()
            except OSError:  # a working directory removed under us
                cwd = ""
        self.key = run_key(argv, cwd)
        self.started: list[dict[str, object]] = []

    def _read(self) -> dict[str, dict]:
        return jsonfile.read(self.path)

    def begin(self) -> None:
        """Start the commands of this invocation's record; record what this run asks."""
        process.record_asked()
        entry = self._read().get(self.key)
        commands = entry.get("commands") if isinstance(entry, dict) else None
        if not isinstance(commands, list):
            return
        programs = _programs()
        for recorded in commands[:MOST]:
            usable = _usable(recorded, programs)
            if usable is not None and process.start_ahead(*usable):
                self.started.append({"argv": usable[0], "cwd": usable[1]})

    def end(self) -> None:
        """Stop what was started and not asked; keep what this run asked (when it changed)."""
        asked = [{"argv": argv, "cwd": cwd} for argv, cwd in process.stop_ahead()][:MOST]
        if asked == self.started:
            return
        records = {k: v for k, v in self._read().items() if k != self.key and isinstance(v, dict)}
        newest = sorted(records.items(), key=lambda item: -_at(item[1]))[: KEEP - 1]
        records = dict(newest)
        if asked:
            records = {self.key: {"at": time.time(), "commands": asked}, **records}
        jsonfile.write(self.path, records, indent=1, sort_keys=True)


def _at(entry: dict) -> float:
    try:
        return float(entry.get("at") or 0)
    except (TypeError, ValueError):
        return 0.0


def begin(argv: Sequence[str]) -> Prefetch | None:
    """Start what the same invocation asked last time (None: ``UVBUILD_NO_PREFETCH``)."""
    if os.environ.get(OFF):
        return None
    prefetch = Prefetch(argv, user_cache_dir())
    prefetch.begin()
    return prefetch
