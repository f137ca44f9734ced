"""What the tests of the build flow share: running a BuildFlow on a fake engine, and a fake
engine with a registry."""

from __future__ import annotations

from tests.fakes import REGISTRY_BLOBS, RIGHT_KEY, FakeEngine, FakeReport, registry_base
from uvbuild.core.render.dockerfile_names import BASE_STAGE
from uvbuild.docker.requests import BuildRequest
from uvbuild.errors import EngineUnavailable
from uvbuild.flow.build import BuildFlow
from uvbuild.flow.options import BuildOptions

FLAGS = {"platform": "linux/amd64", "python": "3.11"}


def run(plan, engine: FakeEngine, **options):
    report = FakeReport()
    result = BuildFlow(plan, BuildOptions(**options), engine, report).run()
    return result, report


def contexts_of(request: BuildRequest) -> dict[str, str]:
    return dict(request.build_contexts)


REGISTRY_REPO = "127.0.0.1:5000/team/base"
REGISTRY_DIFF_IDS = ("sha256:l1", "sha256:r2")


class RegistryEngine(FakeEngine):
    """A FakeEngine with a registry: ``in_registry`` holds the refs it has; a push or a
    pushing build adds one. ``unreachable`` makes every registry question fail;
    ``registry_label``: the ``io.uvbuild.key`` label of its images (by default the key of
    their tag; None: none)."""

    def __init__(
        self,
        *,
        in_registry: bool = False,
        unreachable: bool = False,
        registry_label: str | None = RIGHT_KEY,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.registry: set[str] = set()
        self.in_registry = in_registry
        self.unreachable = unreachable
        self.registry_label = registry_label

    def registry_image(self, ref: str, platform: str | None = None):
        self.calls.append(("registry_image", ref))
        if self.unreachable:
            raise EngineUnavailable("the registry 127.0.0.1:5000 cannot be reached (refused)")
        if self.in_registry or ref in self.registry:
            return registry_base(ref, REGISTRY_DIFF_IDS, 123, self.registry_label)
        return None

    def push_image(self, ref: str, on_line) -> None:
        self.calls.append(("push_image", ref))
        self.registry.add(ref)

    def build(self, request: BuildRequest, on_line, step: str) -> None:
        super().build(request, on_line, step)
        if request.push and request.target == BASE_STAGE:
            self.registry.update(request.tags)


# an io.uvbuild.key label that is not the plan's key
OTHER_KEY = "f" * 64


# a blob of the registry's base that its registry no longer holds
LOST_BLOB = REGISTRY_BLOBS[1]
