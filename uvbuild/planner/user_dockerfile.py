"""Which Dockerfile the build runs, read: none (the generated one), the user's built as it is
(mode "seed": cut at its first ``uv sync``) or the user's on ``FROM uvbuild-base`` (mode
"base", with its own ``uvbuild-system`` stage or none), and the digests of the build-context
files its system part copies or mounts."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from pathlib import Path

from uvbuild.core import render
from uvbuild.core.config import GENERATED, Config
from uvbuild.core.model import UserDockerfile
from uvbuild.core.user_dockerfile import dockerfile_text, seed
from uvbuild.errors import ConfigError


def user_dockerfile(
    root: Path,
    config: Config,
    file_flag: str | Path | None,
    build_args: Mapping[str, str],
    uv_settings: tuple[tuple[str, str], ...] = (),
) -> UserDockerfile:
    """Which Dockerfile the build runs and how uvbuild builds on it (see UserDockerfile)."""
    if file_flag:
        candidate, where = Path(file_flag), "--file"
    elif config.dockerfile == GENERATED:
        return UserDockerfile()
    elif config.dockerfile:
        candidate, where = root / config.dockerfile, "tool.uvbuild.dockerfile"
    elif (root / "Dockerfile").is_file():
        candidate, where = root / "Dockerfile", "the project's Dockerfile"
    else:
        return UserDockerfile()
    try:
        text = read_dockerfile(candidate)
    except ConfigError as exc:
        raise ConfigError(f"{where}: {exc}") from exc
    parsed = dockerfile_text.parse(text, str(candidate))
    if render.uses_base(text):
        system = seed.explicit_system(parsed, build_args)
        sources = context_digests(root, system.context_sources) if system else ()
        return UserDockerfile(str(candidate), "base", system, None, sources)
    split = seed.split(parsed, build_args, dict(uv_settings))
    sources = context_digests(root, split.system.context_sources)
    return UserDockerfile(str(candidate), "seed", split.system, split, sources)


def read_dockerfile(path: Path) -> str:
    """The text of the user's Dockerfile at ``path`` (the flow decides whether to use it)."""
    if not path.is_file():
        raise ConfigError(f"{path} does not exist")
    return path.read_text(encoding="utf-8", errors="replace")


def context_digests(root: Path, sources: tuple[str, ...]) -> tuple[tuple[str, str], ...]:
    """(source, sha256 of every file it names: relative path and bytes) for the build-
    context paths a system part copies or mounts; a source that names nothing hashes as
    "missing" (the build will say so)."""
    digests = []
    for source in sources:
        pattern = source.lstrip("/") or "."
        matches = (
            sorted(root.glob(pattern)) if any(c in pattern for c in "*?[") else [root / pattern]
        )
        digest = hashlib.sha256()
        found = False
        for match in matches:
            files = sorted(match.rglob("*")) if match.is_dir() else [match]
            for file in files:
                if file.is_file():
                    found = True
                    digest.update(str(file.relative_to(root)).encode() + b"\0")
                    digest.update(hashlib.sha256(file.read_bytes()).digest())
        digests.append((source, digest.hexdigest() if found else "missing"))
    return tuple(digests)
