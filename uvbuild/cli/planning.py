"""How the commands make their plans: one per platform of ``--platform a,b``, refused when
uv could not install them, keyed on the digests of their images, with ``uv lock --check``
run beside the planner."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from uvbuild import planner
from uvbuild.core.model import BuildPlan
from uvbuild.docker.verbs import EngineLike
from uvbuild.flow import images
from uvbuild.flow.platforms import split_platforms
from uvbuild.uvcheck import LockCheck, start_lock_check

Flags = dict[str, Any]


def make_plan(
    path: Path,
    lock_path: Path | None,
    flags: Flags,
    *,
    install: bool = False,
    dockerfile: str | None = None,
    build_args: tuple[tuple[str, str], ...] = (),
) -> BuildPlan:
    """The plan; ``install=True`` (build, bake, dockerfile) also refuses a plan whose
    packages uv could not install on the target, before Docker is involved.
    ``dockerfile`` is ``--file``, ``build_args`` the ``--build-arg`` pairs."""
    the_plan = planner.make_plan(
        path, flags, lock_path=lock_path, dockerfile=dockerfile, build_args=dict(build_args)
    )
    if install:
        planner.check_installable(the_plan)
    return the_plan


def keyed_plans(
    plans: Sequence[BuildPlan],
    engine: EngineLike,
    *,
    pull: bool,
    strict: bool,
    cache: dict[str, str] | None = None,
) -> list[BuildPlan]:
    """The plans keyed on the digests of their images (uvbuild.flow.images), each image
    asked once; ``strict=False``: without an answer, provisional keys."""
    known = cache if cache is not None else {}
    return [images.keyed(p, engine, pull=pull, strict=strict, cache=known) for p in plans]


def platform_list(flags: Flags) -> tuple[str, ...]:
    """The platforms of ``--platform a,b`` (one or none for a single platform)."""
    value = flags.get("platform")
    return split_platforms(value) if value and "," in value else ()


def platform_plans(
    path: Path, lock_path: Path | None, flags: Flags, platforms: tuple[str, ...], **how: Any
) -> list[BuildPlan]:
    """One plan per platform of ``--platform a,b``."""
    return [make_plan(path, lock_path, {**flags, "platform": p}, **how) for p in platforms]


def begin_lock_check(path: Path, lock_path: Path | None) -> Callable[[], LockCheck | None]:
    """Starts ``uv lock --check`` in the background while the plan is made, when PATH's
    uv.lock is the one read; the call returns its answer (None: not checked)."""
    pending = start_lock_check(path) if lock_path is None and path.is_dir() else None
    return pending if pending is not None else lambda: None
