"""What a build produced: the base's fate, the app image and its layers, as the ``--json``
document (``uvbuild.build/1``) and the facts merged into ``--metadata-file``."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from uvbuild.core.config import GENERATED
from uvbuild.core.model import BuildPlan
from uvbuild.docker.facts.values import RegistryImage
from uvbuild.errors import BuildFailed
from uvbuild.flow.decide import BaseStep

BUILD_SCHEMA = "uvbuild.build/1"


@dataclass(frozen=True, slots=True)
class LayerReport:
    diff_id: str
    size: int
    shared: bool
    created_by: str


def base_action(step: BaseStep, dry_run: bool) -> str:
    """The base action of the result: ``reused``, ``built``, ``rebuilt``, ``not needed``,
    and for a dry run ``would reuse`` / ``would build (built)``."""
    if step.action == "skip":
        return "not needed"
    done = "reused" if step.action == "reuse" else "rebuilt" if step.rebuilt else "built"
    if not dry_run:
        return done
    return "would reuse" if step.action == "reuse" else f"would build ({done})"


@dataclass(frozen=True, slots=True)
class BaseOutcome:
    """What became of the base: the ``base`` part of the result."""

    action: str  # BuildResult.base_action
    source: str  # where the app build reads it: "engine" or "registry"
    seconds: float = 0.0
    pushed: bool = False
    registry: RegistryImage | None = None  # the base as its registry has it, when seen
    warnings: tuple[str, ...] = ()
    commands: tuple[str, ...] = ()  # a dry run's


@dataclass(frozen=True, slots=True)
class AppOutcome:
    """What became of the app: the ``image`` part of the result."""

    tags: tuple[str, ...] = ()
    seconds: float = 0.0
    image_id: str | None = None
    layers: tuple[LayerReport, ...] = ()
    warnings: tuple[str, ...] = ()
    commands: tuple[str, ...] = ()  # a dry run's


@dataclass(slots=True)
class BuildResult:
    base_tag: str
    base_key: str
    base_action: str  # "reused", "built", "rebuilt" or "would build"/"would reuse"
    base_seconds: float = 0.0
    app_seconds: float = 0.0
    image_id: str | None = None
    tags: tuple[str, ...] = ()
    dockerfile: str = GENERATED
    layers: list[LayerReport] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    commands: list[str] = field(default_factory=list)
    dry_run: bool = False
    base_source: str = "engine"  # where the app build reads the base: "engine" or "registry"
    base_pushed: bool = False  # this run pushed the base to its registry

    def to_dict(self) -> dict[str, Any]:
        new = sum(layer.size for layer in self.layers if not layer.shared and layer.size > 0)
        shared = sum(layer.size for layer in self.layers if layer.shared and layer.size > 0)
        return {
            "schema": BUILD_SCHEMA,
            "dry-run": self.dry_run,
            "base": {
                "tag": self.base_tag,
                "key": self.base_key,
                "action": self.base_action,
                "seconds": round(self.base_seconds, 3),
                "source": self.base_source,
                "pushed": self.base_pushed,
            },
            "image": {
                "id": self.image_id,
                "tags": list(self.tags),
                "dockerfile": self.dockerfile,
                "seconds": round(self.app_seconds, 3),
                "new-bytes": new,
                "shared-bytes": shared,
                "layers": [
                    {
                        "diff-id": layer.diff_id,
                        "size": layer.size,
                        "shared-with-base": layer.shared,
                        "created-by": layer.created_by,
                    }
                    for layer in self.layers
                ],
            },
            "warnings": list(self.warnings),
            "commands": list(self.commands),
        }

    @classmethod
    def of(
        cls,
        plan: BuildPlan,
        dockerfile: str,
        base: BaseOutcome,
        app: AppOutcome,
        *,
        warnings: list[str],
        dry_run: bool,
    ) -> BuildResult:
        """The result of a run from what became of its base and its app."""
        return cls(
            plan.tag,
            plan.key,
            base.action,
            base_seconds=base.seconds,
            app_seconds=app.seconds,
            image_id=app.image_id,
            tags=app.tags,
            dockerfile=dockerfile,
            layers=list(app.layers),
            warnings=[*warnings, *base.warnings, *app.warnings],
            commands=[*base.commands, *app.commands],
            dry_run=dry_run,
            base_source=base.source,
            base_pushed=base.pushed,
        )


METADATA_KEY = "uvbuild"


def metadata_facts(result: BuildResult) -> dict[str, Any]:
    """uvbuild's facts for ``--metadata-file``, under the ``uvbuild`` key."""
    document = result.to_dict()
    return {
        "schema": BUILD_SCHEMA,
        "base": document["base"],
        "image": {key: document["image"][key] for key in ("id", "tags", "dockerfile")},
    }


def write_metadata(path: Path, result: BuildResult) -> None:
    """Merge uvbuild's facts into the metadata JSON buildx wrote for the app build."""
    document: dict[str, Any] = {}
    if path.is_file():
        try:
            loaded = json.loads(path.read_text(encoding="utf-8") or "{}")
        except ValueError as exc:
            raise BuildFailed(f"--metadata-file {path}: buildx wrote no JSON ({exc})") from exc
        document = loaded if isinstance(loaded, dict) else {}
    document[METADATA_KEY] = metadata_facts(result)
    path.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
