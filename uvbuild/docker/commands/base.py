"""What every docker command of the engine's verbs goes through: the docker command
prefix ``Engine`` supplies, the runner with a timeout for short commands, the streaming
runner for long ones, and where the engine answers (for the error lines)."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
from collections.abc import Sequence

from uvbuild.docker import process
from uvbuild.docker.facts.faults import FIX_CLI, text_tail
from uvbuild.docker.facts.values import LineSink
from uvbuild.errors import EngineUnavailable

PROBE_TIMEOUT = 120.0


REGISTRY_TIMEOUT = 60.0


class DockerCommands:
    """What each kind of verb runs its commands with; ``Engine`` supplies the docker
    command prefix, the builder, the logging sinks, and the verbs its client answers."""

    builder: str | None
    _log: LineSink
    _trace: LineSink | None
    # ref -> diff ids, as image_labels read them this run; dropped when uvbuild moves the tag
    _seen_layers: dict[str, tuple[str, ...]]

    @property
    def docker_cmd(self) -> list[str]:
        raise NotImplementedError

    def image_exists(self, ref: str) -> bool:
        raise NotImplementedError

    def remove_image(self, ref: str) -> None:
        raise NotImplementedError

    def _run(
        self, args: Sequence[str], timeout: float | None = None
    ) -> subprocess.CompletedProcess[str]:
        """A short docker command with a timeout (python-on-whales' runner has none, and
        a registry that does not answer must not hang uvbuild)."""
        command = [*self.docker_cmd, *args]
        if self._trace is not None:
            self._trace(f"$ {shlex.join(command)}")
        try:
            return process.run(command, timeout)
        except OSError as exc:
            raise EngineUnavailable(f"cannot run {command[0]}: {exc}; {FIX_CLI}") from exc

    def cli_version(self) -> str:
        """``Docker version 28.2.2, build e6534b4``."""
        proc = self._run(["--version"], timeout=30)
        return proc.stdout.strip() or text_tail(proc.stderr, "unknown version")

    def _where(self) -> str:
        if os.environ.get("DOCKER_HOST"):
            return f"DOCKER_HOST={os.environ['DOCKER_HOST']}"
        context = os.environ.get("DOCKER_CONTEXT")
        endpoint = self._endpoint()
        name = f"context {context}" if context else "the current context"
        return f"{name} ({endpoint})" if endpoint else name

    def _endpoint(self) -> str | None:
        """The docker endpoint of the current context (DOCKER_HOST wins), read offline."""
        if os.environ.get("DOCKER_HOST"):
            return os.environ["DOCKER_HOST"]
        proc = self._run(["context", "inspect", "--format", "{{json .Endpoints.docker.Host}}"], 30)
        if proc.returncode != 0:
            return None
        try:
            return str(json.loads(proc.stdout.strip().splitlines()[0]))
        except (ValueError, IndexError):
            return None

    def _stream(
        self,
        command: list[str],
        on_line: LineSink,
        env: dict[str, str] | None = None,
        terminal: int | None = None,
    ) -> tuple[int, list[str]]:
        """A long docker command through the runner's ``stream`` (its own process group,
        interrupts forwarded); python-on-whales' build returns only when buildx exits, and
        uvbuild must stop the solve on an interrupt and show the output as it comes."""
        (self._trace or self._log)(f"$ {shlex.join(command)}")
        try:
            return process.stream(command, on_line, env, terminal)
        except OSError as exc:
            raise EngineUnavailable(f"cannot run {command[0]}: {exc}; {FIX_CLI}") from exc
