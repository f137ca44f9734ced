"""The build verbs: ``docker buildx build`` streamed in its own process group (a failure
named by its step), and ``docker buildx bake --print``."""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Sequence
from pathlib import Path

from uvbuild.docker.commands.base import PROBE_TIMEOUT, DockerCommands
from uvbuild.docker.facts.build_output import disk_full, failing_step, last_line
from uvbuild.docker.facts.faults import FIX_BUILDER, FIX_BUILDX, FIX_DISK, text_tail
from uvbuild.docker.facts.values import LineSink
from uvbuild.docker.requests import BuildRequest, build_args
from uvbuild.errors import BuildFailed, EngineUnavailable


class BuildCommands(DockerCommands):
    """Builds and bake files, through the streaming runner and ``bake --print``."""

    def build(
        self, request: BuildRequest, on_line: LineSink, step: str, terminal: int | None = None
    ) -> None:
        """Run one build, streaming its output; failure raises BuildFailed naming the step.
        With ``terminal`` (a TTY's file descriptor) buildx draws on that TTY itself (see
        ``_stream``); ``--progress auto`` then gives BuildKit's compact TTY view.

        The child runs in its own process group. When uvbuild is interrupted (SIGINT,
        SIGTERM, or any error while streaming), the same signal goes to that group, which
        makes buildx cancel the solve; uvbuild waits for the group to be gone (killing it
        after STOP_GRACE_SECONDS) and re-raises, so nothing after the build (the base tag)
        happens.
        """
        for tag in request.tags:  # the build moves these tags
            self._seen_layers.pop(tag, None)
        env = {**os.environ, **dict(request.extra_env)} if request.extra_env else None
        command = [*self.docker_cmd, *build_args(request)]
        code, tail = self._stream(command, on_line, env, terminal)
        if code != 0:
            if any("booting buildkit" in line for line in tail):
                name = self.builder or "the current builder"
                raise EngineUnavailable(
                    f"buildx builder {name!r} could not start "
                    f"({failing_step(tail) or last_line(tail, code)}); {FIX_BUILDER}"
                )
            full = disk_full(tail)
            if full:
                raise BuildFailed(f"{step} failed: the engine's disk is full ({full}); {FIX_DISK}")
            raise BuildFailed(f"{step} failed: {failing_step(tail) or last_line(tail, code)}")

    def bake_print(self, bake_file: Path, targets: Sequence[str] = ()) -> dict[str, object]:
        """``docker buildx bake --print``: the bake file as buildx resolves it, unbuilt."""
        args = ["buildx", "bake", "--print", "-f", str(bake_file), *targets]
        if self.builder:
            args[2:2] = ["--builder", self.builder]
        proc = self._run(args, PROBE_TIMEOUT)
        if proc.returncode != 0:
            raise EngineUnavailable(
                f"docker buildx bake --print failed ({text_tail(proc.stderr, 'no output')}); "
                f"{FIX_BUILDX}"
            )
        try:
            return dict(json.loads(proc.stdout))
        except ValueError as exc:
            raise EngineUnavailable(f"docker buildx bake --print gave no JSON ({exc})") from exc

    def bake_keeps(self, attribute: str, value: object, workdir: Path) -> bool:
        """Whether this buildx keeps a target attribute of a bake file (buildx 0.13 drops
        ``network`` and ``extra-hosts`` without a word): probed with ``bake --print``."""
        probe = workdir / f"bake-probe-{uuid.uuid4().hex[:8]}.json"
        target = {"context": str(workdir), "dockerfile-inline": "FROM scratch\n", attribute: value}
        probe.write_text(json.dumps({"target": {"probe": target}}))
        try:
            printed = self.bake_print(probe, ["probe"])
        finally:
            probe.unlink(missing_ok=True)
        targets = printed.get("target")
        resolved = targets.get("probe", {}) if isinstance(targets, dict) else {}
        return isinstance(resolved, dict) and attribute in resolved
