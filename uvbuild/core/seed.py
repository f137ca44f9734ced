"""The user's own Dockerfile, split at its dependency sync.

uvbuild finds the first ``uv sync`` of the Dockerfile (the stage that installs the
project's dependencies) and cuts that stage in three:

- the **system part**: what the stage does before the sync (and the stages it comes
  from), except the copies of the project's own files (pyproject.toml, uv.lock, ...), plus
  the commands chained before the sync in its RUN (``uv python install 3.12 && uv venv``).
  It becomes the stage ``uvbuild-system``, on which the keyed layers are built;
- the **prelude**: from the first copy of the project's files up to the sync, unchanged;
- the **sync and the rest**: the sync's RUN from ``uv sync`` on, and everything after it.

The sync's flags and the environment at the sync (ENV, ARG with the given build args,
variables set on the command) decide the selection, the venv, the interpreter and the
bytecode setting, as they decide them for uv. What uvbuild cannot prove safe to split
is refused with the Dockerfile line and the way forward.
"""

from __future__ import annotations

import posixpath
import re
import shlex
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from fnmatch import fnmatch
from typing import Any

from uvbuild.core.dockerfile_text import (
    Instruction,
    ParsedDockerfile,
    Stage,
    assignments,
    evaluate,
    expand,
)
from uvbuild.errors import ConfigError

SYSTEM_STAGE = "uvbuild-system"
# The project's files: copying them starts the prelude (they change with every lock bump,
# and the keyed layers do not read them).
PROJECT_FILES = ("pyproject.toml", "uv.lock", ".python-version", "uv.toml")
_WAY_OUT = (
    "start the Python stage with `FROM uvbuild-base` (on a stage named `uvbuild-system`), "
    'or set tool.uvbuild.dockerfile = "generated"'
)
_TRUE = {"1", "true", "yes", "on", "y", "t"}
_FALSE = {"0", "false", "no", "off", "n", "f", ""}
# Commands that only change the shell's state: kept before the sync when the commands
# before it move to the system part.
_STATE_COMMANDS = {"cd", "export", "set", "source", ".", "umask", "pushd", "shopt"}


# -- the result --------------------------------------------------------------------------


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


def _refuse(path: str, line: int, why: str) -> ConfigError:
    return _refuse_at(f"{path}:{line}", why)


def _refuse_at(where: str, why: str) -> ConfigError:
    """``where`` is ``<path>:<line>``; every refusal ends with the way forward."""
    return ConfigError(f"{where}: {why}; {_WAY_OUT}")


# -- RUN commands ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Segment:
    start: int  # offset of the command in the RUN's shell text
    end: int
    separator: str  # what follows it: &&, ||, ;, |, & or "" at the end


def _segments(script: str) -> list[_Segment]:
    """The top-level commands of a shell command line, with their offsets (quotes,
    escapes, ``$(...)`` and backticks are stepped over)."""
    segments: list[_Segment] = []
    start = 0
    quote = ""
    depth = 0
    i = 0
    while i < len(script):
        char = script[i]
        if quote:
            if char == "\\" and quote == '"':
                i += 2
                continue
            if char == quote:
                quote = ""
        elif char == "\\":
            i += 2
            continue
        elif char in "'\"`":
            quote = char
        elif char == "(":
            depth += 1
        elif char == ")":
            depth = max(depth - 1, 0)
        elif depth == 0 and char in ";&|\n":
            two = script[i : i + 2]
            separator = two if two in ("&&", "||") else char
            segments.append(_Segment(start, i, separator.strip() or ";"))
            i += len(separator)
            start = i
            continue
        i += 1
    segments.append(_Segment(start, len(script), ""))
    return [s for s in segments if script[s.start : s.end].strip()]


def _words(command: str) -> list[str]:
    try:
        return shlex.split(command, comments=True)
    except ValueError:
        return command.split()


def _command_words(words: list[str]) -> tuple[dict[str, str], list[str]]:
    """Leading ``NAME=value`` assignments of a simple command, and the rest."""
    env: dict[str, str] = {}
    index = 0
    while index < len(words) and re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*=.*", words[index]):
        name, _, value = words[index].partition("=")
        env[name] = value
        index += 1
    return env, words[index:]


def _uv_subcommand(words: list[str]) -> tuple[str | None, list[str]]:
    """For ``uv [global options] <sub> args``: (sub, args); (None, []) for another command."""
    if not words or posixpath.basename(words[0]) != "uv":
        return None, []
    rest = words[1:]
    while rest and rest[0].startswith("-"):
        rest = rest[1:]
    if not rest:
        return None, []
    return rest[0], rest[1:]


def _is_sync(command: str) -> bool:
    return _uv_subcommand(_command_words(_words(command))[1])[0] == "sync"


def _installs_by_pip(command: str) -> bool:
    _, words = _command_words(_words(command))
    sub, args = _uv_subcommand(words)
    if sub == "pip" and args[:1] == ["install"]:
        return True
    return bool(words) and posixpath.basename(words[0]).startswith("pip") and "install" in words


def _run_script(instruction: Instruction) -> str:
    if instruction.json:
        return shlex.join(instruction.value)
    return instruction.value[0] if instruction.value else ""


def _run_prefix(instruction: Instruction) -> str:
    return " ".join(["RUN", *instruction.flags])


# -- sync flags --------------------------------------------------------------------------

# uv sync flags that take a value, and what they set in the plan (None: nothing uvbuild
# plans depends on it)
_VALUE_FLAGS: dict[str, str | None] = {
    "--extra": "extras",
    "--no-extra": "no_extras",
    "--group": "groups",
    "--no-group": "no_groups",
    "--only-group": "only_groups",
    "--package": "packages",
    "--python": "python",
    "-p": "python",
    "--link-mode": None,
    "--no-install-package": None,
    "--index-url": None,
    "-i": None,
    "--extra-index-url": None,
    "--default-index": None,
    "--index": None,
    "--find-links": None,
    "--cache-dir": None,
    "--python-preference": None,
    "--color": None,
    "--index-strategy": None,
    "--keyring-provider": None,
    "--refresh-package": None,
    "--reinstall-package": None,
    "--config-setting": None,
    "-C": None,
    "--allow-insecure-host": None,
    "--exclude-newer": None,
    "--config-file": None,
    "--prerelease": None,
    "--resolution": None,
    "--fork-strategy": None,
}
_BOOL_FLAGS: dict[str, str | None] = {
    "--all-extras": "all_extras",
    "--all-groups": "all_groups",
    "--no-default-groups": "no_default_groups",
    "--dev": "dev",
    "--no-dev": "no_dev",
    "--only-dev": "only_dev",
    "--all-packages": "all_packages",
    "--compile-bytecode": "compile_bytecode",
    "--no-compile-bytecode": "no_compile_bytecode",
    "--no-python-downloads": "no_python_downloads",
}
_HARMLESS = {
    "--frozen",
    "--locked",
    "--inexact",
    "--exact",
    "--no-install-project",
    "--no-install-workspace",
    "--no-install-local",
    "--no-editable",
    "--no-cache",
    "-n",
    "--offline",
    "--quiet",
    "-q",
    "-qq",
    "--verbose",
    "-v",
    "-vv",
    "--no-progress",
    "--native-tls",
    "--system-certs",
    "--managed-python",
    "--no-managed-python",
    "--refresh",
    "--reinstall",
    "--no-build-isolation",
    "--no-build",
    "--no-config",
    "--preview",
    "--no-python-downloads",
    "--allow-python-downloads",
}
_REFUSED = {
    "--no-sources": "installs other sources than the lock's",
    "--no-binary": "builds packages from source where the keyed layers install wheels",
    "--no-binary-package": "builds packages from source where the keyed layers install wheels",
    "--directory": "syncs another directory than the one its stage works in",
    "--project": "syncs another project than the build context's",
    "--script": "syncs a script, not the project",
    "--active": "syncs whatever environment is active",
    "--dry-run": "installs nothing",
    "--check": "installs nothing",
}


def _sync_options(args: list[str], where: str) -> dict[str, list[str] | bool]:
    """The options of ``uv sync`` by plan field; refuses what cannot be split safely."""
    found: dict[str, list[str] | bool] = {}
    index = 0
    while index < len(args):
        arg = args[index]
        index += 1
        name, sep, inline = arg.partition("=") if arg.startswith("--") else (arg, "", "")
        if name in _REFUSED:
            raise _refuse_at(where, f"`uv sync {name}` {_REFUSED[name]}")
        if name in _VALUE_FLAGS:
            if sep:
                value = inline
            elif index < len(args):
                value = args[index]
                index += 1
            else:
                raise _refuse_at(where, f"`uv sync {name}` needs a value")
            target = _VALUE_FLAGS[name]
            if target is not None:
                found.setdefault(target, [])
                assert isinstance(found[target], list)
                found[target].append(value)  # type: ignore[union-attr]
            continue
        if name in _BOOL_FLAGS:
            target = _BOOL_FLAGS[name]
            if target is not None:
                found[target] = True
            continue
        if name in _HARMLESS:
            continue
        raise _refuse_at(
            where,
            f"`uv sync {arg}` is an option uvbuild cannot read"
            + ("" if arg.startswith("-") else " (uv sync takes no arguments)"),
        )
    return found


def _truthy(value: str | None) -> bool | None:
    if value is None:
        return None
    lowered = value.strip().lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    return None


def python_version(request: str) -> str | None:
    """The X.Y an interpreter request names (``3.11``, ``python3.11``, ``cpython-3.11.9``)."""
    match = re.search(r"(?<![\d.])(\d+)\.(\d+)(?:\.\d+)?", request)
    return f"{match.group(1)}.{match.group(2)}" if match else None


def _plan_flags(
    options: Mapping[str, list[str] | bool], env: Mapping[str, str], workdir: str, where: str
) -> tuple[dict[str, Any], str | None, str, tuple[str, ...]]:
    """(plan flags, interpreter request, python downloads, notes) for the sync."""
    flags: dict[str, Any] = {}
    for name in ("extras", "no_extras", "groups", "no_groups", "only_groups"):
        if name in options:
            flags[name] = tuple(options[name])  # type: ignore[arg-type]
    for name in ("all_extras", "all_groups", "no_default_groups", "only_dev", "all_packages"):
        if options.get(name):
            flags[name] = True
    if options.get("dev"):
        flags["dev"] = True
    if options.get("no_dev") or _truthy(env.get("UV_NO_DEV")):
        flags["no_dev"] = True
    if _truthy(env.get("UV_NO_DEFAULT_GROUPS")):
        flags["no_default_groups"] = True
    packages = options.get("packages")
    if isinstance(packages, list):
        if len(packages) == 1:
            flags["package"] = packages[0]
        else:
            flags["packages"] = tuple(packages)
    compile_env = _truthy(env.get("UV_COMPILE_BYTECODE"))
    flags["compile_bytecode"] = bool(
        (options.get("compile_bytecode") or compile_env) and not options.get("no_compile_bytecode")
    )
    venv = env.get("UV_PROJECT_ENVIRONMENT") or ".venv"
    flags["venv"] = posixpath.normpath(posixpath.join(workdir, venv))
    request = None
    python = options.get("python")
    if isinstance(python, list):
        request = python[-1]
    elif env.get("UV_PYTHON"):
        request = env["UV_PYTHON"]
    notes: list[str] = []
    if request is not None:
        version = python_version(request)
        if version is None:
            notes.append(
                f"{where}: the interpreter {request!r} names no version: the plan assumes "
                "the project's (.python-version, requires-python); pass --python X.Y if it differs"
            )
        else:
            flags["python"] = version
    downloads = (env.get("UV_PYTHON_DOWNLOADS") or "automatic").strip().lower()
    if options.get("no_python_downloads") or _truthy(env.get("UV_PYTHON_DOWNLOADS")) is False:
        downloads = "never"
    for refused, why in (
        ("UV_NO_SOURCES", "installs other sources than the lock's"),
        ("UV_NO_BINARY", "builds packages from source where the keyed layers install wheels"),
    ):
        if _truthy(env.get(refused)):
            raise _refuse_at(where, f"{refused} is set: the sync {why}")
    for moved in ("UV_PROJECT", "UV_WORKING_DIR"):
        if env.get(moved):
            raise _refuse_at(where, f"{moved} is set: the sync syncs another directory")
    return flags, request, downloads, tuple(notes)


# -- stages, variables and what the system part reads -----------------------------------


@dataclass
class _Scope:
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


def _global_args(parsed: ParsedDockerfile, build_args: Mapping[str, str]) -> dict[str, str]:
    scope = _Scope({}, {})
    for instruction in parsed.globals:
        scope.apply(instruction, build_args)
    return scope.args


def _stage_chain(parsed: ParsedDockerfile, stage: Stage) -> list[Stage]:
    """The stage and the stages it is FROM, bottom first."""
    chain = [stage]
    seen = {stage.index}
    while True:
        parent = parsed.stage_named(chain[-1].base)
        if parent is None or parent.index >= chain[-1].index or parent.index in seen:
            return list(reversed(chain))
        seen.add(parent.index)
        chain.append(parent)


def _stage_scope(
    parsed: ParsedDockerfile,
    chain: Sequence[Stage],
    stop: Stage,
    stop_at: int,
    build_args: Mapping[str, str],
) -> _Scope:
    """ARG/ENV/WORKDIR along ``chain`` up to (not including) ``stop``'s instruction
    ``stop_at``: ENV and WORKDIR carry over FROM a stage, ARGs do not."""
    global_args = _global_args(parsed, build_args)
    scope = _Scope({}, {})
    for stage in chain:
        scope = _Scope({}, scope.env, scope.workdir)
        # a stage sees a global ARG only once it declares it again (without a default)
        declared = {**global_args}
        for index, instruction in enumerate(stage.body):
            if stage is stop and index >= stop_at:
                break
            if instruction.cmd == "ARG":
                for name, default in assignments(instruction):
                    if default is None and name in declared and name not in build_args:
                        scope.args[name] = declared[name]
                        continue
                    scope.apply(instruction, build_args)
            else:
                scope.apply(instruction, build_args)
    return scope


def _references(instruction: Instruction) -> list[str]:
    """Stages or images an instruction copies or mounts from."""
    found = []
    source = instruction.flag("from")
    if instruction.cmd in ("COPY", "ADD") and source:
        found.append(source)
    if instruction.cmd == "RUN":
        for flag in instruction.flags:
            if flag.startswith("--mount="):
                options = _mount_options(flag)
                if "from" in options:
                    found.append(options["from"])
    return found


def _mount_options(flag: str) -> dict[str, str]:
    options: dict[str, str] = {}
    for part in flag.removeprefix("--mount=").split(","):
        key, sep, value = part.partition("=")
        options[key.strip().lower()] = value if sep else "true"
    return options


def _context_sources(instruction: Instruction, env: Mapping[str, str]) -> list[str]:
    """Build-context paths an instruction reads (COPY/ADD without --from, bind mounts)."""
    if instruction.cmd in ("COPY", "ADD") and not instruction.flag("from"):
        if instruction.heredoc:
            return []
        return [expand(source, env) for source in instruction.value[:-1]]
    if instruction.cmd == "RUN":
        return [source for flag in instruction.flags for source in _bind_source(flag)]
    return []


def _bind_source(flag: str) -> list[str]:
    """The build-context path a ``--mount=type=bind`` flag (without ``from``) mounts."""
    if not flag.startswith("--mount="):
        return []
    options = _mount_options(flag)
    if options.get("type", "bind") != "bind" or "from" in options:
        return []
    return [options.get("source", options.get("src", "."))]


def _is_project_file(source: str) -> bool:
    cleaned = source.rstrip("/") or "."
    if cleaned in (".", "./", "*"):
        return True
    base = posixpath.basename(cleaned)
    return any(fnmatch(name, base) for name in PROJECT_FILES)


def _mounts_project_file(flag: str) -> bool:
    return any(_is_project_file(source) for source in _bind_source(flag))


def _is_project_input(instruction: Instruction, env: Mapping[str, str]) -> bool:
    """Whether an instruction copies or mounts the project's files (pyproject.toml,
    uv.lock: they change with every bump, so they start the prelude)."""
    return any(_is_project_file(source) for source in _context_sources(instruction, env))


def _mounts_needing_secrets(instruction: Instruction) -> str | None:
    for flag in instruction.flags:
        if flag.startswith("--mount="):
            kind = _mount_options(flag).get("type", "bind")
            if kind in ("ssh", "secret"):
                return kind
    return None


@dataclass(frozen=True, slots=True)
class _Found:
    stage: Stage
    position: int  # of the RUN in the stage's body
    run: Instruction
    segments: tuple[_Segment, ...]
    sync_index: int  # of the segment that is the sync


def _find_sync(parsed: ParsedDockerfile) -> _Found:
    path = parsed.path
    pip_line = None
    for stage in parsed.stages:
        for position, instruction in enumerate(stage.body):
            if instruction.cmd != "RUN":
                continue
            if instruction.heredoc:
                body = instruction.text
                if re.search(r"\buv\s+(?:\S+\s+)*?sync\b", body):
                    raise _refuse(path, instruction.start, "the `uv sync` is in a heredoc")
                continue
            script = _run_script(instruction)
            segments = _segments(script)
            for index, segment in enumerate(segments):
                command = script[segment.start : segment.end]
                if _is_sync(command):
                    return _Found(stage, position, instruction, tuple(segments), index)
                if pip_line is None and _installs_by_pip(command):
                    pip_line = instruction.start
    if pip_line is not None:
        raise _refuse(
            path,
            pip_line,
            "installs with `pip install`/`uv pip install`, not `uv sync`: uvbuild splits a "
            "Dockerfile only at a `uv sync --frozen` of the project",
        )
    raise ConfigError(
        f"{path}: no `uv sync` in any RUN, so uvbuild cannot tell where the dependencies "
        f"are installed; {_WAY_OUT}"
    )


# -- the split ---------------------------------------------------------------------------


def split(
    parsed: ParsedDockerfile,
    build_args: Mapping[str, str] | None = None,
    project_settings: Mapping[str, str] | None = None,
) -> SeedSplit:
    """Cut ``parsed`` at its first ``uv sync`` (see the module's docstring).
    ``project_settings`` are the project's ``[tool.uv]`` settings as the UV_* variables
    that override them: what the sync reads when its environment does not set them."""
    given = dict(build_args or {})
    path = parsed.path
    if parsed.syntax is not None and not parsed.syntax.startswith("docker/dockerfile"):
        raise _refuse(path, 1, f"`# syntax={parsed.syntax}` is a frontend uvbuild cannot read")
    found = _find_sync(parsed)
    stage, run = found.stage, found.run
    where = f"{path}:{run.start}"
    secret = _mounts_needing_secrets(run)
    if secret is not None:
        raise _refuse(
            path,
            run.start,
            f"the sync needs a {secret} mount, and the keyed layers would need it too "
            "(private indexes: tool.uvbuild.index-credentials)",
        )
    chain = _stage_chain(parsed, stage)
    scope = _stage_scope(parsed, chain, stage, found.position, given)
    script = _run_script(run)
    segments = found.segments
    sync_segment = segments[found.sync_index]
    before = segments[: found.sync_index]
    if before and before[-1].separator not in ("&&", ";"):
        raise _refuse(
            path, run.start, f"the `uv sync` follows `{before[-1].separator}`, not `&&` or `;`"
        )
    sync_words = _words(script[sync_segment.start : sync_segment.end])
    inline_env, words = _command_words(sync_words)
    _, sync_args = _uv_subcommand(words)
    env = {
        **(project_settings or {}),
        **scope.all(),
        **{k: expand(v, scope.all()) for k, v in inline_env.items()},
    }
    workdir = scope.workdir
    for segment in before:
        cd = _words(script[segment.start : segment.end])
        if cd[:1] == ["cd"] and len(cd) == 2:
            workdir = posixpath.normpath(posixpath.join(workdir, expand(cd[1], env)))
    options = _sync_options([expand(a, env) for a in sync_args], where)
    flags, request, downloads, notes = _plan_flags(options, env, workdir, where)

    body = stage.body[: found.position]
    first_input = next(
        (i for i, item in enumerate(body) if _is_project_input(item, scope.all())), len(body)
    )
    system = body[:first_input]
    prelude = body[first_input:]
    prefix_commands = [script[s.start : s.end].strip() for s in before]
    state = [c for c in prefix_commands if _words(c)[:1] and _words(c)[0] in _STATE_COMMANDS]
    work = [c for c in prefix_commands if c not in state]
    system_run = None
    prefix_sources: list[str] = []
    if work:
        # the commands before the sync move below the copies of the project's files, so
        # the RUN that holds them there mounts what it mounted but those files
        kept = [f for f in run.flags if not _mounts_project_file(f)]
        system_run = " ".join(["RUN", *kept, " && ".join(prefix_commands)])
        prefix_sources = [s for f in kept for s in _bind_source(f)]
    if run.json and not before:
        sync_run = run.text
    else:
        tail = script[sync_segment.start :].strip()
        sync_run = f"{_run_prefix(run)} " + " && ".join([*state, tail])
    part = _system_part(parsed, chain, system, system_run, given, prefix_commands)
    if prefix_sources:
        sources = tuple(dict.fromkeys([*part.context_sources, *prefix_sources]))
        part = replace(part, context_sources=sources)
    return SeedSplit(
        path=path,
        sync_line=run.start,
        syntax=parsed.syntax,
        system=part,
        stage_name=stage.name,
        prelude=tuple(item.text for item in prelude),
        sync_run=sync_run,
        rest=_rest(parsed, stage, found.position),
        flags=flags,
        python_request=request,
        python_downloads=downloads,
        notes=notes,
    )


def explicit_system(
    parsed: ParsedDockerfile, build_args: Mapping[str, str] | None = None
) -> SystemPart | None:
    """The stage named ``uvbuild-system`` of a Dockerfile that uses ``FROM uvbuild-base``
    (the keyed layers are built on it), or None."""
    stage = parsed.stage_named(SYSTEM_STAGE)
    if stage is None:
        return None
    chain = _stage_chain(parsed, stage)
    part = _system_part(parsed, chain, stage.body, None, dict(build_args or {}))
    # the stage is the user's own: its FROM and name are kept as written
    return replace(part, system_from=stage.start.text)


def _system_part(
    parsed: ParsedDockerfile,
    chain: Sequence[Stage],
    system: Sequence[Instruction],
    system_run: str | None,
    given: Mapping[str, str],
    prefix_commands: Sequence[str] = (),
) -> SystemPart:
    stage = chain[-1]
    referenced = _referenced_stages(parsed, chain, system)
    images, sources, recipe = _system_inputs(parsed, referenced, chain, system, system_run, given)
    commands = [c for item in system if item.cmd == "RUN" for c in _commands(item)]
    commands += prefix_commands
    return SystemPart(
        head=_head(parsed, stage),
        system_from=_system_from(stage),
        system=tuple(item.text for item in system),
        system_run=system_run,
        args=tuple(item.text for item in system if item.cmd == "ARG"),
        creates_venv=any(_creates_venv(c) for c in commands),
        installs_python=any(_installs_python(c) for c in commands),
        images=images,
        context_sources=sources,
        recipe=recipe,
    )


def _commands(instruction: Instruction) -> Iterator[str]:
    script = _run_script(instruction)
    for segment in _segments(script):
        yield script[segment.start : segment.end]


def _installs_python(command: str) -> bool:
    _, words = _command_words(_words(command))
    sub, args = _uv_subcommand(words)
    return sub == "python" and args[:1] == ["install"]


def _creates_venv(command: str) -> bool:
    _, words = _command_words(_words(command))
    sub, _ = _uv_subcommand(words)
    return sub == "venv" or (len(words) >= 3 and words[1:3] == ["-m", "venv"])


def _head(parsed: ParsedDockerfile, stage: Stage) -> tuple[str, ...]:
    parts = [item.text for item in parsed.globals]
    for earlier in parsed.stages[: stage.index]:
        parts.append("\n".join([earlier.start.text, *(item.text for item in earlier.body)]))
    return tuple(parts)


def _system_from(stage: Stage) -> str:
    words = ["FROM", *stage.start.flags, stage.base, "AS", SYSTEM_STAGE]
    return " ".join(words)


def _rest(parsed: ParsedDockerfile, stage: Stage, position: int) -> tuple[str, ...]:
    """What follows the sync's RUN: the rest of its stage and the later stages, with a
    ``--from=N`` that counts stages from the sync's on renamed (uvbuild adds stages)."""
    parts = [item.text for item in stage.body[position + 1 :]]
    for later in parsed.stages[stage.index + 1 :]:
        for item in (later.start, *later.body):
            source = item.flag("from")
            if source is not None and source.isdigit() and int(source) >= stage.index:
                raise _refuse(
                    parsed.path,
                    item.start,
                    f"`--from={source}` counts stages, and uvbuild adds stages before it: "
                    "name the stage (`FROM ... AS name`, `--from=name`)",
                )
        parts.append("\n".join([later.start.text, *(item.text for item in later.body)]))
    return tuple(parts)


def _referenced_stages(
    parsed: ParsedDockerfile, chain: Sequence[Stage], system: Sequence[Instruction]
) -> list[Stage]:
    """The earlier stages the system part builds on or copies from, in file order."""
    wanted: dict[int, Stage] = {s.index: s for s in chain[:-1]}
    pending = [ref for item in system for ref in _references(item)]
    for stage in chain[:-1]:
        pending += [ref for item in stage.body for ref in _references(item)]
    while pending:
        ref = pending.pop()
        stage = parsed.stage_named(ref)
        if stage is None or stage.index in wanted:
            continue
        for member in _stage_chain(parsed, stage):
            if member.index not in wanted:
                wanted[member.index] = member
                pending += [r for item in member.body for r in _references(item)]
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
    global_args = _global_args(parsed, build_args)
    images: list[str] = []
    sources: list[str] = []
    recipe: list[str] = [f"ARG {name}={value}" for name, value in sorted(global_args.items())]
    sync_stage = chain[-1]
    for stage in [*referenced, sync_stage]:
        scope = _Scope({}, {})
        base = expand(stage.base, global_args)
        if parsed.stage_named(base) is None and base != "scratch":
            images.append(base)
        recipe.append(f"FROM {' '.join(stage.start.flags)} {base} (stage {stage.index})")
        body = system if stage is sync_stage else stage.body
        for item in body:
            scope.apply(item, build_args)
            seen = scope.all()
            for ref in _references(item):
                ref = expand(ref, seen)
                if parsed.stage_named(ref) is None:
                    images.append(ref)
            sources += _context_sources(item, seen)
            if item.cmd == "RUN":
                args = " ".join(f"{k}={v}" for k, v in sorted(scope.args.items()))
                recipe.append(f"{item.text} [args: {args}]")
            else:
                recipe.append(expand(item.text, seen))
    if system_run is not None:
        recipe.append(system_run)
    return tuple(dict.fromkeys(images)), tuple(dict.fromkeys(sources)), tuple(recipe)
