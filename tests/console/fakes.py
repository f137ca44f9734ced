"""A stand-in for ``BuildResult`` that the summary tests fill as they need."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class FakeResult:
    tags: tuple[str, ...] = ("app:dev",)
    image_id: str | None = "sha256:abc"
    layers: tuple = ()
    base_tag: str = "app-uvbuild-base:0123"
    base_action: str = "reused"
    base_seconds: float = 0.0
    app_seconds: float = 1.0
