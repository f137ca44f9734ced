"""The probes of ``uvbuild doctor``: a build with the builder's Dockerfile frontend, a push
to the base repository, whether an image can be found; nothing is pulled or kept."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

from uvbuild.docker.commands.base import PROBE_TIMEOUT, REGISTRY_TIMEOUT, DockerCommands
from uvbuild.docker.facts.build_output import failing_step
from uvbuild.docker.facts.faults import text_tail
from uvbuild.docker.facts.values import Probe
from uvbuild.docker.requests import BuildRequest, build_args

_PROBE_DOCKERFILE = (
    "# uvbuild doctor: named build contexts and COPY --link, no image pulled\n"
    "FROM scratch\n"
    "COPY --link --from=probe /probe.txt /probe.txt\n"
)


class ProbeCommands(DockerCommands):
    """Probe builds and look-ups that answer with a :class:`Probe`."""

    def probe_frontend(self, workdir: Path) -> Probe:
        """Build a two-line Dockerfile that needs a named build context and ``COPY --link``
        with the selected builder's Dockerfile frontend; nothing is pulled or kept."""
        work = self._probe_dir(workdir)
        proc = self._run(
            build_args(self._probe_request(work, outputs=("type=cacheonly",))), PROBE_TIMEOUT
        )
        if proc.returncode == 0:
            return Probe(True, "a probe build with --build-context and COPY --link worked")
        lines = proc.stderr.splitlines()
        return Probe(False, failing_step(lines) or text_tail(proc.stderr, "probe build failed"))

    def probe_push(self, repo: str, workdir: Path) -> Probe:
        """Push a one-layer, few-byte image to ``<repo>:uvbuild-doctor`` (the registry
        sees a real push with the user's credentials), then drop the local tag."""
        work = self._probe_dir(workdir)
        ref = f"{repo}:uvbuild-doctor"
        proc = self._run(
            build_args(self._probe_request(work, tags=(ref,), push=True)), REGISTRY_TIMEOUT
        )
        self.remove_image(ref)
        if proc.returncode == 0:
            return Probe(True, f"pushed a probe image to {ref}")
        return Probe(False, text_tail(proc.stderr, f"push to {ref} failed"))

    def _probe_request(self, work: Path, **flags: Any) -> BuildRequest:
        """The probe build of ``_probe_dir``'s files with the selected builder."""
        return BuildRequest(
            context=str(work / "context"),
            file=str(work / "Dockerfile"),
            build_contexts=(("probe", str(work / "probe")),),
            builder=self.builder,
            progress="plain",
            **flags,
        )

    @staticmethod
    def _probe_dir(workdir: Path) -> Path:
        work = workdir / f"probe-{uuid.uuid4().hex[:8]}"
        (work / "context").mkdir(parents=True)
        (work / "probe").mkdir()
        # Unique content: two doctors at once never share (and remove) one probe image.
        (work / "probe" / "probe.txt").write_text(f"uvbuild doctor {uuid.uuid4().hex}\n")
        (work / "Dockerfile").write_text(_PROBE_DOCKERFILE)
        return work

    def resolve_image(self, ref: str) -> Probe:
        """Whether ``ref`` is in the engine or, failing that, in its registry."""
        if self.image_exists(ref):
            return Probe(True, f"{ref} is in the engine")
        proc = self._run(["buildx", "imagetools", "inspect", ref], REGISTRY_TIMEOUT)
        if proc.returncode == 0:
            return Probe(True, f"{ref} is in its registry (pulled at the first build)")
        return Probe(False, f"{ref}: {text_tail(proc.stderr, 'not found')}")
