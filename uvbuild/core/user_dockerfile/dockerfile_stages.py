"""What the instructions of a parsed Dockerfile see and read: the ARG, ENV and WORKDIR in
force along a stage and the stages it is FROM, the stages or images an instruction copies
or mounts from, and the build-context paths it reads."""

from __future__ import annotations

import posixpath
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from uvbuild.core.user_dockerfile.dockerfile_text import (
    Instruction,
    ParsedDockerfile,
    Stage,
    assignments,
    evaluate,
    expand,
)

# -- variables and the working directory --------------------------------------------------


# not frozen: it is walked along a stage's instructions, one apply() each
@dataclass
class Scope:
    """ARG and ENV values along a stage, and its working directory."""

    args: dict[str, str]
    env: dict[str, str]
    workdir: str = "/"

    def all(self) -> dict[str, str]:
        return {**self.args, **self.env}

    def apply(self, instruction: Instruction, build_args: Mapping[str, str]) -> None:
        if instruction.cmd == "ARG":
            for name, default in assignments(instruction):
                if name in build_args:
                    self.args[name] = build_args[name]
                elif default is not None:
                    self.args[name] = evaluate(default, self.all())
                # an ARG without a value given or a default stays unset
        elif instruction.cmd == "ENV":
            for name, value in assignments(instruction):
                self.env[name] = evaluate(value or "", self.all())
        elif instruction.cmd == "WORKDIR" and instruction.value:
            target = expand(instruction.value[0], self.all())
            self.workdir = posixpath.normpath(posixpath.join(self.workdir, target))


def global_args(parsed: ParsedDockerfile, build_args: Mapping[str, str]) -> dict[str, str]:
    """The values of the ARGs before the first FROM."""
    scope = Scope({}, {})
    for instruction in parsed.globals:
        scope.apply(instruction, build_args)
    return scope.args


def stage_chain(parsed: ParsedDockerfile, stage: Stage) -> list[Stage]:
    """The stage and the stages it is FROM, bottom first."""
    chain = [stage]
    seen = {stage.index}
    while True:
        parent = parsed.stage_named(chain[-1].base)
        if parent is None or parent.index >= chain[-1].index or parent.index in seen:
            return list(reversed(chain))
        seen.add(parent.index)
        chain.append(parent)


def stage_scope(
    parsed: ParsedDockerfile,
    chain: Sequence[Stage],
    stop: Stage,
    stop_at: int,
    build_args: Mapping[str, str],
) -> Scope:
    """ARG/ENV/WORKDIR along ``chain`` up to (not including) ``stop``'s instruction
    ``stop_at``: ENV and WORKDIR carry over FROM a stage, ARGs do not."""
    declared = global_args(parsed, build_args)
    scope = Scope({}, {})
    for stage in chain:
        scope = Scope({}, scope.env, scope.workdir)
        for index, instruction in enumerate(stage.body):
            if stage is stop and index >= stop_at:
                break
            if instruction.cmd == "ARG":
                _declare(scope, instruction, declared, build_args)
            else:
                scope.apply(instruction, build_args)
    return scope


def _declare(
    scope: Scope,
    instruction: Instruction,
    declared: Mapping[str, str],
    build_args: Mapping[str, str],
) -> None:
    """An ARG in a stage: a stage sees a global ARG only once it declares it again
    (without a default)."""
    for name, default in assignments(instruction):
        if default is None and name in declared and name not in build_args:
            scope.args[name] = declared[name]
            continue
        scope.apply(instruction, build_args)


# -- what an instruction reads -------------------------------------------------------------


def references(instruction: Instruction) -> list[str]:
    """Stages or images an instruction copies or mounts from."""
    found = []
    source = instruction.flag("from")
    if instruction.cmd in ("COPY", "ADD") and source:
        found.append(source)
    if instruction.cmd == "RUN":
        for flag in instruction.flags:
            if flag.startswith("--mount="):
                options = mount_options(flag)
                if "from" in options:
                    found.append(options["from"])
    return found


def mount_options(flag: str) -> dict[str, str]:
    """The options of a ``--mount=`` flag, by lower-case key (a bare key reads "true")."""
    options: dict[str, str] = {}
    for part in flag.removeprefix("--mount=").split(","):
        key, sep, value = part.partition("=")
        options[key.strip().lower()] = value if sep else "true"
    return options


def context_sources(instruction: Instruction, env: Mapping[str, str]) -> list[str]:
    """Build-context paths an instruction reads (COPY/ADD without --from, bind mounts)."""
    if instruction.cmd in ("COPY", "ADD") and not instruction.flag("from"):
        if instruction.heredoc:
            return []
        return [expand(source, env) for source in instruction.value[:-1]]
    if instruction.cmd == "RUN":
        return [source for flag in instruction.flags for source in bind_source(flag)]
    return []


def bind_source(flag: str) -> list[str]:
    """The build-context path a ``--mount=type=bind`` flag (without ``from``) mounts."""
    if not flag.startswith("--mount="):
        return []
    options = mount_options(flag)
    if options.get("type", "bind") != "bind" or "from" in options:
        return []
    return [options.get("source", options.get("src", "."))]


def secret_mount_kind(instruction: Instruction) -> str | None:
    """The kind of an instruction's first ssh or secret mount, else None."""
    for flag in instruction.flags:
        if flag.startswith("--mount="):
            kind = mount_options(flag).get("type", "bind")
            if kind in ("ssh", "secret"):
                return kind
    return None
