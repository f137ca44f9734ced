"""Which selected packages go into the base image (heavy) and which stay light.

Heavy packages are taken alone, never with their dependency closure: torch's small
dependencies (filelock, sympy, jinja2...) stay light, so bumping them never moves the
base key. Only packages uv installs by name from an index can live in the base: a later
``uv sync`` reinstalls anything that came from a URL, a path or a git checkout.
"""

from __future__ import annotations

import fnmatch
import hashlib
import re
from collections.abc import Iterable, Mapping, Sequence

from uvbuild.core.config import (
    DEFAULT_HEAVY_MIN_SIZE,
    DEFAULT_LAYER_LIMIT,
    DEFAULT_POOL_THRESHOLD,
    OTHER_LAYER,
)
from uvbuild.core.model import Grouping, HeavyChoice, LayerGroup, SelectedPackage

# The GPU frameworks and their kernels: one layer group by default, bumped more often than
# the CUDA libraries below them.
_FRAMEWORKS: tuple[str, ...] = (
    "torch",
    "torchvision",
    "torchaudio",
    "triton",
    "pytorch-triton*",
    "xformers",
    "flash-attn*",  # names are compared PEP 503-normalised: flash_attn_3 is flash-attn-3
    "flashinfer*",
    "torch-tensorrt",
    "jax-cuda*",
    "jaxlib",
    "tensorflow*",
    "onnxruntime-gpu",
    "cupy-cuda*",
    "bitsandbytes",
    "deepspeed",
    "vllm",
)

# No name matches two of these, so their order decides no reason.
DEFAULT_HEAVY_PATTERNS: tuple[str, ...] = (
    *_FRAMEWORKS,
    "nvidia-*",
    "cuda-toolkit",
    "cuda-bindings",
    "tensorrt*",
    "opencv-*",
)

#: The layer groups when ``[tool.uvbuild.layers]`` is not set: the CUDA libraries (several
#: GB, rarely changing) apart from the frameworks built on them (bumped far more often).
#: Heavy packages neither names go to the last group, ``other``.
DEFAULT_LAYERS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("cuda", ("nvidia-*", "cuda-*", "tensorrt*")),
    ("frameworks", _FRAMEWORKS),
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


#: the index uv uses when no ``[[tool.uv.index]]`` says ``default = true``
PYPI_INDEX = "https://pypi.org/simple"
_GLOB = re.compile(r"[*?\[]")
#: notes naming packages list this many, then "and N more"
_NOTE_NAMES = 5


def named_packages(extra: Iterable[str] = (), only: Iterable[str] | None = None) -> dict[str, str]:
    """The user's heavy entries that name one package (no glob characters) -> the key
    (``heavy`` or ``heavy-only``) that names it. These are heavy at any size."""
    named: dict[str, str] = {}
    for key, entries in (("heavy-only", only or ()), ("heavy", extra)):
        for entry in entries:
            if not _GLOB.search(entry):
                named.setdefault(normalize_pattern(entry), key)
    return named


def _some(names: Sequence[str]) -> str:
    """``a, b, c`` or ``a, b, c, d, e and 4 more``."""
    shown = ", ".join(names[:_NOTE_NAMES])
    rest = len(names) - _NOTE_NAMES
    return f"{shown} and {rest} more" if rest > 0 else shown


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


def _heavy_reason(
    item: SelectedPackage,
    pattern: str | None,
    named: Mapping[str, str],
    threshold: int | None,
    min_size: int,
) -> str | None:
    """Why ``item`` is a heavy candidate (``pattern`` is the heavy pattern it matches), or
    None when it is light."""
    if item.name in named:
        return f"named in {named[item.name]}"
    if pattern is not None and item.wheel is None:
        return f"matches {pattern}"  # no wheel: _base_eligible keeps it light
    if pattern is not None and item.size is None:
        return f"matches {pattern}, size unknown"
    if pattern is not None and item.size is not None and item.size >= min_size:
        return f"matches {pattern}"
    if threshold is not None and item.size is not None and item.size >= threshold:
        return f"wheel is {item.size:,} bytes (threshold {threshold:,})"
    return None


def _unsized_elsewhere(item: SelectedPackage, default_index: str) -> bool:
    """A wheel of unknown size from an index other than the default one."""
    source = item.package.source
    return (
        item.wheel is not None
        and item.wheel.size is None
        and item.unavailable is None
        and source.kind == "registry"
        and source.location.rstrip("/") != default_index.rstrip("/")
    )


def _light_notes(small: Sequence[str], unsized: Sequence[str], min_size: int) -> list[str]:
    """Notes on pattern matches under heavy-min-size and light wheels of unknown size."""
    notes = []
    if len(small) == 1:
        notes.append(
            f"{small[0]} matches a heavy pattern but its wheel is under heavy-min-size "
            f"({min_size:,} bytes), so it stays light; name it in `heavy` to force it"
        )
    elif small:
        notes.append(
            f"{_some(small)}: match a heavy pattern but their wheels are under heavy-min-size "
            f"({min_size:,} bytes), so they stay light; name one in `heavy` to force it"
        )
    for name in unsized[:_NOTE_NAMES]:
        notes.append(f"{name} is light, size unknown: add it to `heavy` if it is large")
    if len(unsized) > _NOTE_NAMES:
        notes.append(
            f"and {len(unsized) - _NOTE_NAMES} more light packages of unknown size from other "
            "indexes: add them to `heavy` if they are large"
        )
    return notes


def split(
    selected: Sequence[SelectedPackage],
    *,
    patterns: Sequence[str] = DEFAULT_HEAVY_PATTERNS,
    exclude: Sequence[str] = (),
    threshold: int | None = 50_000_000,
    min_size: int = DEFAULT_HEAVY_MIN_SIZE,
    named: Mapping[str, str] | None = None,
    default_index: str = PYPI_INDEX,
) -> tuple[Grouping, tuple[str, ...]]:
    """Split the install set; also returns notes on heavy candidates left light.

    A package is heavy when ``named`` names it (see :func:`named_packages`), when it
    matches one of ``patterns`` and its wheel is at least ``min_size`` bytes or of unknown
    size, or when its wheel is at least ``threshold``; ``exclude`` wins over all three.
    A light wheel of unknown size from an index other than ``default_index`` gets a note:
    only the user can tell whether it is large.
    """
    excluded = tuple(normalize_pattern(p) for p in exclude)
    heavy: list[HeavyChoice] = []
    light: list[SelectedPackage] = []
    notes: list[str] = []
    small: list[str] = []
    unsized: list[str] = []
    for item in sorted(selected, key=lambda s: (s.name, s.version or "")):
        pattern = matching_pattern(item.name, patterns)
        reason = _heavy_reason(item, pattern, named or {}, threshold, min_size)
        if matching_pattern(item.name, excluded) is not None:
            light.append(item)
            continue
        if reason is not None:
            problem = _base_eligible(item)
            if problem is None:
                heavy.append(HeavyChoice(item, reason))
                continue
            notes.append(f"{item.name} {reason} but {problem}: it stays in the light layers")
        elif pattern is not None:
            small.append(item.name)
        elif _unsized_elsewhere(item, default_index):
            unsized.append(f"{item.name} (from {item.package.source.location})")
        light.append(item)
    notes += _light_notes(small, unsized, min_size)
    return Grouping(heavy=tuple(heavy), light=tuple(light)), tuple(notes)


def layer_groups(
    heavy: Sequence[HeavyChoice],
    *,
    mode: str = "groups",
    layout: Sequence[tuple[str, Sequence[str]]] | None = None,
    limit: int = DEFAULT_LAYER_LIMIT,
) -> tuple[tuple[LayerGroup, ...], tuple[str, ...]]:
    """The heavy packages' layer groups, in layer order, and notes for ``plan``.

    Each package joins the first group of ``layout`` (default DEFAULT_LAYERS) with a
    pattern that matches its name; the rest form the last group, ``other``. Empty groups
    are left out. ``mode="auto"`` then cuts every group whose wheels exceed ``limit``
    into parts ``<group>-1``, ``<group>-2``... (see :func:`split_by_size`). Fewer than two
    groups, or ``mode="single"``, gives no groups: the base installs everything in one
    layer, as a separate stage would gain nothing.
    """
    if mode == "single" or not heavy:
        return (), ()
    chosen = DEFAULT_LAYERS if layout is None else tuple(layout)
    matchers = [(name, tuple(normalize_pattern(p) for p in patterns)) for name, patterns in chosen]
    members: dict[str, list[HeavyChoice]] = {name: [] for name, _ in chosen}
    rest: list[HeavyChoice] = []
    for choice in sorted(heavy, key=lambda c: (c.selected.name, c.selected.version or "")):
        for name, patterns in matchers:
            if matching_pattern(choice.selected.name, patterns) is not None:
                members[name].append(choice)
                break
        else:
            rest.append(choice)
    groups = [
        LayerGroup(name, tuple(members[name]), tuple(patterns))
        for name, patterns in chosen
        if members[name]
    ]
    if rest:
        groups.append(LayerGroup(OTHER_LAYER, tuple(rest)))
    notes: list[str] = []
    if mode == "auto":
        groups, notes = split_by_size(groups, limit)
    else:
        for group in groups:
            if group.size > limit:
                notes.append(
                    f"layer {group.name} holds {group.size:,} bytes of wheels, more than the "
                    f'layer-limit {limit:,}: layer-mode = "auto" would split it'
                )
    if len(groups) < 2:
        return (), tuple(notes)
    return tuple(groups), tuple(notes)


def split_by_size(groups: Sequence[LayerGroup], limit: int) -> tuple[list[LayerGroup], list[str]]:
    """Cut each group into parts whose wheels add up to at most ``limit``.

    Packages are taken in name order and a part is closed when the next one would not
    fit ("next fit"): a size change moves at most the boundary around that package, so
    the other parts, and their keys, stay. A package whose size the lock does not record
    counts as ``limit`` (a part of its own), as does one larger than ``limit``.
    """
    taken = {group.name for group in groups}
    out: list[LayerGroup] = []
    notes: list[str] = []
    unknown: list[str] = []
    for group in groups:
        parts: list[list[HeavyChoice]] = []
        current: list[HeavyChoice] = []
        filled = 0
        for choice in group.packages:
            size = choice.selected.size
            if size is None:
                unknown.append(choice.selected.name)
            elif size > limit:
                notes.append(
                    f"{choice.selected.name} alone is {size:,} bytes, more than the "
                    f"layer-limit {limit:,}: it gets a layer of its own"
                )
            weight = limit if size is None else size
            if current and filled + weight > limit:
                parts.append(current)
                current, filled = [], 0
            current.append(choice)
            filled += weight
        if current:
            parts.append(current)
        if len(parts) == 1:
            out.append(group)
            continue
        for number, part in enumerate(parts, start=1):
            name = f"{group.name}-{number}"
            if name in taken:
                name = f"{group.name}-part{number}"
            taken.add(name)
            out.append(LayerGroup(name, tuple(part), group.patterns, part=number))
    if unknown:
        notes.append(
            f"size unknown for {len(unknown)} heavy package(s): in auto mode each gets a "
            "layer of its own"
        )
    return out, notes


#: At most this many keyed layers for the light packages (the 125-layer limit of an image
#: leaves room for the base image's layers, the heavy groups and your own).
POOL_LAYER_CAP = 24
#: Past the cap, the light packages other than the largest share this many layers, each
#: package in the one its name's hash picks.
POOL_BINS = 8
LIGHT_PREFIX = "light-"


def pool_candidate(selected: SelectedPackage, threshold: int) -> bool:
    """Whether a light package gets a keyed layer: ``threshold`` is on (not 0), uv installs
    it by name from an index (a selected wheel, a registry source: what the base takes
    too), and its wheel is at least ``threshold`` or of unknown size."""
    if threshold <= 0 or _base_eligible(selected) is not None:
        return False
    return selected.size is None or selected.size >= threshold


def _unique(name: str, taken: set[str]) -> str:
    while name in taken:
        name += "-x"
    taken.add(name)
    return name


def pool_layers(
    light: Sequence[SelectedPackage],
    *,
    threshold: int = DEFAULT_POOL_THRESHOLD,
    taken: Iterable[str] = (),
    cap: int = POOL_LAYER_CAP,
    bins: int = POOL_BINS,
) -> tuple[tuple[LayerGroup, ...], tuple[SelectedPackage, ...], tuple[str, ...]]:
    """The light packages' keyed layers, the pool (the packages left to the deps stage's
    ``uv sync``) and notes for ``plan``.

    Packing rule: every :func:`pool_candidate` gets a layer of its own, ``light-<name>``,
    while there are at most ``cap`` of them. With more, the ``cap - bins`` largest keep a
    layer each and the others share ``bins`` layers ``light-bins-<n>``, each package in the
    bin its name's sha256 picks, so adding or removing a package moves only its own bin
    (an unknown size counts as ``threshold``). ``taken`` are the heavy groups' names.
    """
    candidates = sorted(
        (s for s in light if pool_candidate(s, threshold)), key=lambda s: (s.name, s.version or "")
    )
    chosen = {id(s) for s in candidates}
    pool = tuple(s for s in light if id(s) not in chosen)
    if not candidates:
        return (), pool, ()
    names = set(taken)
    notes: list[str] = []
    if len(candidates) <= cap:
        solo, binned = candidates, []
    else:
        ranked = sorted(candidates, key=lambda s: (-(s.size or threshold), s.name))
        keep = {id(s) for s in ranked[: max(cap - bins, 0)]}
        solo = [s for s in candidates if id(s) in keep]
        binned = [s for s in candidates if id(s) not in keep]
        notes.append(
            f"{len(candidates)} light packages reach pool-threshold ({threshold:,} bytes), "
            f"more than {cap} layers: the {len(solo)} largest get a layer each, the other "
            f"{len(binned)} share {bins} layers by name hash"
        )
    groups = [
        LayerGroup(_unique(f"{LIGHT_PREFIX}{s.name}", names), (_light_choice(s, threshold),))
        for s in solo
    ]
    by_bin: dict[int, list[HeavyChoice]] = {}
    for s in binned:
        number = int(hashlib.sha256(s.name.encode()).hexdigest()[:8], 16) % bins + 1
        by_bin.setdefault(number, []).append(_light_choice(s, threshold))
    for number in sorted(by_bin):
        name = _unique(f"{LIGHT_PREFIX}bins-{number}", names)
        groups.append(LayerGroup(name, tuple(by_bin[number]), part=number))
    return tuple(groups), pool, tuple(notes)


def _light_choice(selected: SelectedPackage, threshold: int) -> HeavyChoice:
    if selected.size is None:
        return HeavyChoice(selected, "size unknown")
    return HeavyChoice(selected, f"wheel is {selected.size:,} bytes (pool-threshold {threshold:,})")


#: The light layers are installed by at most this many stages, each a few layers' worth of
#: work in one RUN. A RUN costs about 0.3 to 0.6 s of container start, snapshot and tool
#: start-up on top of its installs (measured on the docker driver: ten 2 MB layers in a
#: stage each made a small cold build 14.7 s against 8.2 s without them); a stage's COPY
#: of an unchanged layer stays cached by its content when the stage reruns for a stage
#: mate, so the bytes a bump makes new are still its own layer's, and the price of sharing
#: a stage is reinstalling the stage mates (about a quarter of the light layers) in time
#: only.
LIGHT_STAGES = 4


def _stage_weight(group: LayerGroup, threshold: int) -> int:
    """A layer's size rounded down to a power of two: a bump that changes a wheel's size a
    little leaves the stages as they were (unknown sizes count as ``threshold``)."""
    size = sum(c.selected.size or threshold for c in group.packages)
    return 1 << max(size.bit_length() - 1, 0)


def light_stages(
    layers: Sequence[LayerGroup],
    *,
    threshold: int = DEFAULT_POOL_THRESHOLD,
    count: int = LIGHT_STAGES,
) -> tuple[tuple[LayerGroup, ...], ...]:
    """The light layers shared out among at most ``count`` stages, each stage's layers in
    ``layers`` order: largest first, each to the stage with the least weight so far (ties:
    the first), so the stages take about equal work."""
    stages: list[list[LayerGroup]] = [[] for _ in range(min(count, len(layers)))]
    loads = [0] * len(stages)
    for group in sorted(layers, key=lambda g: (-_stage_weight(g, threshold), g.name)):
        lightest = loads.index(min(loads))
        stages[lightest].append(group)
        loads[lightest] += _stage_weight(group, threshold)
    order = {group.name: index for index, group in enumerate(layers)}
    return tuple(tuple(sorted(stage, key=lambda g: order[g.name])) for stage in stages)
