"""What a build produced: the base's fate, the app image and its layers, as the ``--json``
document (``uvbuild.build/1``) and the facts merged into ``--metadata-file``."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from uvbuild.errors import BuildFailed

BUILD_SCHEMA = "uvbuild.build/1"


GENERATED = "generated"


@dataclass(frozen=True, slots=True)
class LayerReport:
    diff_id: str
    size: int
    shared: bool
    created_by: str


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
