"""uvbuild.flow.base: the base reused, or built under its lock, tagged only once built, pushed,
followed with a fake engine (no Docker)."""

from __future__ import annotations

import shutil
import threading
from pathlib import Path

import pytest

from tests.fakes import APP_ID, BASE_ID, RIGHT_KEY, FakeEngine, keyed_plan
from tests.flow.flows import FLAGS, LOST_BLOB, RegistryEngine, contexts_of, run
from tests.paths import FIXTURES
from uvbuild import keylock
from uvbuild.core import render
from uvbuild.core.render import requirements
from uvbuild.core.render.dockerfile_names import BASE_STAGE, HEAVY_CONTEXT
from uvbuild.docker.requests import BuildRequest, build_args
from uvbuild.errors import BuildFailed, ConfigError, EngineUnavailable, Interrupted

pytestmark = pytest.mark.usefixtures("cache_in_tmp_path")


# -- base reuse and build ---------------------------------------------------------------------


def test_existing_base_is_reused(plan):
    engine = FakeEngine(exists=True)
    result, report = run(plan, engine, tags=("app:dev",))
    assert [c[0] for c in engine.calls if c[0] in ("build", "tag")] == ["build"]
    assert engine.named("build") == [("build", "app")]
    assert engine.named("image_labels") == [("image_labels", plan.tag)]
    app = engine.stage("app")
    assert contexts_of(app)[BASE_STAGE] == f"docker-image://{plan.tag}"
    assert app.tags == ("app:dev",)
    assert result.base_action == "reused"
    assert any("reusing base" in m for m in report.of("step"))


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
    assert HEAVY_CONTEXT in contexts_of(base)
    assert result.base_action == "built"
    assert result.image_id == APP_ID


def test_base_build_gets_the_heavy_requirement_files(plan):
    seen = {}

    class Inspecting(FakeEngine):
        def build(self, request, on_line, step):
            if request.target == BASE_STAGE:
                heavy = Path(contexts_of(request)[HEAVY_CONTEXT])
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


def test_rebuild_base_builds_an_existing_base_without_cache(plan):
    engine = FakeEngine(exists=True)
    result, report = run(plan, engine, rebuild_base=True)
    assert engine.named("build") == [("build", "base"), ("build", "app")]
    assert engine.stage("base").no_cache is True
    assert engine.stage("app").no_cache is False
    assert engine.named("tag") == [("tag", BASE_ID, plan.tag)]
    assert result.base_action == "rebuilt"
    assert any("--rebuild-base" in m for m in report.of("step"))


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


# -- disk -------------------------------------------------------------------------------------


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


# -- registry bases and builders outside the engine (#4) --------------------------------------


def test_registry_base_is_reused_without_building(registry_plan):
    engine = RegistryEngine(in_registry=True)
    result, report = run(registry_plan, engine, tags=("app:dev",))
    assert engine.named("build") == [("build", "app")]
    assert engine.named("tag") == []
    assert engine.named("image_labels") == [("image_labels", registry_plan.tag)]
    app = engine.stage("app")
    assert contexts_of(app)[BASE_STAGE] == f"docker-image://{registry_plan.tag}"
    assert result.base_action == "reused"
    assert result.to_dict()["base"]["source"] == "registry"
    assert any(m.startswith("reusing base from registry") for m in report.of("step"))
    # The layer report takes the base's diff ids from the registry, not the engine.
    assert engine.named("diff_ids") == []
    assert [(layer.diff_id, layer.shared) for layer in result.layers] == [
        ("sha256:l1", True),
        ("sha256:l2", False),
    ]


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
        if request.target == BASE_STAGE:
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
    assert contexts_of(app)[BASE_STAGE] == f"docker-image://{registry_plan.tag}"
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
    assert contexts_of(app)[BASE_STAGE] == f"docker-image://{registry_plan.tag}"


@pytest.mark.parametrize(("options", "load"), [({}, True), ({"load": False}, False)])
def test_builder_outside_the_engine_passes_load_through(registry_plan, options, load):
    engine = RegistryEngine(driver="docker-container", in_registry=True)
    run(registry_plan, engine, **options)
    assert engine.stage("app").load is load


# -- a registry base whose registry lost blobs of it (#13, item 2) ---------------------------


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
            if request.target == BASE_STAGE:
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
    import time

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
