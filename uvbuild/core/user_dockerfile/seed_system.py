"""The system part of a user's Dockerfile: the stage ``uvbuild-system`` the keyed layers
are built on (what the sync's stage does before the project's files arrive, and the stages
it comes from), with the images and build-context paths it reads and the recipe its key
sees."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from uvbuild.core.user_dockerfile.dockerfile_stages import (
    Scope,
    context_sources,
    global_args,
    references,
    stage_chain,
)
from uvbuild.core.user_dockerfile.dockerfile_text import (
    Instruction,
    ParsedDockerfile,
    Stage,
    expand,
)
from uvbuild.core.user_dockerfile.run_commands import commands, creates_venv, installs_python

SYSTEM_STAGE = "uvbuild-system"


@dataclass(frozen=True, slots=True)
class SystemPart:
    """What the keyed layers are built on: a stage ``uvbuild-system`` and what it needs."""

    head: tuple[str, ...]  # global ARGs and the earlier stages, as written
    system_from: str  # the FROM of uvbuild-system
    system: tuple[str, ...]  # its instructions, as written
    system_run: str | None  # RUN <flags> <the commands chained before the sync>
    args: tuple[str, ...]  # its ARGs (re-declared in the stages uvbuild adds)
    creates_venv: bool  # it runs `uv venv` (or `python -m venv`)
    installs_python: bool  # it runs `uv python install`
    images: tuple[str, ...]  # images it starts from or copies from, ARGs expanded
    context_sources: tuple[str, ...]  # build-context paths it copies or mounts
    recipe: tuple[str, ...]  # its instructions as the key sees them


def system_part(
    parsed: ParsedDockerfile,
    chain: Sequence[Stage],
    system: Sequence[Instruction],
    system_run: str | None,
    given: Mapping[str, str],
    prefix_commands: Sequence[str] = (),
) -> SystemPart:
    """The system part made of ``system``, the first instructions of the last stage of
    ``chain``, then ``system_run``: ``prefix_commands``, the commands it runs."""
    stage = chain[-1]
    referenced = _referenced_stages(parsed, chain, system)
    images, sources, recipe = _system_inputs(parsed, referenced, chain, system, system_run, given)
    shell_commands = [c for item in system if item.cmd == "RUN" for c in commands(item)]
    shell_commands += prefix_commands
    return SystemPart(
        head=_head(parsed, stage),
        system_from=_system_from(stage),
        system=tuple(item.text for item in system),
        system_run=system_run,
        args=tuple(item.text for item in system if item.cmd == "ARG"),
        creates_venv=any(creates_venv(c) for c in shell_commands),
        installs_python=any(installs_python(c) for c in shell_commands),
        images=images,
        context_sources=sources,
        recipe=recipe,
    )


def _head(parsed: ParsedDockerfile, stage: Stage) -> tuple[str, ...]:
    parts = [item.text for item in parsed.globals]
    for earlier in parsed.stages[: stage.index]:
        parts.append("\n".join([earlier.start.text, *(item.text for item in earlier.body)]))
    return tuple(parts)


def _system_from(stage: Stage) -> str:
    words = ["FROM", *stage.start.flags, stage.base, "AS", SYSTEM_STAGE]
    return " ".join(words)


def _referenced_stages(
    parsed: ParsedDockerfile, chain: Sequence[Stage], system: Sequence[Instruction]
) -> list[Stage]:
    """The earlier stages the system part builds on or copies from, in file order."""
    wanted: dict[int, Stage] = {s.index: s for s in chain[:-1]}
    pending = [ref for item in system for ref in references(item)]
    for stage in chain[:-1]:
        pending += [ref for item in stage.body for ref in references(item)]
    while pending:
        ref = pending.pop()
        stage = parsed.stage_named(ref)
        if stage is None or stage.index in wanted:
            continue
        for member in stage_chain(parsed, stage):
            if member.index not in wanted:
                wanted[member.index] = member
                pending += [r for item in member.body for r in references(item)]
    return [wanted[i] for i in sorted(wanted)]


def _system_inputs(
    parsed: ParsedDockerfile,
    referenced: Sequence[Stage],
    chain: Sequence[Stage],
    system: Sequence[Instruction],
    system_run: str | None,
    build_args: Mapping[str, str],
) -> tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]:
    """(images, build-context sources, recipe) of the system part.

    The recipe is what BuildKit's cache would key the same steps on: each instruction as
    written, with the variables that instruction can see (for a RUN: the ARG values in
    its environment, as BuildKit's cache key includes them).
    """
    args = global_args(parsed, build_args)
    images: list[str] = []
    sources: list[str] = []
    recipe: list[str] = [f"ARG {name}={value}" for name, value in sorted(args.items())]
    sync_stage = chain[-1]
    for stage in [*referenced, sync_stage]:
        scope = Scope({}, {})
        base = expand(stage.base, args)
        if parsed.stage_named(base) is None and base != "scratch":
            images.append(base)
        recipe.append(f"FROM {' '.join(stage.start.flags)} {base} (stage {stage.index})")
        body = system if stage is sync_stage else stage.body
        for item in body:
            scope.apply(item, build_args)
            seen = scope.all()
            for ref in references(item):
                ref = expand(ref, seen)
                if parsed.stage_named(ref) is None:
                    images.append(ref)
            sources += context_sources(item, seen)
            recipe.append(_recipe_line(item, scope, seen))
    if system_run is not None:
        recipe.append(system_run)
    return tuple(dict.fromkeys(images)), tuple(dict.fromkeys(sources)), tuple(recipe)


def _recipe_line(item: Instruction, scope: Scope, seen: Mapping[str, str]) -> str:
    """An instruction as the key sees it: a RUN as written with the ARG values in its
    environment, another with the variables it sees expanded."""
    if item.cmd == "RUN":
        args = " ".join(f"{k}={v}" for k, v in sorted(scope.args.items()))
        return f"{item.text} [args: {args}]"
    return expand(item.text, seen)
