"""A parsed ``uv.lock`` mapping -> :class:`uvbuild.core.model.Lock`.

Pure: takes the mapping ``tomllib`` produced (``uvbuild.planner.project_files`` opens the
file) and returns frozen dataclasses, or raises :class:`LockError` naming the file and the
broken field.
Unknown keys are ignored, so newer lock revisions keep working as long as the fields
uvbuild reads keep their meaning.

Supported: ``version = 1`` with ``revision`` absent (0), 1, 2 or 3 (later revisions are
accepted too: uv only adds to a lock within one version).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from uvbuild.core.lock.lock_sources import (
    LockContext,
    as_array,
    as_table,
    canonical,
    opt_str,
    parse_artifact,
    parse_source,
    req_str,
    str_list,
)
from uvbuild.core.model import (
    Artifact,
    ConflictItem,
    Dependency,
    Lock,
    LockedPackage,
    Manifest,
    Requirement,
)
from uvbuild.errors import LockError

SUPPORTED_VERSION = 1

_REQUIREMENT_SOURCE_KEYS = ("index", "git", "url", "path", "directory", "editable", "virtual")

# -- dependencies --------------------------------------------------------------------------


def _named_table(ctx: LockContext, value: Any, key: str) -> tuple[Mapping[str, Any], str]:
    """An edge or requirement table and its ``name``."""
    if not isinstance(value, Mapping):
        raise ctx.fail(f"{key} must be a table")
    name = value.get("name")
    if not isinstance(name, str) or not name:
        raise ctx.fail(f"{key} has no 'name'")
    return value, name


def _extras(ctx: LockContext, value: Any, field: str) -> tuple[str, ...]:
    """The extras an edge or a requirement asks for, normalised; ``field`` names it."""
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(e, str) for e in value):
        raise ctx.fail(f"{field} must be an array of strings")
    return tuple(canonical(e) for e in value)


def _dependency(ctx: LockContext, value: Any, key: str) -> Dependency:
    value, name = _named_table(ctx, value, key)
    marker = value.get("marker")
    if marker is not None and not isinstance(marker, str):
        raise ctx.fail(f"{key} ({name!r}): 'marker' must be a string")
    extras = _extras(ctx, value.get("extra"), f"{key} ({name!r}): 'extra'")
    version = value.get("version")
    if version is not None and not isinstance(version, str):
        raise ctx.fail(f"{key} ({name!r}): 'version' must be a string")
    raw_source = value.get("source")
    source = parse_source(ctx, raw_source, f"{key}.source") if raw_source is not None else None
    return Dependency(
        name=canonical(name), marker=marker or None, extras=extras, version=version, source=source
    )


def _dependencies(ctx: LockContext, value: Any, key: str) -> tuple[Dependency, ...]:
    items = as_array(ctx, value, key)
    return tuple(_dependency(ctx, item, f"{key}[{i}]") for i, item in enumerate(items))


def _named_dependencies(
    ctx: LockContext, value: Any, key: str
) -> tuple[tuple[str, tuple[Dependency, ...]], ...]:
    table = as_table(ctx, value, key)
    out = []
    for group, deps in table.items():
        out.append((canonical(group), _dependencies(ctx, deps, f"{key}.{group}")))
    return tuple(sorted(out))


def _declared(
    named: tuple[tuple[str, tuple[Dependency, ...]], ...], declared: Any
) -> tuple[tuple[str, tuple[Dependency, ...]], ...]:
    """Add the extras/groups ``[package.metadata]`` declares but that lock no dependency.

    uv leaves an empty extra (``cpu = []``) or group out of ``optional-dependencies`` and
    ``dev-dependencies``, yet ``uv sync --extra cpu`` accepts it: keep the name, with no
    dependencies. Nothing else is kept from ``[package.metadata]``.
    """
    if not isinstance(declared, list):
        return named
    known = {name for name, _ in named}
    extra = {canonical(d) for d in declared if isinstance(d, str)} - known
    if not extra:
        return named
    return tuple(sorted([*named, *((name, ()) for name in extra)]))


# -- packages ------------------------------------------------------------------------------


def _package(path: str, index: int, value: Any) -> LockedPackage:
    ctx = LockContext(path, f"package #{index}")
    if not isinstance(value, Mapping):
        raise ctx.fail("must be a table")
    name = value.get("name")
    if not isinstance(name, str) or not name:
        raise ctx.fail("'name' is missing" if name is None else "'name' must be a non-empty string")
    ctx.where = f"package #{index} ({name!r})"
    version = opt_str(ctx, value, "version")
    if "source" not in value:
        raise ctx.fail("'source' is missing")
    source = parse_source(ctx, value["source"])

    sdist = None
    if value.get("sdist") is not None:
        sdist = parse_artifact(ctx, value["sdist"], "sdist", source)
    wheels: tuple[Artifact, ...] = ()
    if value.get("wheels") is not None:
        raw = as_array(ctx, value["wheels"], "wheels")
        wheels = tuple(parse_artifact(ctx, w, f"wheels[{i}]", source) for i, w in enumerate(raw))

    dependencies: tuple[Dependency, ...] = ()
    if value.get("dependencies") is not None:
        dependencies = _dependencies(ctx, value["dependencies"], "dependencies")
    optional: tuple[tuple[str, tuple[Dependency, ...]], ...] = ()
    if value.get("optional-dependencies") is not None:
        optional = _named_dependencies(ctx, value["optional-dependencies"], "optional-dependencies")
    dev: tuple[tuple[str, tuple[Dependency, ...]], ...] = ()
    if value.get("dev-dependencies") is not None:
        dev = _named_dependencies(ctx, value["dev-dependencies"], "dev-dependencies")

    metadata = value.get("metadata")
    if isinstance(metadata, Mapping):
        optional = _declared(optional, metadata.get("provides-extras"))
        requires_dev = metadata.get("requires-dev")
        if isinstance(requires_dev, Mapping):
            dev = _declared(dev, list(requires_dev))

    return LockedPackage(
        name=canonical(name),
        version=version,
        source=source,
        sdist=sdist,
        wheels=wheels,
        dependencies=dependencies,
        optional_dependencies=optional,
        dev_dependencies=dev,
        resolution_markers=str_list(ctx, value, "resolution-markers"),
    )


# -- manifest, conflicts, options ------------------------------------------------------------


def _requirement(ctx: LockContext, value: Any, key: str) -> Requirement:
    value, name = _named_table(ctx, value, key)
    extras = _extras(ctx, value.get("extras", value.get("extra")), f"{key} ({name!r}): 'extras'")
    source = None
    for source_key in _REQUIREMENT_SOURCE_KEYS:
        if source_key in value:
            source = f"{source_key}={value[source_key]}"
            break
    return Requirement(
        name=canonical(name),
        specifier=opt_str(ctx, value, "specifier") or None,
        marker=opt_str(ctx, value, "marker") or None,
        extras=extras,
        source=source,
    )


def _requirements(ctx: LockContext, data: Mapping[str, Any], key: str) -> tuple[Requirement, ...]:
    value = data.get(key)
    if value is None:
        return ()
    items = as_array(ctx, value, f"manifest.{key}")
    return tuple(_requirement(ctx, item, f"manifest.{key}[{i}]") for i, item in enumerate(items))


def _manifest(path: str, value: Any) -> Manifest:
    ctx = LockContext(path, "")
    data = as_table(ctx, value, "manifest")
    members = tuple(sorted(canonical(m) for m in str_list(ctx, data, "members")))
    groups: list[tuple[str, tuple[Requirement, ...]]] = []
    raw_groups = data.get("dependency-groups")
    if raw_groups is not None:
        table = as_table(ctx, raw_groups, "manifest.dependency-groups")
        for group, reqs in table.items():
            key = f"manifest.dependency-groups.{group}"
            items = as_array(ctx, reqs, key)
            groups.append(
                (
                    canonical(group),
                    tuple(_requirement(ctx, r, f"{key}[{i}]") for i, r in enumerate(items)),
                )
            )
    return Manifest(
        members=members,
        requirements=_requirements(ctx, data, "requirements"),
        overrides=_requirements(ctx, data, "overrides"),
        constraints=_requirements(ctx, data, "constraints"),
        build_constraints=_requirements(ctx, data, "build-constraints"),
        dependency_groups=tuple(sorted(groups)),
    )


def _conflicts(path: str, value: Any) -> tuple[tuple[ConflictItem, ...], ...]:
    ctx = LockContext(path, "")
    out = []
    for i, group in enumerate(as_array(ctx, value, "conflicts")):
        items = []
        for j, item in enumerate(as_array(ctx, group, f"conflicts[{i}]")):
            key = f"conflicts[{i}][{j}]"
            data = as_table(ctx, item, key)
            package = req_str(LockContext(path, key), data, "package")
            extra = opt_str(LockContext(path, key), data, "extra")
            group_name = opt_str(LockContext(path, key), data, "group")
            items.append(
                ConflictItem(
                    package=canonical(package),
                    extra=canonical(extra) if extra else None,
                    group=canonical(group_name) if group_name else None,
                )
            )
        out.append(tuple(items))
    return tuple(out)


def _flatten_options(prefix: str, value: Mapping[str, Any], out: list[tuple[str, str]]) -> None:
    for key, item in value.items():
        full = f"{prefix}{key}"
        if isinstance(item, Mapping):
            _flatten_options(f"{full}.", item, out)
        else:
            out.append((full, str(item)))


# -- entry point -----------------------------------------------------------------------------


def parse_lock(data: Mapping[str, Any], path: str = "uv.lock") -> Lock:
    """Turn the ``tomllib`` mapping of a uv.lock into a :class:`Lock`.

    ``path`` only names the file in error messages.
    """
    ctx = LockContext(path, "")
    if not isinstance(data, Mapping):
        raise ctx.fail("not a TOML table")
    version = data.get("version")
    if version is None:
        raise LockError(f"{path}: 'version' is missing; is this a uv.lock? Re-lock with `uv lock`")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise LockError(f"{path}: 'version' must be a positive integer (got {version!r})")
    if version > SUPPORTED_VERSION:
        raise LockError(
            f"{path}: lock format version {version} is newer than uvbuild understands "
            f"(version {SUPPORTED_VERSION}); upgrade uvbuild, or re-lock with an older uv"
        )
    revision = data.get("revision", 0)
    if not isinstance(revision, int) or isinstance(revision, bool) or revision < 0:
        raise ctx.fail(f"'revision' must be a non-negative integer (got {revision!r})")

    requires_python = opt_str(ctx, data, "requires-python")

    raw_packages = data.get("package", [])
    if not isinstance(raw_packages, list):
        raise ctx.fail("'package' must be an array of tables")
    packages = tuple(_package(path, i, p) for i, p in enumerate(raw_packages, start=1))

    manifest = _manifest(path, data["manifest"]) if data.get("manifest") is not None else Manifest()
    conflicts = _conflicts(path, data["conflicts"]) if data.get("conflicts") is not None else ()

    options: list[tuple[str, str]] = []
    if data.get("options") is not None:
        _flatten_options("", as_table(ctx, data["options"], "options"), options)

    return Lock(
        version=version,
        revision=revision,
        requires_python=requires_python,
        packages=packages,
        resolution_markers=str_list(ctx, data, "resolution-markers"),
        supported_markers=str_list(ctx, data, "supported-markers"),
        conflicts=conflicts,
        manifest=manifest,
        options=tuple(sorted(options)),
    )
