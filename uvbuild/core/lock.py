"""A parsed ``uv.lock`` mapping -> :class:`uvbuild.core.model.Lock`.

Pure: takes the mapping ``tomllib`` produced (``planner.py`` opens the file) and returns
frozen dataclasses, or raises :class:`LockError` naming the file and the broken field.
Unknown keys are ignored, so newer lock revisions keep working as long as the fields
uvbuild reads keep their meaning.

Supported: ``version = 1`` with ``revision`` absent (0), 1, 2 or 3 (later revisions are
accepted too: uv only adds to a lock within one version).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from packaging.utils import canonicalize_name

from uvbuild.core.model import (
    Artifact,
    ConflictItem,
    Dependency,
    Lock,
    LockedPackage,
    Manifest,
    Requirement,
    Source,
)
from uvbuild.errors import LockError

SUPPORTED_VERSION = 1

_SOURCE_KEYS = ("registry", "git", "url", "path", "directory", "editable", "virtual")
_REQUIREMENT_SOURCE_KEYS = ("index", "git", "url", "path", "directory", "editable", "virtual")

_names: dict[str, str] = {}
_sources: dict[tuple[tuple[str, Any], ...], Source] = {}


def _name(value: str) -> str:
    """canonicalize_name, memoised: the same few hundred names repeat thousands of times."""
    try:
        return _names[value]
    except KeyError:
        result = _names[value] = canonicalize_name(value)
        return result


class _Ctx:
    """Where we are in the lock, for error messages."""

    __slots__ = ("path", "where")

    def __init__(self, path: str, where: str) -> None:
        self.path = path
        self.where = where

    def fail(self, message: str) -> LockError:
        prefix = f"{self.path}: {self.where}: " if self.where else f"{self.path}: "
        return LockError(f"{prefix}{message}; re-lock with `uv lock` or report the lock file")


def _table(ctx: _Ctx, value: Any, key: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise ctx.fail(f"{key!r} must be a table")
    return value


def _array(ctx: _Ctx, value: Any, key: str) -> list[Any]:
    if not isinstance(value, list):
        raise ctx.fail(f"{key!r} must be an array")
    return value


def _opt_str(ctx: _Ctx, data: Mapping[str, Any], key: str) -> str | None:
    value = data.get(key)
    if value is None or isinstance(value, str):
        return value
    raise ctx.fail(f"{key!r} must be a string")


def _req_str(ctx: _Ctx, data: Mapping[str, Any], key: str) -> str:
    value = data.get(key)
    if isinstance(value, str) and value:
        return value
    if value is None:
        raise ctx.fail(f"{key!r} is missing")
    raise ctx.fail(f"{key!r} must be a non-empty string")


def _str_list(ctx: _Ctx, data: Mapping[str, Any], key: str) -> tuple[str, ...]:
    value = data.get(key)
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ctx.fail(f"{key!r} must be an array of strings")
    return tuple(value)


# -- sources -------------------------------------------------------------------------------


def parse_git_url(url: str) -> Source:
    """``https://host/x/y?subdirectory=pkg&rev=abc#<commit>`` -> Source(kind="git", ...)."""
    parts = urlsplit(url)
    query = parse_qs(parts.query)

    def first(key: str) -> str | None:
        values = query.get(key)
        return values[0] if values else None

    location = parts._replace(query="", fragment="").geturl()
    return Source(
        kind="git",
        location=location,
        commit=parts.fragment or None,
        subdirectory=first("subdirectory"),
        tag=first("tag"),
        branch=first("branch"),
        rev=first("rev"),
    )


def _source_key(data: Mapping[str, Any]) -> tuple[tuple[str, str], ...] | None:
    items = tuple(sorted(data.items()))
    if all(isinstance(v, str) for _, v in items):
        return items
    return None


def _source(ctx: _Ctx, value: Any, key: str = "source") -> Source:
    data = _table(ctx, value, key)
    cache_key = _source_key(data)
    cached = _sources.get(cache_key) if cache_key is not None else None
    if cached is not None:
        return cached
    kinds = [k for k in _SOURCE_KEYS if k in data]
    if len(kinds) != 1:
        found = ", ".join(kinds) or "none"
        raise ctx.fail(
            f"{key!r} must name exactly one of {', '.join(_SOURCE_KEYS)} (found: {found})"
        )
    kind = kinds[0]
    location = data[kind]
    if not isinstance(location, str):
        raise ctx.fail(f"{key}.{kind} must be a string")
    if kind == "git":
        source = parse_git_url(location)
    else:
        subdirectory = _opt_str(ctx, data, "subdirectory")
        source = Source(kind=kind, location=location, subdirectory=subdirectory)
    if cache_key is not None:
        _sources[cache_key] = source
    return source


# -- artifacts -----------------------------------------------------------------------------


def _basename(location: str) -> str:
    if "://" in location:
        location = urlsplit(location).path
    return unquote(location.replace("\\", "/").rstrip("/").rsplit("/", 1)[-1])


def _artifact(ctx: _Ctx, value: Any, key: str, source: Source) -> Artifact:
    if not isinstance(value, Mapping):
        raise ctx.fail(f"{key} must be a table")
    url = value.get("url")
    path = value.get("path")
    filename = value.get("filename")
    hash_ = value.get("hash")
    size = value.get("size")
    upload_time = value.get("upload-time", value.get("upload_time"))
    if url is not None and not isinstance(url, str):
        raise ctx.fail(f"{key}.url must be a string")
    if path is not None and not isinstance(path, str):
        raise ctx.fail(f"{key}.path must be a string")
    if filename is not None and not isinstance(filename, str):
        raise ctx.fail(f"{key}.filename must be a string")
    if hash_ is not None and not isinstance(hash_, str):
        raise ctx.fail(f"{key}.hash must be a string")
    if size is not None and (not isinstance(size, int) or isinstance(size, bool) or size < 0):
        raise ctx.fail(f"{key}.size must be a non-negative integer")
    if upload_time is not None and not isinstance(upload_time, str):
        # tomllib gives datetime for unquoted TOML datetimes: keep them as ISO text.
        isoformat = getattr(upload_time, "isoformat", None)
        if isoformat is None:
            raise ctx.fail(f"{key}.upload-time must be a string")
        upload_time = isoformat()
    if not filename:
        # A direct-URL or path source lists its sdist as just a hash: the file is the source.
        location = url or path or (source.location if source.kind in ("url", "path") else "")
        filename = _basename(location) if location else ""
        if not filename:
            raise ctx.fail(f"{key} needs one of 'url', 'path' or 'filename'")
    return Artifact(
        filename=filename, url=url, path=path, hash=hash_, size=size, upload_time=upload_time
    )


# -- dependencies --------------------------------------------------------------------------


def _dependency(ctx: _Ctx, value: Any, key: str) -> Dependency:
    if not isinstance(value, Mapping):
        raise ctx.fail(f"{key} must be a table")
    name = value.get("name")
    if not isinstance(name, str) or not name:
        raise ctx.fail(f"{key} has no 'name'")
    marker = value.get("marker")
    if marker is not None and not isinstance(marker, str):
        raise ctx.fail(f"{key} ({name!r}): 'marker' must be a string")
    extras: tuple[str, ...] = ()
    raw_extras = value.get("extra")
    if raw_extras is not None:
        if not isinstance(raw_extras, list) or not all(isinstance(e, str) for e in raw_extras):
            raise ctx.fail(f"{key} ({name!r}): 'extra' must be an array of strings")
        extras = tuple(_name(e) for e in raw_extras)
    version = value.get("version")
    if version is not None and not isinstance(version, str):
        raise ctx.fail(f"{key} ({name!r}): 'version' must be a string")
    raw_source = value.get("source")
    source = _source(ctx, raw_source, f"{key}.source") if raw_source is not None else None
    return Dependency(
        name=_name(name), marker=marker or None, extras=extras, version=version, source=source
    )


def _dependencies(ctx: _Ctx, value: Any, key: str) -> tuple[Dependency, ...]:
    items = _array(ctx, value, key)
    return tuple(_dependency(ctx, item, f"{key}[{i}]") for i, item in enumerate(items))


def _named_dependencies(
    ctx: _Ctx, value: Any, key: str
) -> tuple[tuple[str, tuple[Dependency, ...]], ...]:
    table = _table(ctx, value, key)
    out = []
    for group, deps in table.items():
        out.append((_name(group), _dependencies(ctx, deps, f"{key}.{group}")))
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
    extra = {_name(d) for d in declared if isinstance(d, str)} - known
    if not extra:
        return named
    return tuple(sorted([*named, *((name, ()) for name in extra)]))


# -- packages ------------------------------------------------------------------------------


def _package(path: str, index: int, value: Any) -> LockedPackage:
    ctx = _Ctx(path, f"package #{index}")
    if not isinstance(value, Mapping):
        raise ctx.fail("must be a table")
    name = value.get("name")
    if not isinstance(name, str) or not name:
        raise ctx.fail("'name' is missing" if name is None else "'name' must be a non-empty string")
    ctx.where = f"package #{index} ({name!r})"
    version = _opt_str(ctx, value, "version")
    if "source" not in value:
        raise ctx.fail("'source' is missing")
    source = _source(ctx, value["source"])

    sdist = None
    if value.get("sdist") is not None:
        sdist = _artifact(ctx, value["sdist"], "sdist", source)
    wheels: tuple[Artifact, ...] = ()
    if value.get("wheels") is not None:
        raw = _array(ctx, value["wheels"], "wheels")
        wheels = tuple(_artifact(ctx, w, f"wheels[{i}]", source) for i, w in enumerate(raw))

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
        name=_name(name),
        version=version,
        source=source,
        sdist=sdist,
        wheels=wheels,
        dependencies=dependencies,
        optional_dependencies=optional,
        dev_dependencies=dev,
        resolution_markers=_str_list(ctx, value, "resolution-markers"),
    )


# -- manifest, conflicts, options ------------------------------------------------------------


def _requirement(ctx: _Ctx, value: Any, key: str) -> Requirement:
    if not isinstance(value, Mapping):
        raise ctx.fail(f"{key} must be a table")
    name = value.get("name")
    if not isinstance(name, str) or not name:
        raise ctx.fail(f"{key} has no 'name'")
    raw_extras = value.get("extras", value.get("extra"))
    extras: tuple[str, ...] = ()
    if raw_extras is not None:
        if not isinstance(raw_extras, list) or not all(isinstance(e, str) for e in raw_extras):
            raise ctx.fail(f"{key} ({name!r}): 'extras' must be an array of strings")
        extras = tuple(_name(e) for e in raw_extras)
    source = None
    for source_key in _REQUIREMENT_SOURCE_KEYS:
        if source_key in value:
            source = f"{source_key}={value[source_key]}"
            break
    return Requirement(
        name=_name(name),
        specifier=_opt_str(ctx, value, "specifier") or None,
        marker=_opt_str(ctx, value, "marker") or None,
        extras=extras,
        source=source,
    )


def _requirements(ctx: _Ctx, data: Mapping[str, Any], key: str) -> tuple[Requirement, ...]:
    value = data.get(key)
    if value is None:
        return ()
    items = _array(ctx, value, f"manifest.{key}")
    return tuple(_requirement(ctx, item, f"manifest.{key}[{i}]") for i, item in enumerate(items))


def _manifest(path: str, value: Any) -> Manifest:
    ctx = _Ctx(path, "")
    data = _table(ctx, value, "manifest")
    members = tuple(sorted(_name(m) for m in _str_list(ctx, data, "members")))
    groups: list[tuple[str, tuple[Requirement, ...]]] = []
    raw_groups = data.get("dependency-groups")
    if raw_groups is not None:
        table = _table(ctx, raw_groups, "manifest.dependency-groups")
        for group, reqs in table.items():
            key = f"manifest.dependency-groups.{group}"
            items = _array(ctx, reqs, key)
            groups.append(
                (
                    _name(group),
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
    ctx = _Ctx(path, "")
    out = []
    for i, group in enumerate(_array(ctx, value, "conflicts")):
        items = []
        for j, item in enumerate(_array(ctx, group, f"conflicts[{i}]")):
            key = f"conflicts[{i}][{j}]"
            data = _table(ctx, item, key)
            package = _req_str(_Ctx(path, key), data, "package")
            extra = _opt_str(_Ctx(path, key), data, "extra")
            group_name = _opt_str(_Ctx(path, key), data, "group")
            items.append(
                ConflictItem(
                    package=_name(package),
                    extra=_name(extra) if extra else None,
                    group=_name(group_name) if group_name else None,
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
    ctx = _Ctx(path, "")
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

    requires_python = _opt_str(ctx, data, "requires-python")

    raw_packages = data.get("package", [])
    if not isinstance(raw_packages, list):
        raise ctx.fail("'package' must be an array of tables")
    packages = tuple(_package(path, i, p) for i, p in enumerate(raw_packages, start=1))

    manifest = _manifest(path, data["manifest"]) if data.get("manifest") is not None else Manifest()
    conflicts = _conflicts(path, data["conflicts"]) if data.get("conflicts") is not None else ()

    options: list[tuple[str, str]] = []
    if data.get("options") is not None:
        _flatten_options("", _table(ctx, data["options"], "options"), options)

    return Lock(
        version=version,
        revision=revision,
        requires_python=requires_python,
        packages=packages,
        resolution_markers=_str_list(ctx, data, "resolution-markers"),
        supported_markers=_str_list(ctx, data, "supported-markers"),
        conflicts=conflicts,
        manifest=manifest,
        options=tuple(sorted(options)),
    )
