"""The bake file says what the two build requests say."""

from __future__ import annotations

import json
import re

import pytest

from tests.fakes import FakeEngine, FakeReport, keyed_plan, registry_base
from tests.paths import FIXTURES
from uvbuild.docker.requests import BuildRequest, attest_entry, bake_document, bake_target
from uvbuild.errors import ConfigError, EngineUnavailable
from uvbuild.flow import bake as bakefile
from uvbuild.flow.build import BuildFlow
from uvbuild.flow.options import BuildOptions

BASE = BuildRequest(
    context="/w/empty",
    file="/w/Dockerfile",
    target="uvbuild-base",
    build_contexts=(("uvbuild-heavy", "/w/heavy"),),
    platforms=("linux/amd64",),
    tags=("app-uvbuild-base:0123456789abcdef",),
    load=True,
    network="host",
)
APP = BuildRequest(
    context="/project",
    file="/w/Dockerfile",
    tags=("app:dev", "app:latest"),
    build_args=(("A", "1"),),
    build_contexts=(
        ("uvbuild-base", "docker-image://app-uvbuild-base:0123456789abcdef"),
        ("uvbuild-heavy", "/w/heavy"),
    ),
    platforms=("linux/amd64",),
    labels=(("team", "ml"),),
    secrets=("id=pip,env=PIP_TOKEN",),
    cache_from=("type=registry,ref=r/c",),
    cache_to=("type=inline",),
    no_cache=True,
    push=True,
)


def test_a_target_carries_every_flag_of_its_request():
    target = bake_target(APP)
    assert target == {
        "context": "/project",
        "dockerfile": "/w/Dockerfile",
        "tags": ["app:dev", "app:latest"],
        "args": {"A": "1"},
        "contexts": {
            "uvbuild-base": "docker-image://app-uvbuild-base:0123456789abcdef",
            "uvbuild-heavy": "/w/heavy",
        },
        "platforms": ["linux/amd64"],
        "labels": {"team": "ml"},
        "secret": ["id=pip,env=PIP_TOKEN"],
        "cache-from": ["type=registry,ref=r/c"],
        "cache-to": ["type=inline"],
        "no-cache": True,
        "output": ["type=registry"],
    }


def test_a_base_to_build_is_a_target_the_app_reads():
    document = bake_document(BASE, APP, base_ref="app-uvbuild-base:0123456789abcdef")
    assert document["group"] == {"default": {"targets": ["app"]}}
    assert set(document["target"]) == {"uvbuild-base", "app"}
    base = document["target"]["uvbuild-base"]
    assert base["target"] == "uvbuild-base"
    assert base["output"] == ["type=docker"]
    assert document["target"]["app"]["contexts"]["uvbuild-base"] == "target:uvbuild-base"


def test_an_existing_base_is_read_as_an_image():
    ref = "127.0.0.1:5000/team/base:0123456789abcdef"
    document = bake_document(None, APP, base_ref=ref)
    assert set(document["target"]) == {"app"}
    assert document["target"]["app"]["contexts"]["uvbuild-base"] == f"docker-image://{ref}"


# -- bakefile.write: the bake file of a BuildFlow (fake engine, no Docker) ------------------

PROJECT = FIXTURES / "two_indexes"


def write(tmp_path, monkeypatch, engine, **options):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    plan = keyed_plan(PROJECT, {"platform": "linux/amd64", "python": "3.11"})
    flow = BuildFlow(plan, BuildOptions(**options), engine, FakeReport())
    return plan, bakefile.write(flow, tmp_path / "out" / "docker-bake.json", FakeReport())


def test_write_a_base_to_build(tmp_path, monkeypatch):
    plan, result = write(tmp_path, monkeypatch, FakeEngine(exists=False), tags=("app:dev",))
    document = json.loads(result.file.read_text())
    assert result.base_action == "build"
    base, app = document["target"]["uvbuild-base"], document["target"]["app"]
    assert base["tags"] == [plan.tag]
    assert base["output"] == ["type=docker"]
    assert app["contexts"]["uvbuild-base"] == "target:uvbuild-base"
    inputs = tmp_path / "cache" / "uvbuild" / "bake" / plan.key[:16]
    assert result.inputs == inputs
    assert app["dockerfile"] == str(inputs / "Dockerfile") and (inputs / "Dockerfile").is_file()
    assert base["contexts"]["uvbuild-heavy"] == str(inputs / "heavy")
    assert any((inputs / "heavy").iterdir())
    assert app["context"] == plan.project_dir and app["tags"] == ["app:dev"]


def test_write_an_existing_base(tmp_path, monkeypatch):
    plan, result = write(tmp_path, monkeypatch, FakeEngine(exists=True))
    document = json.loads(result.file.read_text())
    assert result.base_action == "reuse"
    assert set(document["target"]) == {"app"}
    assert document["target"]["app"]["contexts"]["uvbuild-base"] == f"docker-image://{plan.tag}"


def test_rebuild_base_makes_it_a_target(tmp_path, monkeypatch):
    _plan, result = write(tmp_path, monkeypatch, FakeEngine(exists=True), rebuild_base=True)
    assert result.base_action == "build"
    assert result.document["target"]["uvbuild-base"]["no-cache"] is True


def test_network_that_bake_drops_is_a_config_error(tmp_path, monkeypatch):
    engine = FakeEngine(exists=False, bake_drops=("network",))
    with pytest.raises(ConfigError, match="drops the `network` attribute"):
        write(tmp_path, monkeypatch, engine, network="host")
    assert not (tmp_path / "out" / "docker-bake.json").exists()
    engine = FakeEngine(exists=False)
    _plan, result = write(tmp_path, monkeypatch, engine, network="host")
    assert result.document["target"]["app"]["network"] == "host"


# -- the docker buildx build flags of Makefiles and CI (issue 9, item 3) -------------------


def test_bake_targets_carry_the_new_flags(tmp_path, monkeypatch):
    engine = FakeEngine(exists=False)
    _plan, result = write(
        tmp_path,
        monkeypatch,
        engine,
        pull=True,
        provenance="mode=max",
        sbom="false",
        attests=("type=sbom,generator=img",),
        annotations=("index:org.x=y",),
        shm_size="2g",
        ulimits=("nofile=1024:2048",),
        allow=("network.host",),
        build_contexts=(("assets", "/srv/assets"),),
    )
    base, app = result.document["target"]["uvbuild-base"], result.document["target"]["app"]
    for target in (base, app):
        assert target["pull"] is True  # the app reads target:uvbuild-base, nothing local
        assert target["shm-size"] == "2g"
        assert target["ulimits"] == ["nofile=1024:2048"]
        assert target["entitlements"] == ["network.host"]
    assert app["attest"] == [
        "type=sbom,generator=img",
        "type=provenance,mode=max",
        "type=sbom,disabled=true",
    ]
    assert app["annotations"] == ["index:org.x=y"]
    assert app["contexts"]["assets"] == "/srv/assets"
    assert "attest" not in base and "annotations" not in base and "assets" not in base["contexts"]
    assert ("bake_keeps", "entitlements", ["network.host"]) in engine.calls


def test_bake_pull_skips_an_app_that_reads_a_local_base(tmp_path, monkeypatch):
    _plan, result = write(tmp_path, monkeypatch, FakeEngine(exists=True), pull=True)
    assert "pull" not in result.document["target"]["app"]


def test_bake_refuses_allow_when_buildx_drops_entitlements(tmp_path, monkeypatch):
    with pytest.raises(ConfigError, match="drops the `entitlements` attribute"):
        write(
            tmp_path,
            monkeypatch,
            FakeEngine(exists=False, bake_drops=("entitlements",)),
            allow=("network.host",),
        )


@pytest.mark.parametrize(
    ("option", "needle"),
    [
        ({"iidfile": "i"}, "bake --iidfile: a bake file has no image-id file"),
        ({"metadata_file": "m"}, "docker buildx bake --metadata-file"),
        ({"call": "check"}, "bake --call/--check"),
    ],
)
def test_bake_refuses_what_a_bake_file_cannot_carry(tmp_path, monkeypatch, option, needle):
    with pytest.raises(ConfigError, match=re.escape(needle)):
        write(tmp_path, monkeypatch, FakeEngine(exists=False), **option)


@pytest.mark.parametrize(
    ("kind", "value", "entry"),
    [
        ("provenance", "true", "type=provenance"),
        ("provenance", True, "type=provenance"),
        ("provenance", "false", "type=provenance,disabled=true"),
        ("sbom", "generator=img", "type=sbom,generator=img"),
    ],
)
def test_attest_entry(kind, value, entry):
    assert attest_entry(kind, value) == entry


# -- bake follows build's rule for builders outside the engine (decided once, flow/decide) --

REGISTRY_REPO = "127.0.0.1:5000/team/base"


class ContainerBakeEngine(FakeEngine):
    """A docker-container builder: its own store, the base only in its registry."""

    def __init__(self, *, in_registry: bool, **kwargs) -> None:
        # the engine's store has it: a builder outside the engine never asks it
        super().__init__(exists=True, driver="docker-container", **kwargs)
        self.in_registry = in_registry

    def registry_image(self, ref, platform=None):
        self.calls.append(("registry_image", ref))
        return registry_base(ref) if self.in_registry else None


def write_registry(tmp_path, monkeypatch, engine, **options):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    flags = {"platform": "linux/amd64", "python": "3.11", "base_repo": REGISTRY_REPO}
    plan = keyed_plan(PROJECT, flags)
    flow = BuildFlow(plan, BuildOptions(**options), engine, FakeReport())
    return plan, bakefile.write(flow, tmp_path / "out" / "docker-bake.json", FakeReport())


def test_builder_outside_the_engine_pushes_the_base_target(tmp_path, monkeypatch):
    engine = ContainerBakeEngine(in_registry=False)
    plan, result = write_registry(tmp_path, monkeypatch, engine, tags=("app:dev",))
    assert result.base_action == "build"
    base, app = result.document["target"]["uvbuild-base"], result.document["target"]["app"]
    assert base["tags"] == [plan.tag] and base["output"] == ["type=registry"]
    assert app["contexts"]["uvbuild-base"] == "target:uvbuild-base"
    assert app["output"] == ["type=docker"]  # loaded through the builder's docker exporter
    assert ("image_labels", plan.tag) not in engine.calls  # the engine's store is not its own


def test_builder_outside_the_engine_reuses_the_registry_base(tmp_path, monkeypatch):
    engine = ContainerBakeEngine(in_registry=True)
    plan, result = write_registry(tmp_path, monkeypatch, engine, push=True, pull=True)
    assert result.base_action == "reuse" and set(result.document["target"]) == {"app"}
    app = result.document["target"]["app"]
    assert app["contexts"]["uvbuild-base"] == f"docker-image://{plan.tag}"
    assert app["pull"] is True  # the base comes from a registry, not the engine
    assert app["output"] == ["type=registry"]


def test_builder_outside_the_engine_with_a_local_base_repo_is_refused(tmp_path, monkeypatch):
    with pytest.raises(EngineUnavailable, match=r"docker-container driver.*set --base-repo"):
        write(tmp_path, monkeypatch, ContainerBakeEngine(in_registry=False))
    assert not (tmp_path / "out" / "docker-bake.json").exists()


@pytest.mark.parametrize(("push", "output"), [(False, "type=docker"), (True, "type=registry")])
def test_docker_driver_pushes_the_base_target_with_push_and_a_registry_repo(
    tmp_path, monkeypatch, push, output
):
    _plan, result = write_registry(tmp_path, monkeypatch, FakeEngine(exists=False), push=push)
    assert result.document["target"]["uvbuild-base"]["output"] == [output]


# -- trust nothing by name (#11, item 5): bake looks for the base as build does -------------


def test_a_local_tag_with_another_label_becomes_a_base_target(tmp_path, monkeypatch):
    report = FakeReport()
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    plan = keyed_plan(PROJECT, {"platform": "linux/amd64", "python": "3.11"})
    engine = FakeEngine(exists=True, base_label="f" * 64)
    flow = BuildFlow(plan, BuildOptions(), engine, report)
    result = bakefile.write(flow, tmp_path / "docker-bake.json", report)
    assert result.base_action == "build"
    assert result.document["target"]["uvbuild-base"]["tags"] == [plan.tag]
    (warning,) = report.of("warn")
    assert warning.startswith(f"base {plan.tag} in the engine is not this plan's base")


def test_a_registry_tag_with_another_label_writes_no_bake_file(tmp_path, monkeypatch):
    class Foreign(ContainerBakeEngine):
        def registry_image(self, ref, platform=None):
            self.calls.append(("registry_image", ref))
            return registry_base(ref, label=None)

    with pytest.raises(ConfigError, match=r"in the registry is not this plan's base \(no io"):
        write_registry(tmp_path, monkeypatch, Foreign(in_registry=True), push=True)
    assert not (tmp_path / "out" / "docker-bake.json").exists()
