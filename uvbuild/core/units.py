"""Sizes in bytes: read from settings (``50MB``, ``1.5GB``, ``512MiB``) and written for
people (``594.3 MB``), the one formatter every message and table uses."""

from __future__ import annotations

import re
from typing import Any

from uvbuild.errors import ConfigError

_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgt]i?b?|b)?\s*$", re.IGNORECASE)
_UNITS = {"": 1, "b": 1, "k": 10**3, "m": 10**6, "g": 10**9, "t": 10**12}


def format_size(size: int | None) -> str:
    """``594.3 MB`` (decimal units, as registries and ``docker images`` count); ``?`` for a
    size nobody recorded."""
    if size is None:
        return "?"
    value = float(size)
    for unit in ("B", "kB", "MB", "GB"):
        if value < 1000 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1000
    raise AssertionError


def size_total(known: int, unknown: int = 0) -> str:
    """A total of wheel sizes that shows the wheels the lock gives no size for:
    ``3.1 GB``, ``3.1 GB + 4 of unknown size``, or ``2 of unknown size`` (none known)."""
    if not unknown:
        return format_size(known)
    if not known:
        return f"{unknown} of unknown size"
    return f"{format_size(known)} + {unknown} of unknown size"


def parse_size(value: Any, where: str) -> int:
    """``50000000``, ``"50MB"``, ``"1.5GB"``, ``"512MiB"`` -> bytes; ``where`` names the key
    or flag in the error."""
    if isinstance(value, bool):
        raise ConfigError(f"{where}: expected a size such as 50MB, got {value!r}")
    if isinstance(value, int):
        if value < 0:
            raise ConfigError(f"{where}: a size cannot be negative ({value})")
        return value
    match = _SIZE.match(value) if isinstance(value, str) else None
    if not match:
        raise ConfigError(f"{where}: expected a size such as 50MB or 2GB, got {value!r}")
    number, unit = match.group(1), (match.group(2) or "").lower()
    scale = _UNITS[unit[:1]]
    if "i" in unit:
        scale = {1: 1, 10**3: 2**10, 10**6: 2**20, 10**9: 2**30, 10**12: 2**40}[scale]
    size = float(number) * scale
    if size >= 2**63:  # also inf: no disk holds it, and int(inf) would fail
        raise ConfigError(f"{where}: {value!r} is larger than any size uvbuild handles")
    return int(size)
