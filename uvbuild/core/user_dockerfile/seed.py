"""The user's own Dockerfile, split at its dependency sync.

uvbuild finds the first ``uv sync`` of the Dockerfile (the stage that installs the
project's dependencies) and cuts that stage in three:

- the **system part**: what the stage does before the sync (and the stages it comes
  from), except the copies of the project's own files (pyproject.toml, uv.lock, ...), plus
  the commands chained before the sync in its RUN (``uv python install 3.12 && uv venv``).
  It becomes the stage ``uvbuild-system``, on which the keyed layers are built
  (:mod:`uvbuild.core.user_dockerfile.seed_system`);
- the **prelude**: from the first copy of the project's files up to the sync, unchanged;
- the **sync and the rest**: the sync's RUN from ``uv sync`` on, and everything after it.

The sync's flags and the environment at the sync (ENV, ARG with the given build args,
variables set on the command) decide the selection, the venv, the interpreter and the
bytecode setting, as they decide them for uv (``seed_sync``). What uvbuild cannot prove
safe to split is refused with the Dockerfile line and the way forward (``seed_refusal``).
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from fnmatch import fnmatch
from typing import Any

from uvbuild.core.user_dockerfile.dockerfile_stages import (
    Scope,
    bind_source,
    context_sources,
    secret_mount_kind,
    stage_chain,
    stage_scope,
)
from uvbuild.core.user_dockerfile.dockerfile_text import (
    Instruction,
    ParsedDockerfile,
    Stage,
    expand,
)
from uvbuild.core.user_dockerfile.run_commands import (
    Segment,
    changes_shell_state_only,
    installs_by_pip,
    is_sync,
    leading_assignments,
    run_prefix,
    run_script,
    segments,
    uv_subcommand,
    words,
)
from uvbuild.core.user_dockerfile.seed_refusal import WAY_OUT, refuse
from uvbuild.core.user_dockerfile.seed_sync import SyncSettings, read_sync
from uvbuild.core.user_dockerfile.seed_system import SYSTEM_STAGE, SystemPart, system_part
from uvbuild.errors import ConfigError

# The project's files: copying them starts the prelude (they change with every lock bump,
# and the keyed layers do not read them).
PROJECT_FILES = ("pyproject.toml", "uv.lock", ".python-version", "uv.toml")


@dataclass(frozen=True, slots=True)
class SeedSplit:
    """The user's Dockerfile cut at its dependency sync (see the module's docstring)."""

    path: str
    sync_line: int  # where the sync's RUN starts
    syntax: str | None
    system: SystemPart
    stage_name: str | None  # the sync stage's own name
    prelude: tuple[str, ...]
    sync_run: str  # RUN <its flags> <from `uv sync` on>
    rest: tuple[str, ...]  # everything after the sync's RUN
    flags: Mapping[str, Any]  # plan flags the sync decides (selection, venv, python, ...)
    python_request: str | None  # UV_PYTHON or --python as the sync sees it
    python_downloads: str  # automatic, manual or never
    notes: tuple[str, ...] = field(default=())


def split(
    parsed: ParsedDockerfile,
    build_args: Mapping[str, str] | None = None,
    project_settings: Mapping[str, str] | None = None,
) -> SeedSplit:
    """Cut ``parsed`` at its first ``uv sync`` (see the module's docstring).
    ``project_settings`` are the project's ``[tool.uv]`` settings as the UV_* variables
    that override them: what the sync reads when its environment does not set them."""
    given = dict(build_args or {})
    _refuse_other_frontends(parsed)
    found = _find_sync(parsed)
    _refuse_secret_mounts(parsed.path, found.run)
    chain = stage_chain(parsed, found.stage)
    scope = stage_scope(parsed, chain, found.stage, found.position, given)
    _refuse_other_chaining(parsed.path, found)
    settings = _read_sync_settings(parsed.path, found, scope, project_settings or {})
    body = found.stage.body[: found.position]
    first_input = next(
        (i for i, item in enumerate(body) if _is_project_input(item, scope.all())), len(body)
    )
    cut = _cut_run(found)
    part = system_part(
        parsed, chain, body[:first_input], cut.system_run, given, cut.prefix_commands
    )
    if cut.prefix_sources:
        sources = tuple(dict.fromkeys([*part.context_sources, *cut.prefix_sources]))
        part = replace(part, context_sources=sources)
    return SeedSplit(
        path=parsed.path,
        sync_line=found.run.start,
        syntax=parsed.syntax,
        system=part,
        stage_name=found.stage.name,
        prelude=tuple(item.text for item in body[first_input:]),
        sync_run=cut.sync_run,
        rest=_rest(parsed, found.stage, found.position),
        flags=settings.flags,
        python_request=settings.python_request,
        python_downloads=settings.python_downloads,
        notes=settings.notes,
    )


def explicit_system(
    parsed: ParsedDockerfile, build_args: Mapping[str, str] | None = None
) -> SystemPart | None:
    """The stage named ``uvbuild-system`` of a Dockerfile that uses ``FROM uvbuild-base``
    (the keyed layers are built on it), or None."""
    stage = parsed.stage_named(SYSTEM_STAGE)
    if stage is None:
        return None
    chain = stage_chain(parsed, stage)
    part = system_part(parsed, chain, stage.body, None, dict(build_args or {}))
    # the stage is the user's own: its FROM and name are kept as written
    return replace(part, system_from=stage.start.text)


# -- finding the sync ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _FoundSync:
    stage: Stage
    position: int  # of the RUN in the stage's body
    run: Instruction
    segments: tuple[Segment, ...]
    sync_index: int  # of the segment that is the sync


def _find_sync(parsed: ParsedDockerfile) -> _FoundSync:
    path = parsed.path
    pip_line = None
    for stage in parsed.stages:
        for position, instruction in enumerate(stage.body):
            if instruction.cmd != "RUN":
                continue
            if instruction.heredoc:
                body = instruction.text
                if re.search(r"\buv\s+(?:\S+\s+)*?sync\b", body):
                    raise refuse(path, instruction.start, "the `uv sync` is in a heredoc")
                continue
            script = run_script(instruction)
            commands = segments(script)
            for index, segment in enumerate(commands):
                command = script[segment.start : segment.end]
                if is_sync(command):
                    return _FoundSync(stage, position, instruction, tuple(commands), index)
                if pip_line is None and installs_by_pip(command):
                    pip_line = instruction.start
    if pip_line is not None:
        raise refuse(
            path,
            pip_line,
            "installs with `pip install`/`uv pip install`, not `uv sync`: uvbuild splits a "
            "Dockerfile only at a `uv sync --frozen` of the project",
        )
    raise ConfigError(
        f"{path}: no `uv sync` in any RUN, so uvbuild cannot tell where the dependencies "
        f"are installed; {WAY_OUT}"
    )


def _refuse_other_frontends(parsed: ParsedDockerfile) -> None:
    if parsed.syntax is not None and not parsed.syntax.startswith("docker/dockerfile"):
        raise refuse(
            parsed.path, 1, f"`# syntax={parsed.syntax}` is a frontend uvbuild cannot read"
        )


def _refuse_secret_mounts(path: str, run: Instruction) -> None:
    secret = secret_mount_kind(run)
    if secret is not None:
        raise refuse(
            path,
            run.start,
            f"the sync needs a {secret} mount, and the keyed layers would need it too "
            "(private indexes: tool.uvbuild.index-credentials)",
        )


def _refuse_other_chaining(path: str, found: _FoundSync) -> None:
    """The commands before the sync move to the system part only when the sync runs
    after them whatever they did (``&&``) or regardless (``;``)."""
    before = found.segments[: found.sync_index]
    if before and before[-1].separator not in ("&&", ";"):
        raise refuse(
            path,
            found.run.start,
            f"the `uv sync` follows `{before[-1].separator}`, not `&&` or `;`",
        )


# -- the sync's settings -------------------------------------------------------------------


def _read_sync_settings(
    path: str, found: _FoundSync, scope: Scope, project_settings: Mapping[str, str]
) -> SyncSettings:
    """The sync's options, read with the environment it runs in: the project's settings,
    then the stage's ARG and ENV, then the variables set on the command."""
    script = run_script(found.run)
    sync = found.segments[found.sync_index]
    inline_env, program = leading_assignments(words(script[sync.start : sync.end]))
    _, sync_args = uv_subcommand(program)
    env = {
        **project_settings,
        **scope.all(),
        **{k: expand(v, scope.all()) for k, v in inline_env.items()},
    }
    workdir = scope.workdir
    for segment in found.segments[: found.sync_index]:
        cd = words(script[segment.start : segment.end])
        if cd[:1] == ["cd"] and len(cd) == 2:
            workdir = posixpath.normpath(posixpath.join(workdir, expand(cd[1], env)))
    where = f"{path}:{found.run.start}"
    return read_sync([expand(a, env) for a in sync_args], env, workdir, where)


# -- the cut -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _RunCut:
    """The sync's RUN cut at ``uv sync``."""

    prefix_commands: tuple[str, ...]  # the commands chained before the sync
    system_run: str | None  # the RUN of the system part that runs them, if any work
    prefix_sources: tuple[str, ...]  # the build-context paths that RUN mounts
    sync_run: str  # the RUN from `uv sync` on, after the commands that set shell state


def _cut_run(found: _FoundSync) -> _RunCut:
    run = found.run
    script = run_script(run)
    before = found.segments[: found.sync_index]
    prefix_commands = [script[s.start : s.end].strip() for s in before]
    state = [c for c in prefix_commands if changes_shell_state_only(c)]
    work = [c for c in prefix_commands if c not in state]
    system_run = None
    prefix_sources: list[str] = []
    if work:
        # the commands before the sync move below the copies of the project's files, so
        # the RUN that holds them there mounts what it mounted but those files
        kept = [f for f in run.flags if not _mounts_project_file(f)]
        system_run = " ".join(["RUN", *kept, " && ".join(prefix_commands)])
        prefix_sources = [s for f in kept for s in bind_source(f)]
    if run.json and not before:
        sync_run = run.text
    else:
        tail = script[found.segments[found.sync_index].start :].strip()
        sync_run = f"{run_prefix(run)} " + " && ".join([*state, tail])
    return _RunCut(tuple(prefix_commands), system_run, tuple(prefix_sources), sync_run)


def _is_project_file(source: str) -> bool:
    cleaned = source.rstrip("/") or "."
    if cleaned in (".", "./", "*"):
        return True
    base = posixpath.basename(cleaned)
    return any(fnmatch(name, base) for name in PROJECT_FILES)


def _mounts_project_file(flag: str) -> bool:
    return any(_is_project_file(source) for source in bind_source(flag))


def _is_project_input(instruction: Instruction, env: Mapping[str, str]) -> bool:
    """Whether an instruction copies or mounts the project's files (pyproject.toml,
    uv.lock: they change with every bump, so they start the prelude)."""
    return any(_is_project_file(source) for source in context_sources(instruction, env))


def _rest(parsed: ParsedDockerfile, stage: Stage, position: int) -> tuple[str, ...]:
    """What follows the sync's RUN: the rest of its stage and the later stages; a
    ``--from=N`` that counts stages from the sync's on is refused (uvbuild adds stages)."""
    parts = [item.text for item in stage.body[position + 1 :]]
    for later in parsed.stages[stage.index + 1 :]:
        for item in (later.start, *later.body):
            source = item.flag("from")
            if source is not None and source.isdigit() and int(source) >= stage.index:
                raise refuse(
                    parsed.path,
                    item.start,
                    f"`--from={source}` counts stages, and uvbuild adds stages before it: "
                    "name the stage (`FROM ... AS name`, `--from=name`)",
                )
        parts.append("\n".join([later.start.text, *(item.text for item in later.body)]))
    return tuple(parts)
