"""uvbuild.build: the order of the build steps, followed with a fake engine (no Docker)."""

from __future__ import annotations

import re
import shutil
import threading
from pathlib import Path

import pytest

from tests.fakes import (
    APP_ID,
    BASE_ID,
    REGISTRY_BLOBS,
    RIGHT_KEY,
    FakeEngine,
    FakeReport,
    keyed_plan,
    registry_base,
)
from tests.paths import FIXTURES
from uvbuild import keylock
from uvbuild.core import render, requirements
from uvbuild.docker.facts.build_output import wasted_base
from uvbuild.docker.facts.values import Storage
from uvbuild.docker.requests import BuildRequest, build_args
from uvbuild.errors import BuildFailed, ConfigError, EngineUnavailable, Interrupted
from uvbuild.flow.build import BuildFlow
from uvbuild.flow.inputs import (
    CACHE_FACTOR,
    LAYER_FACTOR,
    UNKNOWN_WHEEL_BYTES,
    base_disk_estimate,
    disk_shortfall,
    plan_disk_estimate,
)
from uvbuild.flow.options import BuildOptions
from uvbuild.flow.result import GENERATED

FLAGS = {"platform": "linux/amd64", "python": "3.11"}


@pytest.fixture(scope="module")
def plan():
    return keyed_plan(FIXTURES / "two_indexes", FLAGS)


def run(plan, engine: FakeEngine, **options):
    report = FakeReport()
    result = BuildFlow(plan, BuildOptions(**options), engine, report).run()
    return result, report


def _context(request: BuildRequest) -> dict[str, str]:
    return dict(request.build_contexts)


# -- base reuse and build ---------------------------------------------------------------------


def test_existing_base_is_reused(plan):
    engine = FakeEngine(exists=True)
    result, report = run(plan, engine, tags=("app:dev",))
    assert [c[0] for c in engine.calls if c[0] in ("build", "tag")] == ["build"]
    assert engine.named("build") == [("build", "app")]
    assert engine.named("image_labels") == [("image_labels", plan.tag)]
    app = engine.stage("app")
    assert _context(app)[render.BASE_STAGE] == f"docker-image://{plan.tag}"
    assert app.tags == ("app:dev",)
    assert result.base_action == "reused"
    assert any("reusing base" in m for m in report.of("step"))


class ClaimingEngine(FakeEngine):
    """Tries, at each build, what ``uvbuild gc`` tries before removing the plan's base."""

    def __init__(self, lock_dir: Path, key: str, **kwargs) -> None:
        super().__init__(**kwargs)
        self.lock_dir, self.key, self.claims = lock_dir, key, []

    def build(self, request, on_line, step, terminal=None) -> None:
        with keylock.claim(self.lock_dir, self.key) as claimed:
            self.claims.append(claimed)
        super().build(request, on_line, step, terminal)


@pytest.mark.parametrize("exists", [True, False])
def test_the_base_is_in_use_from_its_lookup_to_the_end_of_the_app_build(plan, exists):
    flow = BuildFlow(plan, BuildOptions(), FakeEngine(), FakeReport())
    engine = ClaimingEngine(flow.lock_dir, plan.key, exists=exists)
    run(plan, engine)
    assert engine.claims == [False] * (1 if exists else 2)  # gc could claim it at no build
    with keylock.claim(flow.lock_dir, plan.key) as claimed:
        assert claimed is True  # released after the run


def test_a_build_waits_while_gc_removes_its_base_then_looks_again(plan):
    flow = BuildFlow(plan, BuildOptions(), FakeEngine(), FakeReport())
    with keylock.claim(flow.lock_dir, plan.key) as claimed:
        assert claimed
        done: list[object] = []
        worker = threading.Thread(target=lambda: done.append(run(plan, FakeEngine(exists=False))))
        worker.start()
        worker.join(0.5)
        assert worker.is_alive() and not done  # waiting for gc
    worker.join(10)
    _result, report = done[0]
    assert any("(uvbuild gc), which is removing base" in m for m in report.of("step"))


def test_app_build_passes_the_base_as_a_named_context(plan):
    engine = FakeEngine(exists=True)
    run(plan, engine)
    args = build_args(engine.stage("app"))
    assert f"uvbuild-base=docker-image://{plan.tag}" in args
    assert args[args.index(f"uvbuild-base=docker-image://{plan.tag}") - 1] == "--build-context"
    assert args[-1] == plan.project_dir


def test_missing_base_is_built_then_tagged(plan):
    engine = FakeEngine(exists=False)
    result, _ = run(plan, engine)
    order = [c for c in engine.calls if c[0] in ("build", "tag")]
    assert order == [("build", "base"), ("tag", BASE_ID, plan.tag), ("build", "app")]
    base = engine.stage("base")
    assert base.target == "uvbuild-base"
    assert base.iidfile and base.iidfile.endswith("base.iid")
    assert base.load is True
    assert base.no_cache is False
    assert base.platforms == ("linux/amd64",)
    assert render.HEAVY_CONTEXT in _context(base)
    assert result.base_action == "built"
    assert result.image_id == APP_ID


def light_plan():
    return keyed_plan(FIXTURES / "two_indexes", {**FLAGS, "pool_threshold": "10kB"})


def test_the_light_stages_build_beside_the_base_with_the_app_builds_flags():
    engine = FakeEngine()
    run(light_plan(), engine, network="host", build_args=(("A", "1"),))
    by_target = {r.target: r for r in engine.builds}
    light, app = by_target[render.LIGHT_WARM_STAGE], by_target[None]
    assert sorted(stage for _, stage in engine.named("build")) == ["app", "base", "light"]
    # what decides the light stages' cache keys is the app build's
    assert (light.network, light.build_args, light.file) == (app.network, app.build_args, app.file)
    assert light.outputs == ("type=cacheonly",) and not (light.load or light.push or light.tags)
    assert light.iidfile is None
    # the base does not exist yet: its named context is left out
    assert render.BASE_STAGE in _context(app) and render.BASE_STAGE not in _context(light)
    assert f"AS {render.LIGHT_WARM_STAGE}\n" in render.dockerfile(light_plan())


def test_a_failing_light_stages_build_is_left_to_the_app_build():
    result, report = run(light_plan(), FakeEngine(fail="light"))
    assert result.image_id == APP_ID
    assert not report.of("warn")


def test_no_light_stages_build_without_light_layers_or_with_a_base(plan):
    engine = FakeEngine()
    run(plan, engine)
    assert [stage for _, stage in engine.named("build")] == ["base", "app"]
    engine = FakeEngine(exists=True)
    run(light_plan(), engine)
    assert [stage for _, stage in engine.named("build")] == ["app"]


def test_app_build_writes_the_light_layers_requirements_in_its_dockerfile():
    plan = keyed_plan(FIXTURES / "two_indexes", {**FLAGS, "pool_threshold": "10kB"})
    seen = {}

    class Inspecting(FakeEngine):
        def build(self, request, on_line, step):
            if request.target != render.BASE_STAGE:
                heavy = Path(_context(request)[render.HEAVY_CONTEXT])
                seen.update({p.name: p.read_text() for p in heavy.iterdir()})
                seen["Dockerfile"] = Path(request.file).read_text()
            super().build(request, on_line, step)

    run(plan, Inspecting())
    # no file of the context: a mount of one is one more load of the context per build
    assert "layer-light-six-1.txt" not in seen
    assert "AS uvbuild-layers-light-1\n" in seen["Dockerfile"]
    assert "printf '%s\\n' 'six==1.17.0 --hash=sha256:" in seen["Dockerfile"]


def test_base_build_gets_the_heavy_requirement_files(plan):
    seen = {}

    class Inspecting(FakeEngine):
        def build(self, request, on_line, step):
            if request.target == render.BASE_STAGE:
                heavy = Path(_context(request)[render.HEAVY_CONTEXT])
                seen.update({p.name: p.read_text() for p in heavy.iterdir()})
                seen["Dockerfile"] = Path(request.file).read_text()
            super().build(request, on_line, step)

    run(plan, Inspecting())
    expected = {heavy.name: heavy.text for heavy in requirements.heavy_files(plan)}
    assert {name: seen[name] for name in expected} == expected
    texts = sorted(expected.values())
    assert texts[0].startswith("nvidia-cublas-cu12==12.8.4.1 --hash=sha256:")
    assert texts[1] == "torch==2.7.1+cu128\n"
    assert seen["Dockerfile"] == render.dockerfile(plan)


def test_failed_base_build_is_not_tagged(plan):
    engine = FakeEngine(exists=False, fail="base")
    with pytest.raises(BuildFailed):
        run(plan, engine)
    assert engine.named("tag") == []
    assert engine.named("build") == [("build", "base")]


NO_PYTHON_LINE = (
    "#9 0.4 error: No interpreter found for Python 3.11 in managed installations or search path"
)


def test_a_base_image_without_python_is_one_line_exit_2(plan):
    engine = FakeEngine(exists=False, fail="base", base_output=[NO_PYTHON_LINE])
    with pytest.raises(ConfigError) as info:
        run(plan, engine)
    message = str(info.value)
    assert "has no Python 3.11" in message and "--python-downloads automatic" in message
    assert "\n" not in message
    assert engine.named("tag") == []


def test_a_seed_system_part_without_python_names_the_dockerfile(tmp_path):
    project = tmp_path / "proj"
    shutil.copytree(FIXTURES / "two_indexes", project)
    (project / "Dockerfile").write_text(
        "FROM debian:bookworm\nENV UV_PYTHON_DOWNLOADS=never\nWORKDIR /app\n"
        "COPY pyproject.toml uv.lock ./\nRUN uv sync --frozen --no-install-project\n"
    )
    seeded = keyed_plan(project, FLAGS)
    engine = FakeEngine(exists=False, fail="base", base_output=[NO_PYTHON_LINE])
    with pytest.raises(ConfigError) as info:
        run(seeded, engine)
    message = str(info.value)
    assert message.startswith(f"{project / 'Dockerfile'}: ") and "uv python install" in message


def test_failed_app_build_propagates(plan):
    engine = FakeEngine(exists=True, fail="app")
    with pytest.raises(BuildFailed, match="the app build failed"):
        run(plan, engine)


def test_rebuild_base_builds_an_existing_base_without_cache(plan):
    engine = FakeEngine(exists=True)
    result, report = run(plan, engine, rebuild_base=True)
    assert engine.named("build") == [("build", "base"), ("build", "app")]
    assert engine.stage("base").no_cache is True
    assert engine.stage("app").no_cache is False
    assert engine.named("tag") == [("tag", BASE_ID, plan.tag)]
    assert result.base_action == "rebuilt"
    assert any("--rebuild-base" in m for m in report.of("step"))


def test_no_cache_applies_to_the_app_only(plan):
    engine = FakeEngine(exists=False)
    run(plan, engine, no_cache=True)
    assert engine.stage("base").no_cache is False
    assert engine.stage("app").no_cache is True


def test_docker_container_driver_is_refused(plan):
    engine = FakeEngine(driver="docker-container")
    with pytest.raises(EngineUnavailable, match="docker-container driver"):
        run(plan, engine)
    assert engine.builds == []


def test_engine_unavailable_propagates(plan):
    engine = FakeEngine(unavailable=True)
    with pytest.raises(EngineUnavailable):
        run(plan, engine)
    assert engine.builds == []


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        ({}, True),
        ({"push": True}, False),
        ({"load": False}, False),
        ({"push": True, "load": True}, True),
    ],
)
def test_load_follows_push_unless_given(plan, options, expected):
    engine = FakeEngine(exists=True)
    run(plan, engine, **options)
    assert engine.stage("app").load is expected


def test_layer_report_marks_layers_shared_with_the_base(plan):
    engine = FakeEngine(exists=True)
    result, _ = run(plan, engine)
    assert [(layer.diff_id, layer.shared) for layer in result.layers] == [
        ("sha256:l1", True),
        ("sha256:l2", False),
    ]
    document = result.to_dict()
    assert document["image"]["new-bytes"] == 7
    assert document["image"]["shared-bytes"] == 100


# -- dry run ----------------------------------------------------------------------------------


def test_dry_run_records_commands_and_builds_nothing(plan):
    engine = FakeEngine(exists=False)
    result, _ = run(plan, engine, dry_run=True, tags=("app:dev",))
    assert engine.builds == []
    assert engine.named("tag") == []
    assert len(result.commands) == 3
    base_cmd, tag_cmd, app_cmd = result.commands
    assert base_cmd.startswith("docker buildx build ") and "--target uvbuild-base" in base_cmd
    assert tag_cmd == f"docker tag '<image id>' {plan.tag}"
    assert f"uvbuild-base=docker-image://{plan.tag}" in app_cmd
    assert "--tag app:dev" in app_cmd
    assert result.dry_run and result.base_action == "would build (built)"


def test_dry_run_with_an_existing_base(plan):
    engine = FakeEngine(exists=True)
    result, _ = run(plan, engine, dry_run=True)
    assert engine.builds == []
    assert len(result.commands) == 1
    assert result.base_action == "would reuse"


def test_dry_run_without_an_engine_warns(plan):
    engine = FakeEngine(unavailable=True)
    result, report = run(plan, engine, dry_run=True)
    assert engine.named("image_labels") == []
    assert engine.builds == []
    assert len(result.commands) == 3
    (warning,) = report.of("warn")
    assert warning.startswith("dry run without an engine")


# -- which Dockerfile -------------------------------------------------------------------------


@pytest.fixture
def project(tmp_path: Path) -> Path:
    target = tmp_path / "proj"
    shutil.copytree(FIXTURES / "two_indexes", target)
    return target


def test_user_dockerfile_is_used_when_it_uses_the_base(project):
    (project / "Dockerfile").write_text("FROM uvbuild-base\nCOPY . .\n")
    engine = FakeEngine(exists=True)
    result, _ = run(keyed_plan(project, FLAGS), engine)
    assert engine.stage("app").file == str(project / "Dockerfile")
    assert result.dockerfile == str(project / "Dockerfile")


def test_user_dockerfile_without_the_base_is_an_error(project):
    (project / "Dockerfile").write_text("FROM python:3.11\nCOPY . .\n")
    engine = FakeEngine(exists=True)
    with pytest.raises(ConfigError) as info:
        run(keyed_plan(project, FLAGS), engine)
    message = str(info.value)
    assert "FROM uvbuild-base" in message and 'dockerfile = "generated"' in message
    assert engine.calls == []


def test_commented_base_line_does_not_count(project):
    (project / "Dockerfile").write_text("# FROM uvbuild-base\nFROM python:3.11\n")
    with pytest.raises(ConfigError):
        run(keyed_plan(project, FLAGS), FakeEngine())


def test_generated_setting_ignores_the_project_dockerfile(project):
    (project / "Dockerfile").write_text("FROM python:3.11\n")
    with (project / "pyproject.toml").open("a") as fh:
        fh.write('\n[tool.uvbuild]\ndockerfile = "generated"\n')
    engine = FakeEngine(exists=True)
    result, _ = run(keyed_plan(project, FLAGS), engine)
    assert result.dockerfile == GENERATED
    assert Path(engine.stage("app").file).name == "Dockerfile"
    assert Path(engine.stage("app").file).parent != project


def test_file_option_must_exist(project):
    with pytest.raises(ConfigError, match="--file"):
        keyed_plan(project, FLAGS, dockerfile=str(project / "nope"))


def test_generated_build_ignores_the_venv(project):
    (project / ".dockerignore").write_text("secrets/\n")
    seen = {}

    class Inspecting(FakeEngine):
        def build(self, request, on_line, step):
            ignore = Path(request.file).with_name("Dockerfile.dockerignore")
            seen["ignore"] = ignore.read_text()
            super().build(request, on_line, step)

    run(keyed_plan(project, FLAGS), Inspecting(exists=True))
    assert seen["ignore"].splitlines()[0] == "secrets/"
    assert ".venv" in seen["ignore"].splitlines()


# -- wasted base ------------------------------------------------------------------------------


def test_wasted_base_warns_on_a_reinstalled_heavy_package():
    lines = ["#9 1.2 Installed 2 packages in 3ms", "#9 1.2  + fake-torch==2.0.0", " + six==1.0"]
    (warning,) = wasted_base(lines, ["fake-torch"], "/opt/venv")
    assert "fake-torch" in warning and "reinstalled" in warning
    assert "six" not in warning


def test_wasted_base_normalises_names():
    (warning,) = wasted_base([" - Fake_Torch==1.0", " + Fake_Torch==2.0"], ["fake-torch"], "/v")
    assert "heavy package(s) from the base: fake-torch;" in warning


def test_wasted_base_warns_on_a_recreated_venv():
    lines = ["#9 0.3 Removed virtual environment at: /opt/venv", " + fake-torch==2.0.0"]
    (warning,) = wasted_base(lines, ["fake-torch"], "/opt/venv")
    assert "recreated the virtual environment /opt/venv" in warning


def test_wasted_base_is_silent_for_light_packages():
    lines = [" + six==1.17.0", " - idna==3.9", " + idna==3.10", "Resolved 12 packages"]
    assert wasted_base(lines, ["fake-torch", "nvidia-cublas-cu12"], "/opt/venv") == []


def test_wasted_base_leaves_out_the_layer_stages():
    lines = [
        "#14 [uvbuild-layers-light-1 4/4] RUN uv venv --prompt synthapp /opt/venv",
        "#14 0.171 Creating virtual environment at: /opt/venv",
        "#14 0.3  + midpkg-a==1.0.0",
        "#15 [uvbuild-deps 3/3] RUN uv sync --frozen --no-install-project",
        "#15 0.4  + six==1.17.0",
    ]
    assert wasted_base(lines, ["midpkg-a"], "/opt/venv") == []
    (warning,) = wasted_base([*lines, "#15 0.5  + midpkg-a==1.0.0"], ["midpkg-a"], "/opt/venv")
    assert "midpkg-a" in warning


def test_wasted_base_reaches_the_result(plan):
    engine = FakeEngine(exists=True, output=["#9 0.4  + torch==2.7.1+cu128"])
    result, report = run(plan, engine)
    assert len(result.warnings) == 1 and "torch" in result.warnings[0]
    assert report.of("warn") == result.warnings
    assert "#9 0.4  + torch==2.7.1+cu128" in report.of("stream")


# -- interrupts -------------------------------------------------------------------------------


def test_interrupted_base_build_is_not_tagged_and_says_so(plan):
    engine = FakeEngine(exists=False, interrupt="base")
    with pytest.raises(Interrupted) as info:
        run(plan, engine)
    assert info.value.exit_code == 143
    assert engine.named("tag") == []
    assert engine.named("build") == [("build", "base")]
    message = str(info.value)
    assert message.startswith("interrupted by SIGTERM while building the base")
    assert f"{plan.tag} was not tagged" in message


def test_interrupted_app_build_propagates(plan):
    engine = FakeEngine(exists=True, interrupt="app")
    with pytest.raises(Interrupted) as info:
        run(plan, engine)
    assert info.value.exit_code == 143


# -- disk -------------------------------------------------------------------------------------

FACTOR = LAYER_FACTOR + CACHE_FACTOR


def test_disk_estimate_of_known_sizes():
    estimate = base_disk_estimate([1_000_000_000, 500_000_000])
    assert estimate.wheel_bytes == 1_500_000_000
    assert estimate.unknown == 0
    assert estimate.expected == round(1_500_000_000 * FACTOR)
    assert "1.5 GB of heavy wheels" in estimate.describe()


def test_disk_estimate_counts_unknown_sizes():
    estimate = base_disk_estimate([100, None, None])
    assert estimate.unknown == 2
    assert estimate.wheel_bytes == 100
    assert estimate.expected == round((100 + 2 * UNKNOWN_WHEEL_BYTES) * FACTOR)
    assert "2 of unknown size" in estimate.describe()


def test_disk_estimate_of_nothing():
    assert base_disk_estimate([]).expected == 0


def test_plan_disk_estimate_uses_the_heavy_wheels(plan):
    estimate = plan_disk_estimate(plan)
    sizes = [selected.size for selected in plan.heavy]
    assert estimate == base_disk_estimate(sizes)
    # torch comes from the PyTorch index, which records no size.
    assert estimate.unknown == sum(1 for size in sizes if size is None) >= 1


@pytest.mark.parametrize(
    ("free", "short"),
    [(None, False), (10**15, False), (0, True), (round(1000 * FACTOR) - 1, True)],
)
def test_disk_shortfall(free, short):
    estimate = base_disk_estimate([1000])
    warning = disk_shortfall(estimate, Storage("/var/lib/docker", free, "remote"))
    assert (warning is not None) is short
    if short:
        assert "/var/lib/docker has" in warning and "docker builder prune" in warning


def test_short_disk_warns_before_the_base_build(plan):
    engine = FakeEngine(exists=False, free=1000)
    result, report = run(plan, engine)
    calls = [c[0] for c in engine.calls if c[0] in ("storage", "build")]
    assert calls == ["storage", "build", "build"]
    (warning,) = report.of("warn")
    assert warning.startswith("the base needs about")
    assert result.warnings == [warning]
    # The warning comes before the base build's step line.
    kinds = [kind for kind, _ in report.messages]
    assert kinds.index("warn") < kinds.index("step")


def test_enough_disk_or_unmeasurable_disk_does_not_warn(plan):
    for free in (10**15, None):
        engine = FakeEngine(exists=False, free=free)
        result, report = run(plan, engine)
        assert report.of("warn") == [] and result.warnings == []


def test_reused_base_needs_no_disk_check(plan):
    engine = FakeEngine(exists=True, free=0)
    _result, report = run(plan, engine)
    assert engine.named("storage") == []
    assert report.of("warn") == []


# -- registry bases, builders outside the engine, cache export, the per-base lock (#4) -------

REGISTRY_REPO = "127.0.0.1:5000/team/base"
REGISTRY_DIFF_IDS = ("sha256:l1", "sha256:r2")


@pytest.fixture(autouse=True)
def _private_cache(monkeypatch, tmp_path: Path) -> None:
    """Locks (and dry-run files) go to a per-test cache directory."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))


@pytest.fixture(scope="module")
def registry_plan():
    return keyed_plan(FIXTURES / "two_indexes", {**FLAGS, "base_repo": REGISTRY_REPO})


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
        if request.push and request.target == render.BASE_STAGE:
            self.registry.update(request.tags)


def test_registry_base_is_reused_without_building(registry_plan):
    engine = RegistryEngine(in_registry=True)
    result, report = run(registry_plan, engine, tags=("app:dev",))
    assert engine.named("build") == [("build", "app")]
    assert engine.named("tag") == []
    assert engine.named("image_labels") == [("image_labels", registry_plan.tag)]
    app = engine.stage("app")
    assert _context(app)[render.BASE_STAGE] == f"docker-image://{registry_plan.tag}"
    assert result.base_action == "reused"
    assert result.to_dict()["base"]["source"] == "registry"
    assert any(m.startswith("reusing base from registry") for m in report.of("step"))
    # The layer report takes the base's diff ids from the registry, not the engine.
    assert engine.named("diff_ids") == []
    assert [(layer.diff_id, layer.shared) for layer in result.layers] == [
        ("sha256:l1", True),
        ("sha256:l2", False),
    ]


def test_local_base_wins_over_the_registry(registry_plan):
    engine = RegistryEngine(exists=True, in_registry=True)
    result, _ = run(registry_plan, engine)
    assert engine.named("registry_image") == []
    assert result.to_dict()["base"]["source"] == "engine"
    assert engine.named("build") == [("build", "app")]


def test_local_base_repo_never_asks_a_registry(plan):
    engine = RegistryEngine(exists=False)
    run(plan, engine)
    assert engine.named("registry_image") == []


def test_missing_registry_base_is_built_locally_and_not_pushed_by_default(registry_plan):
    engine = RegistryEngine()
    result, _ = run(registry_plan, engine)
    order = [c for c in engine.calls if c[0] in ("build", "tag", "push_image")]
    assert order == [("build", "base"), ("tag", BASE_ID, registry_plan.tag), ("build", "app")]
    assert engine.stage("base").load is True and engine.stage("base").push is False
    assert result.base_action == "built"
    assert result.to_dict()["base"]["pushed"] is False


def test_push_base_pushes_after_tagging(registry_plan):
    engine = RegistryEngine()
    result, report = run(registry_plan, engine, push_base=True)
    order = [c for c in engine.calls if c[0] in ("build", "tag", "push_image")]
    assert order == [
        ("build", "base"),
        ("tag", BASE_ID, registry_plan.tag),
        ("push_image", registry_plan.tag),
        ("build", "app"),
    ]
    assert result.to_dict()["base"] | {"seconds": 0} == {
        "tag": registry_plan.tag,
        "key": registry_plan.key,
        "action": "built",
        "seconds": 0,
        "source": "engine",
        "pushed": True,
    }
    assert any(m.startswith("pushing base") for m in report.of("step"))


def test_push_base_pushes_a_local_base_the_registry_lacks(registry_plan):
    engine = RegistryEngine(exists=True)
    result, _ = run(registry_plan, engine, push_base=True)
    assert engine.named("build") == [("build", "app")]
    assert engine.named("push_image") == [("push_image", registry_plan.tag)]
    assert result.base_action == "reused" and result.base_pushed


def test_push_base_skips_a_base_the_registry_has(registry_plan):
    engine = RegistryEngine(exists=True, in_registry=True)
    run(registry_plan, engine, push_base=True)
    assert engine.named("push_image") == []


class RacedEngine(RegistryEngine):
    """Another machine pushes the base (``label``: its key label) while this one builds."""

    def __init__(self, tag: str, label: str | None = RIGHT_KEY, **kwargs) -> None:
        super().__init__(registry_label=label, **kwargs)
        self.raced = tag

    def build(self, request: BuildRequest, on_line, step: str) -> None:
        super().build(request, on_line, step)
        if request.target == render.BASE_STAGE:
            self.registry.add(self.raced)


def test_push_base_does_not_push_a_base_another_machine_pushed_meanwhile(registry_plan):
    engine = RacedEngine(registry_plan.tag)
    result, report = run(registry_plan, engine, push_base=True)
    assert engine.named("push_image") == []
    calls = [c for c in engine.calls if c[0] in ("build", "registry_image")]
    after = calls[calls.index(("build", "base")) :]  # asked once more after the base build
    assert after == [("build", "base"), ("registry_image", registry_plan.tag), ("build", "app")]
    assert result.base_action == "built" and result.to_dict()["base"]["pushed"] is False
    assert any("reached its registry meanwhile" in m for m in report.of("step"))


def test_push_base_never_pushes_over_an_image_that_appeared_under_the_tag(registry_plan):
    engine = RacedEngine(registry_plan.tag, label="f" * 64)
    with pytest.raises(ConfigError, match=r"is not this plan's base .* neither uses nor pushes"):
        run(registry_plan, engine, push_base=True)
    assert engine.named("push_image") == []


def test_push_base_needs_a_registry_repo(plan):
    engine = RegistryEngine()
    with pytest.raises(ConfigError, match=r"--push-base .*--base-repo \(tool.uvbuild.base-repo\)"):
        run(plan, engine, push_base=True)
    assert engine.builds == []


def test_failed_push_propagates_after_the_local_tag(registry_plan):
    class Refusing(RegistryEngine):
        def push_image(self, ref, on_line):
            self.calls.append(("push_image", ref))
            raise BuildFailed(f"pushing {ref} failed: denied")

    engine = Refusing()
    with pytest.raises(BuildFailed, match="denied"):
        run(registry_plan, engine, push_base=True)
    assert engine.named("build") == [("build", "base")]
    assert engine.registry == set()


def test_unreachable_registry_stops_before_any_build(registry_plan):
    engine = RegistryEngine(unreachable=True)
    with pytest.raises(EngineUnavailable, match="cannot be reached"):
        run(registry_plan, engine)
    assert engine.builds == []


def test_dry_run_with_an_unreachable_registry_warns(registry_plan):
    engine = RegistryEngine(unreachable=True)
    result, report = run(registry_plan, engine, dry_run=True, push_base=True)
    assert engine.builds == []
    assert any("cannot be reached" in w for w in report.of("warn"))
    assert len(result.commands) == 4
    assert result.commands[2] == f"docker push {registry_plan.tag}"


@pytest.mark.parametrize("driver", ["docker-container", "remote", "kubernetes"])
def test_builder_outside_the_engine_needs_a_registry_repo(plan, driver):
    engine = RegistryEngine(driver=driver)
    with pytest.raises(EngineUnavailable) as caught:
        run(plan, engine)
    message = str(caught.value)
    assert f"{driver} driver" in message
    assert "--base-repo (tool.uvbuild.base-repo)" in message
    assert "\n" not in message
    assert engine.builds == []


def test_builder_outside_the_engine_reuses_the_registry_base(registry_plan):
    engine = RegistryEngine(driver="docker-container", in_registry=True, exists=True)
    result, _ = run(registry_plan, engine)
    assert engine.named("image_labels") == []  # the engine's store is not the builder's
    assert engine.named("build") == [("build", "app")]
    app = engine.stage("app")
    assert _context(app)[render.BASE_STAGE] == f"docker-image://{registry_plan.tag}"
    assert app.load is True  # loaded through the builder's own docker exporter
    assert result.base_source == "registry"


def test_builder_outside_the_engine_pushes_the_base_it_builds(registry_plan):
    engine = RegistryEngine(driver="docker-container")
    result, report = run(registry_plan, engine, tags=("app:dev",))
    assert engine.named("build") == [("build", "base"), ("build", "app")]
    assert engine.named("tag") == [] and engine.named("push_image") == []
    assert engine.named("storage") == []  # the builder's storage is not the engine's
    base = engine.stage("base")
    assert (base.push, base.load, base.tags) == (True, False, (registry_plan.tag,))
    assert "--push" in build_args(base) and "--load" not in build_args(base)
    assert registry_plan.tag in engine.registry
    assert result.base_action == "built" and result.base_pushed
    assert result.base_source == "registry"
    assert any("pushed by the docker-container builder" in m for m in report.of("step"))
    app = engine.stage("app")
    assert _context(app)[render.BASE_STAGE] == f"docker-image://{registry_plan.tag}"


@pytest.mark.parametrize(("options", "load"), [({}, True), ({"load": False}, False)])
def test_builder_outside_the_engine_passes_load_through(registry_plan, options, load):
    engine = RegistryEngine(driver="docker-container", in_registry=True)
    run(registry_plan, engine, **options)
    assert engine.stage("app").load is load


def test_dry_run_with_a_builder_outside_the_engine(registry_plan):
    engine = RegistryEngine(driver="docker-container")
    result, _ = run(registry_plan, engine, dry_run=True)
    assert len(result.commands) == 2  # no `docker tag`: the base build pushes
    assert "--push" in result.commands[0]


# -- trust nothing by name: a base found by tag must carry the plan's key (#11, item 5) ------

OTHER_KEY = "f" * 64


def test_a_base_with_the_plans_key_label_is_reused_with_one_engine_call(plan):
    engine = FakeEngine(exists=True)
    result, report = run(plan, engine)
    assert engine.named("image_labels") == [("image_labels", plan.tag)]
    assert engine.named("image_exists") == [] and engine.named("registry_image") == []
    assert result.base_action == "reused" and result.warnings == []
    assert report.of("warn") == []


@pytest.mark.parametrize(("label", "seen"), [(OTHER_KEY, OTHER_KEY), (None, "no io.uvbuild.key")])
def test_a_local_tag_with_another_label_is_rebuilt_with_a_warning(plan, label, seen):
    engine = FakeEngine(exists=True, base_label=label)
    result, report = run(plan, engine)
    order = [c for c in engine.calls if c[0] in ("build", "tag")]
    assert order == [("build", "base"), ("tag", BASE_ID, plan.tag), ("build", "app")]
    assert engine.stage("base").no_cache is False  # BuildKit's cache still serves
    (warning,) = report.of("warn")
    assert warning.startswith(f"base {plan.tag} in the engine is not this plan's base")
    assert seen in warning and plan.key in warning and "\n" not in warning
    assert any("another image had its tag" in m for m in report.of("step"))
    document = result.to_dict()
    assert document["base"]["action"] == "rebuilt" and document["warnings"] == [warning]


def test_a_label_that_shares_only_the_tags_16_digits_is_not_trusted(plan):
    """The tag holds 16 hex digits of the key; the label must hold all 64 of it."""
    impostor = plan.key[:16] + ("0" if plan.key[16] != "0" else "1") + plan.key[17:]
    engine = FakeEngine(exists=True, base_label=impostor)
    result, report = run(plan, engine)
    assert result.base_action == "rebuilt"
    (warning,) = report.of("warn")
    assert impostor in warning and plan.key in warning


def test_dry_run_of_a_local_tag_with_another_label(plan):
    engine = FakeEngine(exists=True, base_label=OTHER_KEY)
    result, report = run(plan, engine, dry_run=True)
    assert engine.builds == []
    assert result.base_action == "would build (rebuilt)"
    assert len(report.of("warn")) == 1 and result.warnings == report.of("warn")
    assert result.commands[1] == f"docker tag '<image id>' {plan.tag}"


def test_a_local_tag_with_another_label_hides_the_registry_base(registry_plan):
    """The docker driver would read the engine's image: the base is built again, and the
    registry, which has it, gets no push."""
    engine = RegistryEngine(exists=True, base_label=OTHER_KEY, in_registry=True)
    result, _ = run(registry_plan, engine, push_base=True)
    assert engine.named("build") == [("build", "base"), ("build", "app")]
    assert engine.named("push_image") == []
    assert result.base_action == "rebuilt" and result.base_source == "engine"


@pytest.mark.parametrize(
    ("engine_kwargs", "options"),
    [
        ({}, {}),  # nothing in the engine: the registry's tag would be read
        ({}, {"push_base": True}),
        ({"exists": True}, {"push_base": True}),  # --push-base would push over it
        ({"exists": True}, {"push_base": True, "rebuild_base": True}),
        ({"exists": True, "base_label": OTHER_KEY}, {"push_base": True}),
        ({"driver": "docker-container"}, {}),  # the base build would push over it
        ({"driver": "docker-container"}, {"rebuild_base": True}),
    ],
)
@pytest.mark.parametrize("label", [OTHER_KEY, None])
def test_a_registry_tag_with_another_label_is_refused(registry_plan, engine_kwargs, options, label):
    engine = RegistryEngine(in_registry=True, registry_label=label, **engine_kwargs)
    with pytest.raises(ConfigError) as caught:
        run(registry_plan, engine, **options)
    message = str(caught.value)
    assert caught.value.exit_code == 2 and "\n" not in message
    assert message.startswith(f"base {registry_plan.tag} in the registry is not this plan's base")
    assert (OTHER_KEY if label else "no io.uvbuild.key label") in message
    assert "--base-repo (tool.uvbuild.base-repo)" in message
    assert engine.builds == [] and engine.named("push_image") == [] and engine.named("tag") == []


def test_the_registry_is_not_asked_when_the_local_base_is_trusted(registry_plan):
    engine = RegistryEngine(exists=True, in_registry=True, registry_label=OTHER_KEY)
    result, _ = run(registry_plan, engine)  # no --push-base: the registry is not read
    assert engine.named("registry_image") == []
    assert result.base_action == "reused"


def test_push_base_asks_the_registry_once(registry_plan):
    engine = RegistryEngine(exists=True)
    run(registry_plan, engine, push_base=True)
    assert engine.named("registry_image") == [("registry_image", registry_plan.tag)]
    assert engine.named("push_image") == [("push_image", registry_plan.tag)]


# -- a registry base whose registry lost blobs of it (#13, item 2) ---------------------------

LOST_BLOB = REGISTRY_BLOBS[1]


def test_a_registry_base_with_a_lost_blob_is_built_again(registry_plan):
    engine = RegistryEngine(in_registry=True, lost={LOST_BLOB})
    result, report = run(registry_plan, engine)
    assert engine.named("missing_blobs")[0] == ("missing_blobs", registry_plan.tag)
    assert engine.named("build") == [("build", "base"), ("build", "app")]
    assert engine.named("push_image") == []  # not asked to push
    assert result.base_action == "rebuilt"
    assert result.to_dict()["base"]["source"] == "engine"
    (warning,) = report.of("warn")
    assert warning.startswith(f"base {registry_plan.tag} in the registry lacks 1 blob")
    assert "building the base again" in warning and "--push-base" in warning
    assert warning in result.warnings
    assert any("(the registry's copy lacks blobs)" in m for m in report.of("step"))


def test_push_base_pushes_over_a_base_with_a_lost_blob(registry_plan):
    engine = RegistryEngine(in_registry=True, lost={LOST_BLOB})
    result, _ = run(registry_plan, engine, push_base=True)
    order = [c for c in engine.calls if c[0] in ("build", "tag", "push_image")]
    assert order == [
        ("build", "base"),
        ("tag", BASE_ID, registry_plan.tag),
        ("push_image", registry_plan.tag),
        ("build", "app"),
    ]
    assert result.base_action == "rebuilt" and result.to_dict()["base"]["pushed"] is True


def test_push_base_pushes_the_engine_base_over_a_broken_registry_tag(registry_plan):
    engine = RegistryEngine(exists=True, in_registry=True, lost={LOST_BLOB})
    result, report = run(registry_plan, engine, push_base=True)
    assert engine.named("build") == [("build", "app")]
    assert engine.named("push_image") == [("push_image", registry_plan.tag)]
    assert result.base_action == "reused" and result.to_dict()["base"]["pushed"] is True
    (warning,) = report.of("warn")
    assert "using the engine's base; it is pushed over the broken tag" in warning


def test_an_unchecked_registry_base_is_trusted_and_says_why(registry_plan):
    engine = RegistryEngine(in_registry=True, unchecked="r: HEAD of a blob answered 401")
    result, report = run(registry_plan, engine)
    assert result.base_action == "reused" and engine.named("build") == [("build", "app")]
    assert any(
        m.startswith(f"could not check the blobs of {registry_plan.tag}") and "answered 401" in m
        for m in report.of("detail")
    )


def test_the_blobs_are_not_asked_of_another_image(registry_plan):
    engine = RegistryEngine(in_registry=True, registry_label=OTHER_KEY)
    with pytest.raises(ConfigError):
        run(registry_plan, engine)
    assert engine.named("missing_blobs") == []


def test_cache_export_reaches_only_the_app_build(plan):
    engine = FakeEngine(exists=False)
    run(
        plan,
        engine,
        cache_from=("type=registry,ref=reg/cache",),
        cache_to=("type=registry,ref=reg/cache,mode=max",),
    )
    base, app = engine.stage("base"), engine.stage("app")
    assert (base.cache_from, base.cache_to) == ((), ())
    assert "--cache-to" not in build_args(base) and "--cache-from" not in build_args(base)
    assert app.cache_from == ("type=registry,ref=reg/cache",)
    assert app.cache_to == ("type=registry,ref=reg/cache,mode=max",)
    args = build_args(app)
    assert args[args.index("--cache-to") + 1] == "type=registry,ref=reg/cache,mode=max"


def test_no_cache_export_by_default(plan):
    engine = FakeEngine(exists=False)
    run(plan, engine)
    for stage in ("base", "app"):
        args = build_args(engine.stage(stage))
        assert "--cache-to" not in args and "--cache-from" not in args


# -- the per-base lock --------------------------------------------------------------------------


def _lock_files(tmp_path: Path) -> list[Path]:
    return sorted((tmp_path / "cache" / "uvbuild" / "locks").glob("*.lock"))


def _locked(path: Path) -> bool:
    import fcntl
    import os

    fd = os.open(path, os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)
    return False


def test_base_build_holds_the_lock_and_releases_it(plan, tmp_path):
    seen = []

    class Watching(FakeEngine):
        def build(self, request, on_line, step):
            if request.target == render.BASE_STAGE:
                seen.extend(_locked(path) for path in _lock_files(tmp_path))
            super().build(request, on_line, step)

    run(plan, Watching(exists=False))
    assert seen == [True]
    assert [_locked(path) for path in _lock_files(tmp_path)] == [False]


def test_existing_base_takes_no_lock(plan, tmp_path):
    run(plan, FakeEngine(exists=True))
    assert _lock_files(tmp_path) == []


@pytest.mark.parametrize("failure", ["fail", "interrupt"])
def test_failed_or_interrupted_base_build_releases_the_lock(plan, tmp_path, failure):
    engine = FakeEngine(exists=False, **{failure: "base"})
    with pytest.raises((BuildFailed, Interrupted)):
        run(plan, engine)
    assert [_locked(path) for path in _lock_files(tmp_path)] == [False]


def test_waiting_run_rechecks_and_reuses_the_base_the_holder_built(plan, tmp_path):
    import hashlib
    import threading
    import time

    from uvbuild import keylock
    from uvbuild.flow.inputs import user_cache_dir

    engine = FakeEngine(exists=False)
    held = threading.Event()

    def other_run() -> None:  # holds the lock, "builds" the base, releases
        key = hashlib.sha256(plan.tag.encode()).hexdigest()
        with keylock.hold(user_cache_dir(), key):
            held.set()
            time.sleep(0.6)
            engine.exists = True

    thread = threading.Thread(target=other_run)
    thread.start()
    held.wait(5)
    try:
        result, report = run(plan, engine)
    finally:
        thread.join()
    assert engine.named("build") == [("build", "app")]
    assert result.base_action == "reused"
    waiting = [m for m in report.of("step") if m.startswith("waiting for")]
    assert len(waiting) == 1
    assert waiting[0].startswith("waiting for pid ")
    assert waiting[0].endswith(f", which is building base {plan.tag}")
    assert engine.named("image_labels") == [("image_labels", plan.tag)] * 2


# -- the docker buildx build flags of Makefiles and CI (issue 9, item 3) -------------------

RUN_FLAGS = {"shm_size": "2g", "ulimits": ("nofile=1024:2048",), "allow": ("network.host",)}
APP_ONLY = {
    "provenance": "mode=max",
    "sbom": "true",
    "attests": ("type=sbom,generator=img",),
    "annotations": ("index:org.x=y",),
    "outputs": ("type=oci,dest=app.tar",),
    "build_contexts": (("assets", "/srv/assets"),),
}


def test_run_flags_reach_both_builds_image_flags_only_the_app(plan):
    engine = FakeEngine(exists=False)
    engine.store = True  # the containerd image store keeps attestations
    run(plan, engine, **RUN_FLAGS, **APP_ONLY)
    base, app = engine.stage("base"), engine.stage("app")
    for request in (base, app):
        assert (request.shm_size, request.ulimits, request.allow) == (
            "2g",
            ("nofile=1024:2048",),
            ("network.host",),
        )
    assert (app.provenance, app.sbom, app.attests, app.annotations) == (
        "mode=max",
        "true",
        ("type=sbom,generator=img",),
        ("index:org.x=y",),
    )
    assert app.outputs == ("type=oci,dest=app.tar",)
    assert _context(app)["assets"] == "/srv/assets"
    assert _context(app)[render.BASE_STAGE] == f"docker-image://{plan.tag}"
    # the base keeps its own destination and none of the app image's attestations
    assert (base.provenance, base.sbom, base.attests, base.annotations, base.outputs) == (
        None,
        None,
        (),
        (),
        (),
    )
    assert "assets" not in _context(base)
    assert base.load and not base.push


def test_iidfile_is_the_app_image_id(plan, tmp_path):
    iidfile = tmp_path / "out" / "app.iid"
    iidfile.parent.mkdir()
    iidfile.write_text("stale")
    engine = FakeEngine(exists=False)
    result, _ = run(plan, engine, iidfile=str(iidfile))
    assert engine.stage("app").iidfile == str(iidfile)
    assert engine.stage("base").iidfile != str(iidfile)
    assert iidfile.read_text() == APP_ID
    assert result.image_id == APP_ID


def test_metadata_file_merges_uvbuild_facts_into_buildx_metadata(plan, tmp_path):
    import json

    meta = tmp_path / "meta.json"

    class MetadataEngine(FakeEngine):
        def build(self, request, on_line, step):
            super().build(request, on_line, step)
            if request.metadata_file:
                Path(request.metadata_file).write_text('{"containerimage.digest": "sha256:d"}')

    engine = MetadataEngine(exists=False)
    run(plan, engine, tags=("app:dev",), metadata_file=str(meta))
    assert engine.stage("base").metadata_file is None
    document = json.loads(meta.read_text())
    assert document["containerimage.digest"] == "sha256:d"
    facts = document["uvbuild"]
    assert facts["schema"] == "uvbuild.build/1"
    assert facts["base"]["tag"] == plan.tag and facts["base"]["key"] == plan.key
    assert facts["base"]["action"] == "built"
    assert facts["image"] == {"id": APP_ID, "tags": ["app:dev"], "dockerfile": GENERATED}
    run(plan, FakeEngine(exists=True), metadata_file=str(meta))
    assert json.loads(meta.read_text())["uvbuild"]["base"]["action"] == "reused"


@pytest.mark.parametrize(
    ("options", "load", "push"),
    [
        ({"outputs": ("type=tar,dest=a.tar",)}, False, False),
        ({"outputs": ("type=local,dest=out",), "load": True}, True, False),
        ({"outputs": ("type=registry",)}, False, False),  # the output pushes, not --push too
        ({"outputs": ("type=registry",), "push": True}, False, False),
        ({"outputs": ("type=image,push=true",)}, False, False),
        ({"outputs": ("type=docker",), "load": True}, False, False),  # the output loads
    ],
)
def test_outputs_replace_the_default_load(plan, options, load, push):
    engine = FakeEngine(exists=True)
    run(plan, engine, **options)
    app = engine.stage("app")
    assert (app.load, app.push, app.outputs) == (load, push, options["outputs"])


def test_docker_dest_on_the_docker_driver_loads_then_saves(plan):
    saved = []

    class SavingEngine(FakeEngine):
        def save_image(self, refs, dest):
            saved.append((tuple(refs), dest))

    engine = SavingEngine(exists=True)
    run(plan, engine, outputs=("type=docker,dest=a.tar",))
    app = engine.stage("app")
    assert (app.load, app.outputs) == (True, ())
    assert saved == [((APP_ID,), "a.tar")]
    saved.clear()
    run(plan, engine, tags=("app:dev",), outputs=("type=docker,dest=a.tar", "type=tar,dest=b"))
    assert engine.builds[-1].outputs == ("type=tar,dest=b",)
    assert saved == [(("app:dev",), "a.tar")]


def test_docker_dest_on_a_builder_with_the_exporter_stays_an_output(registry_plan):
    engine = RegistryEngine(in_registry=True, driver="docker-container")
    run(registry_plan, engine, outputs=("type=docker,dest=a.tar",))
    app = engine.stage("app")
    assert (app.load, app.outputs) == (False, ("type=docker,dest=a.tar",))


def test_registry_output_counts_as_push():
    assert BuildOptions(outputs=("type=registry",)).pushes
    assert BuildOptions(outputs=("type=image,name=r/a,push=true",)).pushes
    assert not BuildOptions(outputs=("type=image",)).pushes
    assert not BuildOptions(outputs=("type=docker,dest=a.tar",)).pushes


def test_pull_reaches_the_base_build_not_an_app_reading_a_local_base(plan):
    engine = FakeEngine(exists=False)
    _, report = run(plan, engine, pull=True)
    assert engine.stage("base").pull is True
    assert engine.stage("app").pull is False
    assert any("--pull: not passed to the app build" in m for m in report.of("detail"))


def test_pull_reaches_an_app_reading_the_base_from_its_registry(registry_plan):
    engine = RegistryEngine(in_registry=True)
    run(registry_plan, engine, pull=True)
    assert engine.stage("app").pull is True


def test_pull_with_a_user_dockerfile_and_a_local_base_warns(project):
    (project / "Dockerfile").write_text("FROM uvbuild-base\nCOPY . .\n")
    engine = FakeEngine(exists=True)
    the_plan = keyed_plan(project, FLAGS)
    _, report = run(the_plan, engine, pull=True)
    assert engine.stage("app").pull is False
    assert any("FROM images of" in m for m in report.of("warn"))


@pytest.mark.parametrize("exists", [True, False])
def test_check_evaluates_the_app_dockerfile_and_builds_no_base(plan, exists, tmp_path):
    engine = FakeEngine(exists=exists)
    result, _ = run(
        plan, engine, call="check", iidfile=str(tmp_path / "i"), outputs=("type=docker",)
    )
    assert engine.named("build") == [("build", "app")]
    (app,) = engine.builds
    assert app.call == "check"
    assert (app.load, app.push, app.outputs, app.iidfile, app.metadata_file) == (
        False,
        False,
        (),
        None,
        None,
    )
    base_ref = plan.tag if exists else plan.config.resolved_base_image
    assert _context(app)[render.BASE_STAGE] == f"docker-image://{base_ref}"
    assert result.base_action == "not needed"
    assert engine.named("tag") == []


def test_check_dry_run_prints_one_command(plan):
    result, _ = run(plan, FakeEngine(exists=False), call="check", dry_run=True)
    (command,) = result.commands
    assert "--call=check" in command and "--target uvbuild-base" not in command


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("out", "type=local,dest=out"),
        ("type=docker,dest=a.tar", "type=docker,dest=a.tar"),
        ("type=oci,dest=a.tar", "type=oci,dest=a.tar"),
        ("type=tar,dest=a.tar", "type=tar,dest=a.tar"),
        ("type=local,dest=d", "type=local,dest=d"),
        ("type=image,name=r/a,push=true", "type=image,name=r/a,push=true"),
        ("type=registry", "type=registry"),
    ],
)
def test_normalize_output_takes_every_buildx_exporter(value, expected):
    from uvbuild.flow.options import normalize_output

    assert normalize_output(value) == expected


@pytest.mark.parametrize(
    ("value", "needle"),
    [
        ("-", "stdout"),
        ("type=tar,dest=-", "stdout"),
        ("type=zip,dest=a", "unknown exporter type 'zip'"),
        ("dest=a", "no type= given"),
    ],
)
def test_normalize_output_refuses_with_one_line(value, needle):
    from uvbuild.flow.options import normalize_output

    with pytest.raises(ConfigError, match=needle) as info:
        normalize_output(value)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize("name", ["uvbuild-base", "uvbuild-heavy", "UVBUILD-deps"])
def test_user_contexts_refuse_uvbuild_names(name):
    from uvbuild.flow.options import user_contexts

    with pytest.raises(ConfigError, match=f"--build-context {name}: names starting with"):
        user_contexts([f"{name}=/x"])
    assert user_contexts(["assets=/srv/a", "img=docker-image://alpine"]) == (
        ("assets", "/srv/a"),
        ("img", "docker-image://alpine"),
    )
    with pytest.raises(ConfigError, match="expected NAME=VALUE"):
        user_contexts(["assets"])


def test_user_contexts_make_local_directories_absolute(tmp_path, monkeypatch):
    from uvbuild.flow.options import user_contexts

    (tmp_path / "assets").mkdir()
    monkeypatch.chdir(tmp_path)
    assert user_contexts(["a=assets", "b=https://example.com/x.git"]) == (
        ("a", str(tmp_path / "assets")),
        ("b", "https://example.com/x.git"),
    )


def test_normalize_call():
    from uvbuild.flow.options import normalize_call

    assert normalize_call(None, False) is None
    assert normalize_call("build", False) is None
    assert normalize_call(None, True) == "check"
    assert normalize_call("outline", False) == "outline"
    with pytest.raises(ConfigError, match="--call nope: use one of"):
        normalize_call("nope", False)
    with pytest.raises(ConfigError, match="give one of them"):
        normalize_call("targets", True)


def test_tar_and_local_outputs_take_no_iidfile(plan, tmp_path):
    engine = FakeEngine(exists=True)
    result, _ = run(plan, engine, outputs=("type=tar,dest=a.tar",), load=True)
    assert engine.stage("app").iidfile is None  # buildx refuses the pair
    assert result.image_id is None and result.layers == []
    with pytest.raises(ConfigError, match="--iidfile with -o type=local,dest=d: the local"):
        run(plan, FakeEngine(exists=True), outputs=("type=local,dest=d",), iidfile="i")


@pytest.mark.parametrize(
    ("options", "needle"),
    [
        ({"provenance": "mode=max"}, "--provenance=mode=max: builder 'default'"),
        ({"sbom": "true"}, "--sbom=true: builder"),
        ({"attests": ("type=sbom",)}, "--attest type=sbom: builder"),
    ],
)
def test_attestations_on_the_docker_driver_need_the_containerd_store(plan, options, needle):
    engine = FakeEngine(exists=False)
    with pytest.raises(ConfigError, match=re.escape(needle)):
        run(plan, engine, **options)
    assert engine.builds == []  # refused before the base build
    engine.store = True
    run(plan, engine, **options)
    assert engine.named("build") == [("build", "base"), ("build", "app")]


def test_disabled_attestations_ask_nothing(plan):
    engine = FakeEngine(exists=True)
    run(plan, engine, provenance="false", sbom="0", attests=("type=sbom,disabled=true",))
    assert engine.named("containerd_store") == []
    assert engine.stage("app").provenance == "false"


def test_oci_output_on_the_docker_driver_needs_the_containerd_store(plan):
    engine = FakeEngine(exists=True)
    with pytest.raises(ConfigError, match=r"-o type=oci,dest=a\.tar: builder 'default'.*OCI"):
        run(plan, engine, outputs=("type=oci,dest=a.tar",))
    assert engine.builds == []
    engine.store = True
    run(plan, engine, outputs=("type=oci,dest=a.tar",))
    assert engine.stage("app").outputs == ("type=oci,dest=a.tar",)


def test_dry_run_of_a_builder_outside_the_engine_reads_the_base_as_the_real_run(registry_plan):
    dry, _ = run(registry_plan, RegistryEngine(driver="docker-container"), dry_run=True, pull=True)
    engine = RegistryEngine(driver="docker-container")
    real, _ = run(registry_plan, engine, pull=True)
    # the app reads the base the builder pushes from its registry, so --pull reaches it
    assert dry.base_source == real.base_source == "registry"
    assert "--pull" in dry.commands[1] and engine.stage("app").pull is True
