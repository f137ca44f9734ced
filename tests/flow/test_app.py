"""uvbuild.flow.app: the app build on the base (its flags, image id, outputs, layers, the base it
installed again) and --check, followed with a fake engine (no Docker)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.fakes import APP_ID, FakeEngine, keyed_plan
from tests.flow.flows import FLAGS, RegistryEngine, contexts_of, run
from tests.paths import FIXTURES
from uvbuild.core.render.dockerfile_names import BASE_STAGE, HEAVY_CONTEXT
from uvbuild.docker.requests import build_args
from uvbuild.errors import BuildFailed, ConfigError, Interrupted

pytestmark = pytest.mark.usefixtures("cache_in_tmp_path")


# -- the app build on the base ----------------------------------------------------------------


def test_app_build_passes_the_base_as_a_named_context(plan):
    engine = FakeEngine(exists=True)
    run(plan, engine)
    args = build_args(engine.stage("app"))
    assert f"uvbuild-base=docker-image://{plan.tag}" in args
    assert args[args.index(f"uvbuild-base=docker-image://{plan.tag}") - 1] == "--build-context"
    assert args[-1] == plan.project_dir


def test_app_build_writes_the_light_layers_requirements_in_its_dockerfile():
    plan = keyed_plan(FIXTURES / "two_indexes", {**FLAGS, "pool_threshold": "10kB"})
    seen = {}

    class Inspecting(FakeEngine):
        def build(self, request, on_line, step):
            if request.target != BASE_STAGE:
                heavy = Path(contexts_of(request)[HEAVY_CONTEXT])
                seen.update({p.name: p.read_text() for p in heavy.iterdir()})
                seen["Dockerfile"] = Path(request.file).read_text()
            super().build(request, on_line, step)

    run(plan, Inspecting())
    # no file of the context: a mount of one is one more load of the context per build
    assert "layer-light-six-1.txt" not in seen
    assert "AS uvbuild-layers-light-1\n" in seen["Dockerfile"]
    assert "printf '%s\\n' 'six==1.17.0 --hash=sha256:" in seen["Dockerfile"]


def test_failed_app_build_propagates(plan):
    engine = FakeEngine(exists=True, fail="app")
    with pytest.raises(BuildFailed, match="the app build failed"):
        run(plan, engine)


def test_no_cache_applies_to_the_app_only(plan):
    engine = FakeEngine(exists=False)
    run(plan, engine, no_cache=True)
    assert engine.stage("base").no_cache is False
    assert engine.stage("app").no_cache is True


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


# -- wasted base ------------------------------------------------------------------------------


def test_wasted_base_reaches_the_result(plan):
    engine = FakeEngine(exists=True, output=["#9 0.4  + torch==2.7.1+cu128"])
    result, report = run(plan, engine)
    assert len(result.warnings) == 1 and "torch" in result.warnings[0]
    assert report.of("warn") == result.warnings
    assert "#9 0.4  + torch==2.7.1+cu128" in report.of("stream")


# -- interrupts -------------------------------------------------------------------------------


def test_interrupted_app_build_propagates(plan):
    engine = FakeEngine(exists=True, interrupt="app")
    with pytest.raises(Interrupted) as info:
        run(plan, engine)
    assert info.value.exit_code == 143


# -- cache export (#4) ------------------------------------------------------------------------


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
    assert contexts_of(app)["assets"] == "/srv/assets"
    assert contexts_of(app)[BASE_STAGE] == f"docker-image://{plan.tag}"
    # the base keeps its own destination and none of the app image's attestations
    assert (base.provenance, base.sbom, base.attests, base.annotations, base.outputs) == (
        None,
        None,
        (),
        (),
        (),
    )
    assert "assets" not in contexts_of(base)
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
    assert contexts_of(app)[BASE_STAGE] == f"docker-image://{base_ref}"
    assert result.base_action == "not needed"
    assert engine.named("tag") == []


def test_tar_and_local_outputs_take_no_iidfile(plan, tmp_path):
    engine = FakeEngine(exists=True)
    result, _ = run(plan, engine, outputs=("type=tar,dest=a.tar",), load=True)
    assert engine.stage("app").iidfile is None  # buildx refuses the pair
    assert result.image_id is None and result.layers == []
    with pytest.raises(ConfigError, match="--iidfile with -o type=local,dest=d: the local"):
        run(plan, FakeEngine(exists=True), outputs=("type=local,dest=d",), iidfile="i")
