"""Which selected packages go into the base image (heavy) and which stay light.

Heavy packages are taken alone, never with their dependency closure: torch's small
dependencies (filelock, sympy, jinja2...) stay light, so bumping them never moves the
base key. Only packages uv installs by name from an index can live in the base: a later
``uv sync`` reinstalls anything that came from a URL, a path or a git checkout.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterable, Sequence

from uvbuild.model import Grouping, HeavyChoice, SelectedPackage

DEFAULT_HEAVY_PATTERNS: tuple[str, ...] = (
    "torch",
    "torchvision",
    "torchaudio",
    "triton",
    "pytorch-triton*",
    "xformers",
    "flash-attn",
    "nvidia-*",
    "cuda-toolkit",
    "cuda-bindings",
    "tensorrt*",
    "torch-tensorrt",
    "jax-cuda*",
    "jaxlib",
    "tensorflow*",
    "onnxruntime-gpu",
    "cupy-cuda*",
    "bitsandbytes",
    "deepspeed",
    "vllm",
    "opencv-*",
)


def normalize_pattern(pattern: str) -> str:
    """PEP 503-normalise a name pattern, keeping its glob characters."""
    return re.sub(r"[-_.]+", "-", pattern.strip()).lower()


def heavy_patterns(extra: Iterable[str] = (), only: Iterable[str] | None = None) -> tuple[str, ...]:
    """The patterns in force: ``heavy-only`` replaces the defaults, ``heavy`` extends them."""
    base = DEFAULT_HEAVY_PATTERNS if only is None else tuple(only)
    seen: dict[str, None] = {}
    for pattern in (*base, *extra):
        seen.setdefault(normalize_pattern(pattern), None)
    return tuple(seen)


def matching_pattern(name: str, patterns: Sequence[str]) -> str | None:
    for pattern in patterns:
        if fnmatch.fnmatchcase(name, pattern):
            return pattern
    return None


def _base_eligible(selected: SelectedPackage) -> str | None:
    """Why the package cannot go into the base, or None when it can."""
    package = selected.package
    if package.source.kind != "registry":
        return f"comes from a {package.source.kind} source"
    if selected.unavailable is not None:
        return "has no wheel for the target"
    if selected.wheel is None:
        return "has no wheel for the target and would build from its sdist"
    return None


def split(
    selected: Sequence[SelectedPackage],
    *,
    patterns: Sequence[str] = DEFAULT_HEAVY_PATTERNS,
    exclude: Sequence[str] = (),
    threshold: int | None = 50_000_000,
) -> tuple[Grouping, tuple[str, ...]]:
    """Split the install set; also returns notes on heavy candidates left light."""
    excluded = tuple(normalize_pattern(p) for p in exclude)
    heavy: list[HeavyChoice] = []
    light: list[SelectedPackage] = []
    notes: list[str] = []
    for item in sorted(selected, key=lambda s: (s.name, s.version or "")):
        reason = None
        pattern = matching_pattern(item.name, patterns)
        if pattern is not None:
            reason = f"matches {pattern}"
        elif threshold is not None and item.size is not None and item.size >= threshold:
            reason = f"wheel is {item.size:,} bytes (threshold {threshold:,})"
        if reason is not None and matching_pattern(item.name, excluded) is not None:
            reason = None
        if reason is not None:
            problem = _base_eligible(item)
            if problem is not None:
                notes.append(f"{item.name} {reason} but {problem}: it stays in the light layers")
                reason = None
        if reason is None:
            light.append(item)
        else:
            heavy.append(HeavyChoice(item, reason))
    return Grouping(heavy=tuple(heavy), light=tuple(light)), tuple(notes)
