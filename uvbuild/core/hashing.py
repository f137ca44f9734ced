"""Content keys: canonical bytes of the heavy lock subset and every input that decides
the base image's bytes -> sha256 -> tag.

The serialisation is sorted JSON without whitespace, salted with RECIPE_VERSION, so a
key moves only when an input does. Upload times, other platforms' wheels, light
packages and the order of the lock never reach it.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from uvbuild.core.model import HeavyChoice, LayerGroup, SelectedPackage

# Bump whenever the generated uvbuild-base stage changes what it installs or how.
RECIPE_VERSION = "uvbuild-base/4"
# Bump whenever a generated uvbuild-layer-<group> stage changes what it installs or how.
LAYER_RECIPE_VERSION = "uvbuild-layer/3"
TAG_LENGTH = 16


@dataclass(frozen=True, slots=True)
class KeyInputs:
    """Everything besides the heavy packages that decides the base image's bytes."""

    platform: str
    python: str
    base_image: str
    uv_image: str
    venv: str
    compile_bytecode: bool
    link_mode: str = "copy"
    # whether the stages install the target Python where the image has none
    python_downloads: str = "automatic"
    # the user's system part the layers are built on (its recipe, the digests of the
    # build-context files it reads, how Python comes in); empty: the base image alone
    system: tuple[str, ...] = ()
    # (ref, digest) of every image the stages start from or copy from, sorted; empty:
    # not resolved, and the document names the images only (``base-image``, ``uv-image``)
    images: tuple[tuple[str, str], ...] = ()


def package_entry(choice: HeavyChoice) -> dict[str, Any]:
    selected = choice.selected
    package = selected.package
    wheel = selected.wheel
    return {
        "name": package.name,
        "version": package.version,
        "source": package.source.describe(),
        "wheel": wheel.filename if wheel else None,
        "hash": wheel.hash if wheel else None,
    }


def key_document(
    heavy: Sequence[HeavyChoice], inputs: KeyInputs, layers: Sequence[LayerGroup] = ()
) -> dict[str, Any]:
    """The exact document the base key hashes; ``plan`` shows it as "the inputs of the key".

    ``layers`` are the layer groups with their keys already set: their names, order and
    keys are part of the base (one ``COPY --link`` each), so the base key moves when any
    group's key does, and only then (or when the base recipe changes).
    """
    document = _document(RECIPE_VERSION, heavy, inputs)
    document["layers"] = [{"name": group.name, "key": group.key} for group in layers]
    return document


def layer_document(group: LayerGroup, inputs: KeyInputs) -> dict[str, Any]:
    """What a layer group's key hashes: its lock subset and the inputs all groups share.

    The group's name is not in it: the layer's bytes do not depend on it.
    """
    return _document(LAYER_RECIPE_VERSION, group.packages, inputs)


def _document(recipe: str, heavy: Sequence[HeavyChoice], inputs: KeyInputs) -> dict[str, Any]:
    packages = sorted(
        (package_entry(c) for c in heavy), key=lambda e: (e["name"], e["version"] or "")
    )
    document: dict[str, Any] = {
        "recipe": recipe,
        "platform": inputs.platform,
        "python": inputs.python,
        "base-image": inputs.base_image,
        "uv-image": inputs.uv_image,
        "venv": inputs.venv,
        "compile-bytecode": inputs.compile_bytecode,
        "link-mode": inputs.link_mode,
        "python-downloads": inputs.python_downloads,
        "packages": packages,
        **({"system": list(inputs.system)} if inputs.system else {}),
    }
    if inputs.images:  # only when resolved: a plan without an engine keeps its old key
        document["images"] = dict(sorted(inputs.images))
    return document


def canonical_bytes(document: Mapping[str, Any]) -> bytes:
    return json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode()


def base_key(document: Mapping[str, Any]) -> str:
    return hashlib.sha256(canonical_bytes(document)).hexdigest()


def default_base_repo(project_name: str) -> str:
    """``<project-name>-uvbuild-base``, made a valid lowercase image repository name."""
    slug = re.sub(r"[^a-z0-9]+", "-", project_name.lower()).strip("-") or "project"
    return f"{slug}-uvbuild-base"


def base_tag(repo: str, key: str) -> str:
    return f"{repo}:{key[:TAG_LENGTH]}"


def explain(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[str]:
    """Human lines naming what moved between two key documents (empty: same key)."""
    lines: list[str] = []
    for field in sorted(set(old) | set(new)):
        if field in ("packages", "layers", "images"):
            continue
        if old.get(field) != new.get(field):
            lines.append(f"{field}: {old.get(field)!r} -> {new.get(field)!r}")
    before = {(p["name"], p["source"]): p for p in old.get("packages", [])}
    after = {(p["name"], p["source"]): p for p in new.get("packages", [])}
    names_before = {name for name, _ in before}
    names_after = {name for name, _ in after}
    for ident in sorted(set(before) | set(after)):
        name, source = ident
        a, b = before.get(ident), after.get(ident)
        if a == b:
            continue
        if a is None:
            if name in names_before:
                continue  # reported as a change below, from the other source
            lines.append(f"added {name} {b['version']} ({source})")
        elif b is None:
            if name in names_after:
                old_entry = a
                new_entry = next(p for (n, _), p in after.items() if n == name)
                lines.append(
                    f"changed {name}: {old_entry['version']} from {old_entry['source']}"
                    f" -> {new_entry['version']} from {new_entry['source']}"
                )
            else:
                lines.append(f"removed {name} {a['version']} ({source})")
        elif a["version"] != b["version"]:
            lines.append(f"changed {name}: {a['version']} -> {b['version']}")
        else:
            lines.append(
                f"changed {name} {a['version']}: selected wheel {b['wheel']} ({b['hash']})"
            )
    lines += _explain_images(old.get("images"), new.get("images"))
    return lines + _explain_layers(old.get("layers"), new.get("layers"), explained=bool(lines))


def _explain_images(old: Any, new: Any) -> list[str]:
    """A line per image whose digest moved (a tag moved upstream, a local image re-tagged);
    one line when only one side has digests (a key made without an engine)."""
    if old == new:
        return []
    if not old or not new:
        return [
            f"images: {'resolved' if old else 'by name only'} -> "
            f"{'resolved' if new else 'by name only'}"
        ]
    return [
        f"image {ref}: {old.get(ref)} -> {new.get(ref)}"
        for ref in sorted(set(old) | set(new))
        if old.get(ref) != new.get(ref)
    ]


def _explain_layers(old: Any, new: Any, *, explained: bool) -> list[str]:
    """Lines for the layer groups: a changed layout (names, order), and when nothing
    above explains it, which group keys moved (a package changed group, say)."""
    if old == new or old is None or new is None:
        return []
    before = {entry["name"]: entry["key"] for entry in old}
    after = {entry["name"]: entry["key"] for entry in new}
    if list(before) != list(after):
        return [
            f"layers: {' '.join(before) or '(one layer)'} -> {' '.join(after) or '(one layer)'}"
        ]
    if explained:
        return []  # the group keys moved with the packages or inputs named above
    return [
        f"layer {name}: key {before[name][:TAG_LENGTH]} -> {key[:TAG_LENGTH]}"
        for name, key in after.items()
        if before[name] != key
    ]


def layer_changes(
    old_layers: Sequence[LayerGroup],
    new_layers: Sequence[LayerGroup],
    old_pool: Sequence[SelectedPackage] = (),
    new_pool: Sequence[SelectedPackage] = (),
) -> list[str]:
    """A line per layer (heavy or light, and the pool) whose content moved between two
    plans: the layers a build rebuilds, each with the packages that moved it."""
    before = {group.name: group for group in old_layers}
    after = {group.name: group for group in new_layers}
    lines = []
    for name in [*before, *(n for n in after if n not in before)]:
        a, b = before.get(name), after.get(name)
        if a is not None and b is not None and a.key == b.key:
            continue
        moved = _package_moves(
            [c.selected for c in a.packages] if a else [],
            [c.selected for c in b.packages] if b else [],
        )
        what = "new" if a is None else "gone" if b is None else "rebuilt"
        detail = f": {', '.join(moved)}" if moved else ""
        lines.append(f"layer {name} {what}{detail}")
    pool = _package_moves(old_pool, new_pool)
    if pool:
        lines.append(f"pool rebuilt: {', '.join(pool)}")
    return lines


def _package_moves(old: Sequence[SelectedPackage], new: Sequence[SelectedPackage]) -> list[str]:
    """``a 1.0 -> 1.1``, ``+b 2.0``, ``-c 3.0`` (``~d 1.0``: same version, another wheel)."""
    before = {s.name: s for s in old}
    after = {s.name: s for s in new}
    moves = []
    for name in sorted(set(before) | set(after)):
        a, b = before.get(name), after.get(name)
        if a is None:
            moves.append(f"+{name} {b.version}")
        elif b is None:
            moves.append(f"-{name} {a.version}")
        elif a.version != b.version:
            moves.append(f"{name} {a.version} -> {b.version}")
        elif a.wheel != b.wheel or a.package.source != b.package.source:
            moves.append(f"~{name} {b.version}")
    return moves
