"""uvbuild.flow.build: the order of the steps of a build (the policy, the engine's image store, the
base in use until the app is built, which Dockerfile, the metadata file), followed with a fake
engine (no Docker)."""

from __future__ import annotations

import re
import threading
from pathlib import Path

import pytest

from tests.fakes import APP_ID, FakeEngine, FakeReport, keyed_plan
from tests.flow.flows import FLAGS, run
from uvbuild import keylock
from uvbuild.errors import ConfigError, EngineUnavailable
from uvbuild.flow.build import BuildFlow
from uvbuild.flow.options import BuildOptions
from uvbuild.flow.result import GENERATED

pytestmark = pytest.mark.usefixtures("cache_in_tmp_path")


# -- the policy, and the base in use from its lookup to the end of the app build --------------


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


# -- which Dockerfile, and the generated inputs -----------------------------------------------


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


# -- the metadata file, and what needs the containerd image store (issue 9, item 3) -----------


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
