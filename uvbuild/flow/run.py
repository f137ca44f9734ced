"""What every step of one build reads: the keyed plan, the options, the engine, the reporter,
the policy, the user's Dockerfile and the directory of the generated inputs (:class:`Run`),
and the one way a build request is run on the terminal (:meth:`Run.build`)."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from uvbuild.core.model import BuildPlan
from uvbuild.docker.requests import BuildRequest
from uvbuild.docker.verbs import EngineLike
from uvbuild.flow.decide import Policy
from uvbuild.flow.options import BuildOptions


class Reporter(Protocol):
    def step(self, message: str) -> None: ...
    def info(self, message: str) -> None: ...
    def warn(self, message: str) -> None: ...
    def detail(self, message: str) -> None: ...
    def stream(self, line: str) -> None: ...


@dataclass(frozen=True, slots=True)
class Run:
    """One build, once its plan is keyed and its inputs have a directory."""

    plan: BuildPlan
    options: BuildOptions
    engine: EngineLike
    report: Reporter
    policy: Policy
    work: Path  # the generated inputs (flow.requests.write_inputs)
    user_dockerfile: Path | None  # None: the generated Dockerfile
    lock_dir: Path  # where the per-base build locks live

    def build(self, request: BuildRequest, sink: Callable[[str], None], step: str) -> None:
        """One build: on a terminal with ``--progress auto`` (or ``tty``) buildx draws its
        own view there and ``sink`` gets a plain copy of it; otherwise its output streams
        through ``sink`` line by line."""
        view = getattr(self.report, "build_view", None)
        with view(request.progress) if view else contextlib.nullcontext() as terminal:
            if terminal is None:
                self.engine.build(request, sink, step=step)
            else:
                self.engine.build(request, sink, step=step, terminal=terminal)
