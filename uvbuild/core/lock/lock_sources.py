"""The fields of a parsed ``uv.lock`` that packages and edges share: sources and artifacts.

Also the checks every part of the parser uses: each failure is a :class:`LockError`
naming the file and where in it (``package #3 ('torch')``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from packaging.utils import canonicalize_name

from uvbuild.core.model import Artifact, Source
from uvbuild.errors import LockError

_SOURCE_KEYS = ("registry", "git", "url", "path", "directory", "editable", "virtual")

_names: dict[str, str] = {}
_sources: dict[tuple[tuple[str, Any], ...], Source] = {}


def canonical(value: str) -> str:
    """canonicalize_name, memoised: the same few hundred names repeat thousands of times."""
    try:
        return _names[value]
    except KeyError:
        result = _names[value] = canonicalize_name(value)
        return result


class LockContext:
    """Where we are in the lock, for error messages."""

    __slots__ = ("path", "where")

    def __init__(self, path: str, where: str) -> None:
        self.path = path
        self.where = where

    def fail(self, message: str) -> LockError:
        prefix = f"{self.path}: {self.where}: " if self.where else f"{self.path}: "
        return LockError(f"{prefix}{message}; re-lock with `uv lock` or report the lock file")


def as_table(ctx: LockContext, value: Any, key: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise ctx.fail(f"{key!r} must be a table")
    return value


def as_array(ctx: LockContext, value: Any, key: str) -> list[Any]:
    if not isinstance(value, list):
        raise ctx.fail(f"{key!r} must be an array")
    return value


def opt_str(ctx: LockContext, data: Mapping[str, Any], key: str) -> str | None:
    value = data.get(key)
    if value is None or isinstance(value, str):
        return value
    raise ctx.fail(f"{key!r} must be a string")


def req_str(ctx: LockContext, data: Mapping[str, Any], key: str) -> str:
    value = data.get(key)
    if isinstance(value, str) and value:
        return value
    if value is None:
        raise ctx.fail(f"{key!r} is missing")
    raise ctx.fail(f"{key!r} must be a non-empty string")


def str_list(ctx: LockContext, data: Mapping[str, Any], key: str) -> tuple[str, ...]:
    value = data.get(key)
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ctx.fail(f"{key!r} must be an array of strings")
    return tuple(value)


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


def parse_source(ctx: LockContext, value: Any, key: str = "source") -> Source:
    data = as_table(ctx, value, key)
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
        subdirectory = opt_str(ctx, data, "subdirectory")
        source = Source(kind=kind, location=location, subdirectory=subdirectory)
    if cache_key is not None:
        _sources[cache_key] = source
    return source


def _basename(location: str) -> str:
    if "://" in location:
        location = urlsplit(location).path
    return unquote(location.replace("\\", "/").rstrip("/").rsplit("/", 1)[-1])


def parse_artifact(ctx: LockContext, value: Any, key: str, source: Source) -> Artifact:
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
