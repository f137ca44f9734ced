"""A RUN of the generated Dockerfile: the instruction, its mounts, and the secrets uv reads.

Private indexes: the indexes of ``index-credentials`` get their user name and password as
BuildKit secrets, mounted as files into each RUN that runs uv and exported into uv's
environment inside that RUN's shell only.
"""

from __future__ import annotations

from collections.abc import Iterable

from uvbuild.core.model import BuildPlan
from uvbuild.core.render.credentials import SECRETS_DIR, index_secrets
from uvbuild.core.render.dockerfile_names import HEAVY_CONTEXT, HEAVY_MOUNT, UV_CACHE
from uvbuild.core.render.requirements import HeavyFile


def run_instruction(mounts: list[str], steps: list[str]) -> str:
    """``RUN <mounts> <steps joined with &&>``, one mount or step a line."""
    lines = [*mounts, " && \\\n    ".join(steps)]
    return "RUN " + " \\\n    ".join(lines)


def uv_cache_mount() -> str:
    return f"--mount=type=cache,target={UV_CACHE}"


def requirement_mounts(files: Iterable[HeavyFile]) -> list[str]:
    """One bind mount per requirements file: a stage's cache key then covers its own files
    only, not the other layers' in the same context."""
    return [
        f"--mount=type=bind,from={HEAVY_CONTEXT},source={f.name},target={HEAVY_MOUNT}/{f.name}"
        for f in files
    ]


def secret_mounts(plan: BuildPlan) -> list[str]:
    return [f"--mount=type=secret,id={s.id}" for s in index_secrets(plan)]


def secret_exports(plan: BuildPlan) -> list[str]:
    """Shell steps that give uv the mounted credentials, in this RUN's shell only."""
    return [
        f'if [ -f {s.path} ]; then export {s.env}="$(cat {s.path})"; fi'
        for s in index_secrets(plan)
    ]


def mounted_paths(plan: BuildPlan, *others: str) -> list[str]:
    """Where a base or layer RUN mounts things: uv's cache, ``others``, the secrets."""
    return [UV_CACHE, *others, *([SECRETS_DIR] if plan.credential_indexes else [])]
