"""Reads pyproject.toml and uv.lock and composes the pure steps into a BuildPlan.

This is the only module of the core that opens files; TOML errors become ConfigError or
LockError naming the path.
"""

from __future__ import annotations

import hashlib
import platform as host
import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from packaging.specifiers import InvalidSpecifier, SpecifierSet

from uvbuild.core import dockerfile_text, grouping, hashing, lock, render, seed, selection
from uvbuild.core.config import (
    DEFAULT_PYTHON,
    GENERATED,
    Config,
    load_config,
    normalize_platform,
)
from uvbuild.core.model import (
    BuildPlan,
    Grouping,
    ImageRef,
    LayerGroup,
    Lock,
    Request,
    SelectedPackage,
    Target,
    UserDockerfile,
)
from uvbuild.errors import ConfigError, LockError, short_list

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.10 only
    import tomli as tomllib


@dataclass(frozen=True, slots=True)
class Project:
    """What uvbuild reads from pyproject.toml."""

    dir: Path
    name: str | None
    tool_uvbuild: Mapping[str, Any] | None
    default_groups: tuple[str, ...] | None  # None: every group ("all")
    python_version_file: str | None
    # [[tool.uv.index]] entries that have a name: (name, url)
    indexes: tuple[tuple[str, str], ...] = ()
    # the index uv falls back to: the [[tool.uv.index]] with default = true, else PyPI
    default_index: str = grouping.PYPI_INDEX
    # [tool.uv] settings a sync reads, as the UV_* variables that override them
    uv_settings: tuple[tuple[str, str], ...] = ()


def host_platform() -> str:
    machine = host.machine().lower()
    return "linux/arm64" if machine in ("arm64", "aarch64") else "linux/amd64"


def _read_toml(path: Path, error: type[ConfigError] | type[LockError]) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise
    except UnicodeDecodeError as exc:
        raise error(f"{path}: not UTF-8 text ({_decode_problem(exc)}); fix the file") from exc
    except OSError as exc:
        raise error(f"{path}: cannot read it ({exc})") from exc
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise error(f"{path}: not valid TOML ({exc}); fix the file") from exc
    except ValueError as exc:  # an integer of more digits than Python converts
        reason = str(exc).split("; use sys.")[0]
        raise error(f"{path}: not valid TOML for uvbuild ({reason}); fix the file") from exc
    except RecursionError as exc:
        reason = "nested too deeply"
        raise error(f"{path}: not valid TOML for uvbuild ({reason}); fix the file") from exc
    long_number = _LONG_NUMBER.search(text)
    if long_number:  # in a string: a version, a marker or a file name would fail to parse
        line = text.count("\n", 0, long_number.start()) + 1
        raise error(
            f"{path}:{line}: a number of more than {_MAX_DIGITS} digits, which no version, "
            "marker or size has; fix the file"
        )
    return data


# Python converts no longer digit strings to int (sys.get_int_max_str_digits), nor, then,
# does packaging parse a version, specifier, marker or wheel name that holds one
_MAX_DIGITS = 4300
_LONG_NUMBER = re.compile(f"[0-9]{{{_MAX_DIGITS + 1}}}")


def _decode_problem(exc: UnicodeDecodeError) -> str:
    """``byte 0xff at offset 12``: where the text stops being UTF-8."""
    return f"{exc.reason}: byte 0x{exc.object[exc.start]:02x} at offset {exc.start}"


def read_project(project_dir: Path) -> Project:
    path = project_dir / "pyproject.toml"
    if not project_dir.is_dir():
        raise ConfigError(f"{project_dir}: no such directory; pass the project directory")
    try:
        data = _read_toml(path, ConfigError)
    except FileNotFoundError:
        raise ConfigError(
            f"{path}: not found; run uvbuild in a uv project directory or pass its path"
        ) from None
    project = data.get("project")
    name = project.get("name") if isinstance(project, Mapping) else None
    if project is not None and not isinstance(name, str):
        raise ConfigError(f"{path}: project.name must be a string")
    tool = data.get("tool", {})
    if not isinstance(tool, Mapping):
        raise ConfigError(f"{path}: tool must be a table")
    table = tool.get("uvbuild")
    uv = tool.get("uv", {})
    return Project(
        project_dir,
        name,
        table,
        _default_groups(uv, path),
        _pinned_python(project_dir),
        _named_indexes(uv),
        _default_index(uv),
        _uv_settings(uv),
    )


# [tool.uv] keys that decide what a sync in the user's Dockerfile installs and how, by the
# UV_* variable that overrides each (uv: flag > variable > pyproject)
_UV_KEYS = {
    "compile-bytecode": "UV_COMPILE_BYTECODE",
    "python-downloads": "UV_PYTHON_DOWNLOADS",
    "no-sources": "UV_NO_SOURCES",
    "no-binary": "UV_NO_BINARY",
}


def _uv_settings(uv: Any) -> tuple[tuple[str, str], ...]:
    if not isinstance(uv, Mapping):
        return ()
    found = []
    for key, variable in _UV_KEYS.items():
        value = uv.get(key)
        if isinstance(value, bool):
            found.append((variable, "1" if value else "0"))
        elif isinstance(value, str):
            found.append((variable, value))
    return tuple(found)


def _default_groups(uv: Any, path: Path) -> tuple[str, ...] | None:
    """``tool.uv.default-groups``: the names, None for "all", ("dev",) when not set."""
    if not isinstance(uv, Mapping) or "default-groups" not in uv:
        return ("dev",)
    value = uv["default-groups"]
    if value == "all":
        return None
    if isinstance(value, list) and all(isinstance(g, str) for g in value):
        return tuple(value)
    raise ConfigError(f"{path}: tool.uv.default-groups must be an array of names or 'all'")


def _pinned_python(project_dir: Path) -> str | None:
    """The first line of ``.python-version``, if the project has one."""
    pinned = project_dir / ".python-version"
    if not pinned.is_file():
        return None
    try:
        first = pinned.read_text(encoding="utf-8").strip().splitlines()
    except UnicodeDecodeError as exc:
        raise ConfigError(
            f"{pinned}: not UTF-8 text ({_decode_problem(exc)}); write a version such as 3.11 "
            "in it, or delete it"
        ) from exc
    except OSError as exc:
        raise ConfigError(f"{pinned}: cannot read it ({exc})") from exc
    return first[0].strip() if first else None


def _default_index(uv: Any) -> str:
    """The URL uv falls back to for names no other index serves."""
    entries = uv.get("index", []) if isinstance(uv, Mapping) else []
    for entry in entries if isinstance(entries, list) else []:
        if isinstance(entry, Mapping) and entry.get("default") is True:
            url = entry.get("url")
            if isinstance(url, str):
                return url
    legacy = uv.get("index-url") if isinstance(uv, Mapping) else None
    return legacy if isinstance(legacy, str) else grouping.PYPI_INDEX


def _named_indexes(uv: Any) -> tuple[tuple[str, str], ...]:
    """(name, url) of every ``[[tool.uv.index]]`` entry with both; uv checks the rest."""
    entries = uv.get("index", []) if isinstance(uv, Mapping) else []
    if not isinstance(entries, list):
        return ()
    return tuple(
        (entry["name"], entry["url"])
        for entry in entries
        if isinstance(entry, Mapping)
        and isinstance(entry.get("name"), str)
        and isinstance(entry.get("url"), str)
    )


def credential_indexes(project: Project, config: Config) -> tuple[tuple[str, str], ...]:
    """The (name, url) of each index named by ``index-credentials``."""
    known = dict(project.indexes)
    found = []
    for name in config.index_credentials:
        if name not in known:
            names = short_list(known)
            raise ConfigError(
                f"tool.uvbuild.index-credentials: no [[tool.uv.index]] named {name!r} in "
                f"{project.dir / 'pyproject.toml'} (named indexes: {names})"
            )
        found.append((name, known[name]))
    return tuple(found)


def read_lock(lock_path: Path) -> Lock:
    try:
        data = _read_toml(lock_path, LockError)
    except FileNotFoundError:
        raise LockError(f"{lock_path}: not found; run `uv lock` in the project first") from None
    if not data:
        raise LockError(f"{lock_path}: the file is empty; run `uv lock` to write it again")
    return lock.parse_lock(data, str(lock_path))


def _python_from_file(text: str | None) -> str | None:
    """``.python-version`` may say 3.11, 3.11.9 or cpython-3.11...; keep X.Y when it can."""
    if not text:
        return None
    version = text.removeprefix("cpython-").removeprefix("cpython@").split("-")[0]
    parts = version.split(".")
    if len(parts) >= 2 and parts[0] == "3" and re.fullmatch("[0-9]{1,2}", parts[1]):
        return f"3.{parts[1]}"
    return None


def default_python(requires_python: str | None) -> str:
    """3.11 when the lock allows it, else the oldest 3.x minor it allows."""
    if not requires_python:
        return DEFAULT_PYTHON
    try:
        allowed = SpecifierSet(requires_python)
    except InvalidSpecifier:
        return DEFAULT_PYTHON
    candidates = [DEFAULT_PYTHON, *(f"3.{minor}" for minor in range(8, 20))]
    for candidate in candidates:
        if allowed.contains(f"{candidate}.99") or allowed.contains(f"{candidate}.0"):
            return candidate
    return DEFAULT_PYTHON


def _check_pinned(python: str, requires_python: str | None, origin: Path) -> None:
    """``.python-version``'s Python against the lock's requires-python (uv refuses it too)."""
    try:
        allowed = SpecifierSet(requires_python or "")
    except InvalidSpecifier:
        return  # the lock's own error comes with the selection
    if not allowed.contains(f"{python}.99", prereleases=True):
        raise ConfigError(
            f"{origin}: Python {python} is outside the lock's requires-python "
            f"{requires_python!r}; change the file, or pass --python"
        )


def resolve_config(
    project: Project, flags: Mapping[str, Any] | None, requires_python: str | None = None
) -> Config:
    try:  # the project's own values first, so that their errors name the file
        load_config(project.tool_uvbuild)
    except ConfigError as exc:
        raise ConfigError(f"{project.dir / 'pyproject.toml'}: {exc}") from exc
    config = load_config(project.tool_uvbuild, flags)
    explicit = (project.tool_uvbuild or {}).get("python") or (flags or {}).get("python")
    if not explicit:
        pinned = _python_from_file(project.python_version_file)
        if pinned:
            _check_pinned(pinned, requires_python, project.dir / ".python-version")
        config = replace(config, python=pinned or default_python(requires_python))
    if config.platform is None:
        config = replace(config, platform=host_platform())
    return config


# The Request fields Config holds under the same name (package/packages are merged below).
_SYNC_FIELDS = (
    "all_packages",
    "extras",
    "all_extras",
    "groups",
    "only_groups",
    "no_dev",
    "no_extras",
    "no_groups",
    "all_groups",
    "no_default_groups",
    "dev",
    "only_dev",
)


_SELECTION = (*_SYNC_FIELDS, "package", "packages")


def make_request(config: Config, project: Project, lock_data: Lock) -> Request:
    if project.default_groups is None:  # "all": every group of every package, as uv reads it
        defaults = tuple(
            sorted(
                {g for p in lock_data.packages for g, _ in p.dev_dependencies}
                | {g for g, _ in lock_data.manifest.dependency_groups}
            )
        )
    else:
        defaults = project.default_groups
    if config.package is not None and config.packages:
        raise ConfigError(
            "tool.uvbuild.package and tool.uvbuild.packages are both set; keep one "
            "(packages takes several members)"
        )
    packages = config.packages or ((config.package,) if config.package is not None else ())
    return Request(
        package=packages[0] if packages else None,
        default_groups=defaults,
        packages=packages,
        **{name: getattr(config, name) for name in _SYNC_FIELDS},
    )


def workspace_members(lock_data: Lock, project_dir: Path) -> tuple[str, ...]:
    """Member directories relative to the project, for copying their pyproject.toml."""
    members = set(lock_data.manifest.members)
    dirs = set()
    for package in lock_data.packages:
        if package.name in members and package.source.is_local:
            location = package.source.location.rstrip("/")
            if location not in ("", "."):
                dirs.add(location)
    return tuple(sorted(dirs))


def make_plan(
    project_dir: str | Path,
    flags: Mapping[str, Any] | None = None,
    *,
    lock_path: str | Path | None = None,
    dockerfile: str | Path | None = None,
    build_args: Mapping[str, str] | None = None,
    digests: Mapping[str, str] | None = None,
) -> BuildPlan:
    """The plan of the project at ``project_dir``; ``dockerfile`` is ``--file`` (else
    tool.uvbuild.dockerfile, else the project's Dockerfile if any), ``build_args`` the
    ``--build-arg`` values its ARGs take. ``digests`` (ref -> digest, one for each of the
    plan's ``image_refs``, as :mod:`uvbuild.flow.images` resolves them) go into the keys;
    without them the keys name the images only (see :func:`with_digests`)."""
    root = Path(project_dir).resolve()
    project = read_project(root)
    lock_file = Path(lock_path).resolve() if lock_path else root / "uv.lock"
    lock_data = read_lock(lock_file)
    config = resolve_config(project, flags, lock_data.requires_python)
    user = user_dockerfile(root, config, dockerfile, build_args or {}, project.uv_settings)
    try:
        if user.seed is not None:
            _refuse_selection_flags(flags or {}, user.seed)
            seeded = seed_flags(user.seed)
            config = resolve_config(project, {**(flags or {}), **seeded}, lock_data.requires_python)
            # the sync's selection, exactly: tool.uvbuild's extras or groups (which an empty
            # flag leaves, and a given one extends) would plan packages the sync does not
            # install
            synced = load_config(None, seeded)
            config = replace(config, **{name: getattr(synced, name) for name in _SELECTION})
        return plan_from(project, config, lock_data, str(lock_file), digests, user)
    except ConfigError as exc:
        raise _with_origin(exc, flags or {}, project, user) from exc


def _with_origin(
    exc: ConfigError, flags: Mapping[str, Any], project: Project, user: UserDockerfile
) -> ConfigError:
    """``exc`` as it is, or, when it names a uv sync flag (``--extra x: ...``) that the
    command line did not give, with where the value came from: the user's ``uv sync``, else
    pyproject.toml."""
    message = str(exc)
    flag = message.split(" ", 1)[0].rstrip(":")
    if not flag.startswith("--"):
        return exc
    field = {v: k for k, v in _SELECTION_FLAGS.items()}.get(flag, flag[2:].replace("-", "_"))
    if flags.get(field) not in (None, ()) or (field == "packages" and flags.get("package")):
        return exc
    if user.seed is not None:
        return ConfigError(f"{user.seed.path}:{user.seed.sync_line}: its `uv sync` {message}")
    return ConfigError(f"{project.dir / 'pyproject.toml'}: [tool.uvbuild] {message}")


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
        sources = _context_digests(root, system.context_sources) if system else ()
        return UserDockerfile(str(candidate), "base", system, None, sources)
    split = seed.split(parsed, build_args, dict(uv_settings))
    sources = _context_digests(root, split.system.context_sources)
    return UserDockerfile(str(candidate), "seed", split.system, split, sources)


# the uv sync flag of each selection field whose name is not the flag's
_SELECTION_FLAGS = {
    "extras": "--extra",
    "no_extras": "--no-extra",
    "groups": "--group",
    "no_groups": "--no-group",
    "only_groups": "--only-group",
    "packages": "--package",
}


def _refuse_selection_flags(flags: Mapping[str, Any], split: seed.SeedSplit) -> None:
    """uvbuild's selection flags have no say over a Dockerfile built as it is: its own
    ``uv sync`` installs what it selects, so a flag that would plan otherwise is an error."""
    given = sorted(name for name in _SELECTION if flags.get(name))
    if given:
        flag = _SELECTION_FLAGS.get(given[0], "--" + given[0].replace("_", "-"))
        raise ConfigError(
            f"{flag}: {split.path} is built as it is, and its `uv sync` on line "
            f"{split.sync_line} decides what is installed: give the selection there (or in "
            "its UV_* settings), not to uvbuild"
        )


def seed_flags(split: seed.SeedSplit) -> dict[str, Any]:
    """The plan flags of a seed Dockerfile: its sync's selection replaces uvbuild's own
    (every selection field is set), and its venv, interpreter and bytecode setting."""
    defaults = {name: Config.__dataclass_fields__[name].default for name in _SYNC_FIELDS}
    return {**defaults, "package": None, "packages": (), **split.flags}


def _context_digests(root: Path, sources: tuple[str, ...]) -> tuple[tuple[str, str], ...]:
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


def _target(config: Config) -> Target:
    glibc = tuple(int(part) for part in config.glibc.split("."))
    return Target(
        platform=normalize_platform(config.platform or host_platform(), "--platform"),
        python=config.python,
        glibc=(glibc[0], glibc[1]),
    )


def _split(
    config: Config, project: Project, selected: tuple[SelectedPackage, ...]
) -> tuple[Grouping, tuple[str, ...]]:
    """Heavy and light as the config's heavy settings decide, and the notes on it."""
    return grouping.split(
        selected,
        patterns=grouping.heavy_patterns(config.heavy, config.heavy_only),
        exclude=config.heavy_exclude,
        threshold=config.heavy_threshold,
        min_size=config.heavy_min_size,
        named=grouping.named_packages(config.heavy, config.heavy_only),
        default_index=project.default_index,
    )


def image_refs(config: Config, user: UserDockerfile | None = None) -> tuple[ImageRef, ...]:
    """The images the keyed stages start from and copy from, each once, with the setting
    that names it: the base image (or, under the user's system part, the images that part
    starts from and copies from) and uv's image, bind-mounted."""
    if user is not None and user.system is not None:
        where = f"{user.path} (its system part)"
        below = tuple(ImageRef(ref, where) for ref in user.system.images)
    else:
        below = (ImageRef(config.resolved_base_image, "--base-image (tool.uvbuild.base-image)"),)
    refs = (*below, ImageRef(config.uv_image, "--uv-image (tool.uvbuild.uv-image)"))
    unique: dict[str, ImageRef] = {}
    for image in refs:
        unique.setdefault(image.ref, image)
    return tuple(unique.values())


def _key_inputs(
    config: Config,
    target: Target,
    refs: tuple[ImageRef, ...],
    digests: Mapping[str, str] | None,
    user: UserDockerfile,
) -> hashing.KeyInputs:
    images: tuple[tuple[str, str], ...] = ()
    if digests is not None:
        missing = [image.ref for image in refs if not digests.get(image.ref)]
        if missing:
            raise ValueError(f"no digest for {', '.join(missing)}")
        images = tuple(sorted((image.ref, digests[image.ref]) for image in refs))
    return hashing.KeyInputs(
        platform=target.platform,
        python=target.python,
        base_image=seed.SYSTEM_STAGE if user.system else config.resolved_base_image,
        uv_image=config.uv_image,
        venv=config.venv,
        compile_bytecode=config.compile_bytecode,
        python_downloads=_python_downloads(config, user),
        system=_system_inputs(user),
        images=images,
    )


@dataclass(frozen=True, slots=True)
class _Keys:
    layers: tuple[LayerGroup, ...]
    key: str
    tag: str
    document: str
    light_layers: tuple[LayerGroup, ...] = ()


def _keyed_layers(
    layers: tuple[LayerGroup, ...], inputs: hashing.KeyInputs
) -> tuple[LayerGroup, ...]:
    return tuple(
        replace(group, key=hashing.base_key(hashing.layer_document(group, inputs)))
        for group in layers
    )


def _keys(
    split: Grouping,
    layers: tuple[LayerGroup, ...],
    inputs: hashing.KeyInputs,
    repo: str,
    light_layers: tuple[LayerGroup, ...] = (),
) -> _Keys:
    """Each layer group's key, then the base key over the heavy ones, its tag and document.
    The light layers are keyed the same way; they sit above the base and are not in its
    key."""
    keyed = _keyed_layers(layers, inputs)
    document = hashing.key_document(split.heavy, inputs, keyed)
    key = hashing.base_key(document)
    text = hashing.canonical_bytes(document).decode()
    light = _keyed_layers(light_layers, inputs)
    return _Keys(keyed, key, hashing.base_tag(repo, key), text, light)


def with_digests(plan: BuildPlan, digests: Mapping[str, str]) -> BuildPlan:
    """``plan`` keyed on the digests of its ``image_refs`` (ref -> digest, extra refs
    ignored): the layer keys, the base key, its tag and document move with them. Pure: the
    plan's own grouping and layers are re-keyed, no file is read again."""
    inputs = _key_inputs(plan.config, plan.target, plan.image_refs, digests, plan.dockerfile)
    keys = _keys(plan.grouping, plan.layers, inputs, plan.base_repo, plan.light_layers)
    return replace(
        plan,
        layers=keys.layers,
        light_layers=keys.light_layers,
        key=keys.key,
        tag=keys.tag,
        key_document=keys.document,
        digests=inputs.images,
        provisional=None,
    )


def _unknown_size_note(split: Grouping) -> tuple[str, ...]:
    unknown = [c.selected.name for c in split.heavy if c.selected.size is None]
    if not unknown:
        return ()
    return (
        f"size unknown for {len(unknown)} heavy package(s) (the lock records none): "
        + short_list(unknown),
    )


def _python_downloads(config: Config, user: UserDockerfile) -> str:
    """Whether the keyed stages may install Python: as the user's sync may (seed), else
    as tool.uvbuild.python-downloads says."""
    return user.seed.python_downloads if user.seed is not None else config.python_downloads


def _system_inputs(user: UserDockerfile) -> tuple[str, ...]:
    """The key's lines for the user's system part (empty without one)."""
    if user.system is None:
        return ()
    lines = [f"mode {user.mode}", *user.system.recipe]
    lines += [f"context {source} sha256:{digest}" for source, digest in user.context_digests]
    if user.seed is not None:
        split = user.seed
        lines.append(f"python {split.python_request or ''} downloads {split.python_downloads}")
    return tuple(lines)


def _light_layers(
    config: Config, user: UserDockerfile, split: Grouping, heavy_groups: tuple[LayerGroup, ...]
) -> tuple[tuple[LayerGroup, ...], tuple[str, ...]]:
    """The light packages' keyed layers (grouping.pool_layers) and their notes. A
    Dockerfile that uses ``FROM uvbuild-base`` runs its own sync on the base: nothing of
    uvbuild's sits between them, so there every light package stays in that sync."""
    if user.mode == "base":
        return (), ()
    groups, _pool, notes = grouping.pool_layers(
        split.light,
        threshold=config.pool_threshold,
        taken=[group.name for group in heavy_groups],
    )
    return groups, notes


def plan_from(
    project: Project,
    config: Config,
    lock_data: Lock,
    lock_path: str,
    digests: Mapping[str, str] | None = None,
    user: UserDockerfile | None = None,
) -> BuildPlan:
    user = user or UserDockerfile()
    target = _target(config)
    request = make_request(config, project, lock_data)
    selected = selection.select(
        lock_data, request, target, project=project.name, lock_file=lock_path
    )
    split, notes = _split(config, project, selected)
    refs = image_refs(config, user)
    inputs = _key_inputs(config, target, refs, digests, user)
    groups, layer_notes = grouping.layer_groups(
        split.heavy, mode=config.layer_mode, layout=config.layers, limit=config.layer_limit
    )
    light_groups, pool_notes = _light_layers(config, user, split, groups)
    repo = config.base_repo or hashing.default_base_repo(project.name or project.dir.name)
    keys = _keys(split, groups, inputs, repo, light_groups)
    notes = (*notes, *(s.unavailable for s in selected if s.unavailable), *layer_notes)
    notes = (*notes, *pool_notes)
    if user.seed is not None:
        notes = (*notes, *user.seed.notes)
    if config.layer_mode == "single" and config.layers is not None:
        notes = (*notes, 'layer-mode is "single": tool.uvbuild.layers is not used')
    return BuildPlan(
        project_dir=str(project.dir),
        project_name=project.name,
        lock_path=lock_path,
        config=config,
        target=target,
        request=request,
        selected=selected,
        grouping=split,
        key=keys.key,
        tag=keys.tag,
        key_document=keys.document,
        members=workspace_members(lock_data, project.dir),
        notes=(*notes, *_unknown_size_note(split)),
        layers=keys.layers,
        layer_mode=config.layer_mode,
        light_layers=keys.light_layers,
        light_stages=tuple(
            tuple(group.name for group in stage)
            for stage in grouping.light_stages(light_groups, threshold=config.pool_threshold)
        ),
        credential_indexes=credential_indexes(project, config),
        image_refs=refs,
        digests=inputs.images,
        dockerfile=user,
    )


def check_installable(plan: BuildPlan) -> None:
    """Raise ConfigError when uv could not install a selected package on the plan's target
    (no wheel fits and no sdist to build), before anything reaches Docker.

    ``plan`` only notes these packages; ``build``, ``bake`` and ``dockerfile`` call this.
    """
    missing = plan.unavailable
    if not missing:
        return
    first = missing[0].unavailable or f"{missing[0].name} cannot be installed"
    more = ""
    if len(missing) > 1:
        others = short_list(s.name for s in missing[1:])
        more = f" (also {others})"
    raise ConfigError(f"{plan.lock_path}: {first}{more}")


def read_dockerfile(path: Path) -> str:
    """The text of the user's Dockerfile at ``path`` (the flow decides whether to use it)."""
    if not path.is_file():
        raise ConfigError(f"{path} does not exist")
    return path.read_text(encoding="utf-8", errors="replace")
