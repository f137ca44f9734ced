"""The one fake engine and the recording reporter, for the tests that follow the flow
without Docker."""

from __future__ import annotations

import shlex
from collections.abc import Sequence
from pathlib import Path

from uvbuild.core import render
from uvbuild.docker.facts import BuilderInfo, Layer, Storage
from uvbuild.docker.requests import BuildRequest
from uvbuild.errors import BuildFailed, EngineUnavailable, Interrupted

BASE_ID = "sha256:" + "b" * 64
APP_ID = "sha256:" + "a" * 64


class FakeEngine:
    """Records every call; ``build`` writes the iidfile and can be told to fail."""

    def __init__(
        self,
        *,
        exists: bool = False,
        driver: str = "docker",
        fail: str | None = None,
        unavailable: bool = False,
        output: Sequence[str] = (),
        free: int | None = 10**15,
        interrupt: str | None = None,
    ) -> None:
        self.free = free  # bytes free in the engine's storage; None: not measurable
        self.interrupt = interrupt  # "base" or "app": the build is interrupted (SIGTERM)
        self.exists = exists
        self.driver = driver
        self.fail = fail  # "base" or "app"
        self.unavailable = unavailable
        self.output = list(output)
        self.calls: list[tuple] = []
        self.builds: list[BuildRequest] = []

    def check(self) -> BuilderInfo:
        self.calls.append(("check",))
        if self.unavailable:
            raise EngineUnavailable("no Docker engine answers at DOCKER_HOST=unix:///x.sock")
        return BuilderInfo("default", self.driver, "v0")

    def image_exists(self, ref: str) -> bool:
        self.calls.append(("image_exists", ref))
        return self.exists

    def build(self, request: BuildRequest, on_line, step: str) -> None:
        stage = "base" if request.target == render.BASE_STAGE else "app"
        self.calls.append(("build", stage))
        self.builds.append(request)
        lines = self.output if stage == "app" else ["#1 building the base"]
        for line in lines:
            on_line(line)
        if self.interrupt == stage:
            raise Interrupted("interrupted by SIGTERM", 15)
        if self.fail == stage:
            raise BuildFailed(f"{step} failed: ERROR: failed to solve")
        if request.iidfile:
            Path(request.iidfile).write_text(BASE_ID if stage == "base" else APP_ID)

    def tag(self, source: str, target: str) -> None:
        self.calls.append(("tag", source, target))

    def storage(self, local: bool | None = None) -> Storage:
        self.calls.append(("storage",))
        if self.free is None:
            return Storage("/var/lib/docker", None, "the engine is not on this machine")
        return Storage("/var/lib/docker", self.free)

    def image_layers(self, ref: str) -> list[Layer]:
        self.calls.append(("image_layers", ref))
        base = [Layer("sha256:l1", "FROM python", 100)]
        if ref == APP_ID:
            return [*base, Layer("sha256:l2", "RUN uv sync", 7)]
        return base

    def diff_ids(self, ref: str) -> list[str]:
        self.calls.append(("diff_ids", ref))
        return ["sha256:l1"]

    def command_line(self, args: Sequence[str]) -> str:
        return shlex.join(["docker", *args])

    def containerd_store(self) -> bool:
        self.calls.append(("containerd_store",))
        return getattr(self, "store", False)

    # helpers for the assertions
    def named(self, name: str) -> list[tuple]:
        return [call for call in self.calls if call[0] == name]

    def stage(self, stage: str) -> BuildRequest:
        (request,) = [
            r for r in self.builds if (r.target == render.BASE_STAGE) == (stage == "base")
        ]
        return request


class FakeReport:
    def __init__(self) -> None:
        self.messages: list[tuple[str, str]] = []

    def _add(kind):
        def add(self, message: str) -> None:
            self.messages.append((kind, message))

        return add

    step = _add("step")
    info = _add("info")
    warn = _add("warn")
    detail = _add("detail")
    stream = _add("stream")

    def of(self, kind: str) -> list[str]:
        return [m for k, m in self.messages if k == kind]
