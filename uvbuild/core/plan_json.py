"""BuildPlan -> the stable, versioned document ``plan --json`` prints (schema in README).

``BuildPlan.to_dict`` returns it; the build and the multi-platform plan embed it.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from uvbuild.core.model import BuildPlan, LayerGroup, Request, SelectedPackage, UserDockerfile

PLAN_SCHEMA = "uvbuild.plan/1"


def plan_document(plan: BuildPlan) -> dict[str, Any]:
    heavy = []
    for choice in plan.grouping.heavy:
        group = plan.layer_of(choice.selected.name)
        layer = group.name if group else None
        heavy.append({**_package_entry(choice.selected), "reason": choice.reason, "layer": layer})
    return {
        "schema": PLAN_SCHEMA,
        "project": {
            "name": plan.project_name,
            "dir": plan.project_dir,
            "lock": plan.lock_path,
            "members": list(plan.members),
        },
        "target": {
            "platform": plan.target.platform,
            "python": plan.target.python,
            "glibc": "{}.{}".format(*plan.target.glibc),
        },
        "request": _request_entry(plan.request),
        "base": _base_entry(plan),
        "heavy": heavy,
        "light": [
            {**_package_entry(s), "layer": _light_layer_name(plan, s.name)} for s in plan.light
        ],
        "totals": {
            "heavy": _totals(plan.heavy),
            "light": _totals(plan.light),
            "pool": _totals(plan.pool),
        },
        "notes": list(plan.notes),
        **({"dockerfile": _dockerfile_entry(plan.dockerfile)} if plan.dockerfile.path else {}),
    }


def _base_entry(plan: BuildPlan) -> dict[str, Any]:
    """The base: its key and what it hashes, its layers, and the images' digests when
    the key covers them (or the flow asked for them)."""
    base: dict[str, Any] = {
        "key": plan.key,
        "tag": plan.tag,
        "repo": plan.base_repo,
        "inputs": json.loads(plan.key_document),
        "layer-mode": plan.layer_mode,
        "layers": [
            *(_layer_entry(group, "heavy") for group in plan.layers),
            *(
                {**_layer_entry(group, "light"), "stage": plan.light_stage_of(group.name)}
                for group in plan.light_layers
            ),
        ],
    }
    if plan.digests or plan.provisional is not None:
        digests = dict(plan.digests)
        base["images"] = [
            {"ref": image.ref, "setting": image.setting, "digest": digests.get(image.ref)}
            for image in plan.image_refs
        ]
        base["provisional"] = plan.provisional is not None
    return base


def _light_layer_name(plan: BuildPlan, name: str) -> str:
    for group in plan.light_layers:
        if any(c.selected.name == name for c in group.packages):
            return group.name
    return "pool"


def _dockerfile_entry(user: UserDockerfile) -> dict[str, Any]:
    entry: dict[str, Any] = {"path": user.path, "mode": user.mode}
    if user.system is not None:
        entry["system"] = {
            "images": list(user.system.images),
            "context": dict(user.context_digests),
            "instructions": len(user.system.system),
        }
    if user.seed is not None:
        entry["sync-line"] = user.seed.sync_line
        entry["python-downloads"] = user.seed.python_downloads
    return entry


def _package_entry(selected: SelectedPackage) -> dict[str, Any]:
    wheel = selected.wheel
    return {
        "name": selected.name,
        "version": selected.version,
        "source": selected.package.source.describe(),
        "source-kind": selected.package.source.kind,
        "wheel": wheel.filename if wheel else None,
        "hash": wheel.hash if wheel else None,
        "size": selected.size,
        "from-sdist": selected.from_sdist,
    }


def _totals(items: tuple[SelectedPackage, ...]) -> dict[str, int]:
    return {
        "count": len(items),
        "bytes": sum(s.size or 0 for s in items),
        "unknown-size": sum(1 for s in items if s.size is None),
    }


def _layer_entry(group: LayerGroup, kind: str) -> dict[str, Any]:
    return {
        "name": group.name,
        "kind": kind,
        "key": group.key,
        "patterns": list(group.patterns),
        "part": group.part,
        "packages": [c.selected.name for c in group.packages],
        "bytes": group.size,
        "unknown-size": group.unknown_size,
    }


def _request_entry(request: Request) -> dict[str, Any]:
    return {
        "package": request.package,
        "all-packages": request.all_packages,
        "extras": list(request.extras),
        "all-extras": request.all_extras,
        "groups": list(request.groups),
        "only-groups": list(request.only_groups),
        "no-dev": request.no_dev,
        "default-groups": list(request.default_groups),
        "no-extras": list(request.no_extras),
        "no-groups": list(request.no_groups),
        "all-groups": request.all_groups,
        "no-default-groups": request.no_default_groups,
        "dev": request.dev,
        "only-dev": request.only_dev,
        "packages": list(request.members),
    }
