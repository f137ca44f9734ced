"""The selected builder's answer, kept between runs: ``~/.cache/uvbuild/builders.json``.

``docker buildx inspect`` starts the buildx plugin, the slowest docker command of a no-op
build after the build itself. What it answers (the builder's name, driver, BuildKit version
and platforms) changes only when the builder's definition changes, and that lives in the
docker CLI's and buildx's files: ``config.json`` (the current context),
``contexts/meta/*`` (their endpoints), ``buildx/current`` (``docker buildx use``) and
``buildx/instances/*`` (``docker buildx create`` / ``rm``), under ``DOCKER_CONFIG`` (default
``~/.docker``) and ``BUILDX_CONFIG`` (default ``$DOCKER_CONFIG/buildx``). An answer is
kept under a key made of the docker CLI's path, ``--builder``, the variables that select
an engine or a builder (``DOCKER_HOST``, ``DOCKER_CONTEXT``, ``DOCKER_CONFIG``,
``BUILDX_BUILDER``, ``BUILDX_CONFIG``) and the content of each of those files (not their
times: buildx rewrites ``current`` on every command), so any change there asks buildx
again; and for ``TTL_SECONDS`` at most.

Only a running builder's answer is kept. That the engine still answers is checked by the
next docker command of every run (the images' inspect), which says so in the same words as
``check``; a build that fails, or that names another builder or driver than the kept
answer (its ``#0 building with "NAME" instance using DRIVER driver`` line), drops the
answer, so the next run asks buildx again. Delete the file to forget every answer.
"""

from __future__ import annotations

import contextlib
import hashlib
import re
import time
from collections.abc import Mapping
from pathlib import Path

from uvbuild.docker import jsonfile
from uvbuild.docker.facts.values import BuilderInfo

FILE_NAME = "builders.json"
TTL_SECONDS = 600.0
KEEP = 16  # answers kept, newest first (projects and builders in use on this machine)
ENV_NAMES = ("DOCKER_HOST", "DOCKER_CONTEXT", "DOCKER_CONFIG", "BUILDX_BUILDER", "BUILDX_CONFIG")

# BuildKit's first line of a build: `#0 building with "default" instance using docker driver`
_BUILDING_WITH = re.compile(
    r'building with "(?P<name>[^"]+)" instance using (?P<driver>\S+) driver'
)


def _content(path: Path) -> str:
    """A file by its content (buildx rewrites ``current`` on every command, the same bytes
    in a new file), a directory by its names; a missing one by a dash."""
    try:
        if path.is_dir():
            return f"{path}/: {' '.join(sorted(p.name for p in path.iterdir()))}"
        return f"{path}: {hashlib.sha256(path.read_bytes()).hexdigest()}"
    except OSError:
        return f"{path}: -"


def _entries(directory: Path, pattern: str) -> list[Path]:
    with contextlib.suppress(OSError):
        return sorted(directory.glob(pattern))
    return []


def state_key(docker_path: str, builder: str | None, env: Mapping[str, str]) -> str:
    """The key of an answer: what selects the builder, and the files that define it."""
    config = Path(env.get("DOCKER_CONFIG") or Path.home() / ".docker")
    buildx = Path(env.get("BUILDX_CONFIG") or config / "buildx")
    parts = [docker_path, builder or "", *(f"{name}={env.get(name, '')}" for name in ENV_NAMES)]
    files = [config / "config.json", buildx / "current", buildx / "instances"]
    files += _entries(buildx / "instances", "*")
    files += [config / "contexts" / "meta", *_entries(config / "contexts" / "meta", "*/meta.json")]
    parts += [_content(path) for path in files]
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()


class BuilderCache:
    """The answers in ``directory/builders.json``; every failure to read or write it is
    a miss (the answer is asked of buildx), never an error."""

    def __init__(self, directory: Path, clock: object = time.time) -> None:
        self.path = directory / FILE_NAME
        self._clock = clock

    def _now(self) -> float:
        return float(self._clock())  # type: ignore[operator]

    def _read(self) -> dict[str, dict]:
        return jsonfile.read(self.path)

    def get(self, key: str) -> tuple[BuilderInfo, tuple[str, ...]] | None:
        entry = self._read().get(key)
        try:
            age = self._now() - float(entry["at"])  # type: ignore[index]
            if not 0 <= age < TTL_SECONDS:
                return None
            info = BuilderInfo(str(entry["name"]), str(entry["driver"]), entry.get("buildkit"))
            return info, tuple(str(p) for p in entry.get("platforms") or ())
        except (TypeError, KeyError, ValueError, AttributeError):
            return None

    def put(self, key: str, info: BuilderInfo, platforms: tuple[str, ...]) -> None:
        """Keep a running builder's answer (others are never kept)."""
        if not info.running:
            return
        entry = {
            "at": self._now(),
            "name": info.name,
            "driver": info.driver,
            "buildkit": info.buildkit,
            "platforms": list(platforms),
        }
        kept = {k: v for k, v in self._read().items() if k != key and isinstance(v, dict)}
        newest = sorted(kept.items(), key=lambda item: -float(item[1].get("at") or 0))
        self._write({key: entry, **dict(newest[: KEEP - 1])})

    def forget(self, key: str) -> None:
        kept = self._read()
        if kept.pop(key, None) is not None:
            self._write(kept)

    def _write(self, answers: dict[str, dict]) -> None:
        jsonfile.write(self.path, answers, indent=1, sort_keys=True)


def contradicts(line: str, info: BuilderInfo) -> bool:
    """Whether a build's output line names another builder or driver than ``info``."""
    found = _BUILDING_WITH.search(line)
    return found is not None and (found["name"], found["driver"]) != (info.name, info.driver)
