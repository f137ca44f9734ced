"""--platform a,b: per-platform plans (offline), the checks and order of a multi-platform
build with a fake engine."""

from __future__ import annotations

import json
import re
from dataclasses import replace

import pytest

from tests.clirun import fake_lock_check, run_main
from tests.fakes import FakeEngine, FakeReport, keyed_plan, registry_base
from tests.paths import FIXTURES
from uvbuild.errors import ConfigError, EngineUnavailable
from uvbuild.flow import platforms as multiplatform
from uvbuild.flow.options import BuildOptions

PROJECT = FIXTURES / "two_indexes"
BOTH = "linux/amd64,linux/arm64"


@pytest.fixture(autouse=True)
def _hermetic(monkeypatch):
    fake_lock_check(monkeypatch)
    monkeypatch.setenv("NO_COLOR", "1")


def test_split_platforms():
    assert multiplatform.split_platforms("linux/amd64, linux/aarch64,linux/amd64") == (
        "linux/amd64",
        "linux/arm64",
    )
    assert multiplatform.split_platforms(None) == ()
    with pytest.raises(ConfigError, match="unsupported platform"):
        multiplatform.split_platforms("linux/amd64,windows/amd64")


def test_platform_tags():
    assert multiplatform.platform_tag("reg:5000/app:dev", "linux/arm64") == "reg:5000/app:dev-arm64"
    assert multiplatform.platform_tag("reg:5000/app", "linux/amd64") == "reg:5000/app:latest-amd64"
    assert multiplatform.builder_covers("linux/amd64", ["linux/amd64/v2", "linux/386"])
    assert not multiplatform.builder_covers("linux/arm64", ["linux/amd64", "linux/386"])


def test_plan_json_has_one_document_per_platform(capsys):
    code, out, err = run_main(capsys, "plan", "--json", "--platform", BOTH, str(PROJECT))
    assert code == 0, err
    document = json.loads(out)
    assert document["schema"] == "uvbuild.plans/1"
    plans = document["plans"]
    assert [p["schema"] for p in plans] == ["uvbuild.plan/1"] * 2
    assert [p["target"]["platform"] for p in plans] == ["linux/amd64", "linux/arm64"]
    keys = [p["base"]["key"] for p in plans]
    assert keys[0] != keys[1]
    assert [p["base"]["tag"] for p in plans] == [f"gpuapp-uvbuild-base:{k[:16]}" for k in keys]
    # each equals the single-platform plan of that platform
    code, out, _ = run_main(capsys, "plan", "--json", "--platform", "linux/arm64", str(PROJECT))
    assert json.loads(out) == plans[1]


def test_plan_table_has_a_section_per_platform(capsys):
    code, out, err = run_main(capsys, "plan", "--platform", BOTH, str(PROJECT))
    assert code == 0, err
    assert out.index("== platform linux/amd64 ==") < out.index("== platform linux/arm64 ==")
    assert out.count("base tag: gpuapp-uvbuild-base:") == 2


def test_one_platform_keeps_the_single_schema(capsys):
    _code, out, _ = run_main(capsys, "plan", "--json", "--platform", "linux/arm64", str(PROJECT))
    assert json.loads(out)["schema"] == "uvbuild.plan/1"


def plans(base_repo: str = "127.0.0.1:5000/team/base"):
    return [
        keyed_plan(PROJECT, {"platform": p, "python": "3.11", "base_repo": base_repo})
        for p in BOTH.split(",")
    ]


@pytest.mark.parametrize(
    ("options", "repo", "needle"),
    [
        (BuildOptions(tags=("r:5000/a:1",)), "127.0.0.1:5000/b", "--push"),
        (BuildOptions(tags=("r:5000/a:1",), push=True, load=True), "127.0.0.1:5000/b", "--load"),
        (BuildOptions(push=True), "127.0.0.1:5000/b", "-t REGISTRY"),
        (BuildOptions(tags=("r:5000/a:1",), push=True), "localbase", "registry repository"),
    ],
)
def test_multi_platform_needs_push_tags_and_a_registry_base(options, repo, needle):
    with pytest.raises(ConfigError, match=needle.replace("-", r"\-")):
        multiplatform.check_options(plans(repo), options)


class PlatformEngine(FakeEngine):
    def __init__(self, platforms, **kwargs):
        super().__init__(**kwargs)
        self.platforms = tuple(platforms)

    def builder_platforms(self):
        self.calls.append(("builder_platforms",))
        return self.platforms

    def push_image(self, ref, on_line=None):
        self.calls.append(("push", ref))

    def registry_image(self, ref, platform=None):
        self.calls.append(("registry_image", ref, platform))
        return None

    def imagetools_create(self, tags, sources):
        self.calls.append(("imagetools_create", tuple(tags), tuple(sources)))


OPTIONS = BuildOptions(tags=("127.0.0.1:5000/team/app:dev",), push=True)


def test_a_platform_the_builder_cannot_build_is_engine_unavailable():
    engine = PlatformEngine(["linux/amd64", "linux/amd64/v2", "linux/386"])
    with pytest.raises(EngineUnavailable) as info:
        multiplatform.build_platforms(plans(), OPTIONS, engine, FakeReport())
    message = str(info.value)
    assert info.value.exit_code == 4
    assert "cannot build for linux/arm64" in message and "--install arm64" in message
    assert "\n" not in message
    assert engine.builds == []


def test_each_platform_gets_its_base_and_app_then_one_manifest_list():
    engine = PlatformEngine(["linux/amd64", "linux/arm64"])
    the_plans = plans()
    summary = multiplatform.build_platforms(the_plans, OPTIONS, engine, FakeReport())
    bases = [r for r in engine.builds if r.target == "uvbuild-base"]
    apps = [r for r in engine.builds if r.target != "uvbuild-base"]
    assert [r.platforms for r in bases] == [("linux/amd64",), ("linux/arm64",)]
    assert [r.tags for r in apps] == [
        ("127.0.0.1:5000/team/app:dev-amd64",),
        ("127.0.0.1:5000/team/app:dev-arm64",),
    ]
    assert all(r.push and not r.load for r in apps)
    assert [dict(r.build_contexts)["uvbuild-base"] for r in apps] == [
        f"docker-image://{p.tag}" for p in the_plans
    ]
    (create,) = engine.named("imagetools_create")
    assert create[1] == OPTIONS.tags
    assert create[2] == ("127.0.0.1:5000/team/app:dev-amd64", "127.0.0.1:5000/team/app:dev-arm64")
    assert [call[1] for call in engine.named("push")] == [p.tag for p in the_plans]
    assert summary["schema"] == "uvbuild.builds/1"
    assert [p["platform"] for p in summary["platforms"]] == ["linux/amd64", "linux/arm64"]


# -- the docker buildx build flags of Makefiles and CI (issue 9, item 3) -------------------


@pytest.mark.parametrize(
    ("extra", "needle"),
    [
        ({"iidfile": "id"}, "--iidfile: the image is a manifest list"),
        ({"metadata_file": "m.json"}, "--metadata-file: the image is a manifest list"),
        ({"call": "check"}, "--call: the image is a manifest list"),
        ({"outputs": ("type=oci,dest=a.tar",)}, "-o type=oci,dest=a.tar: the platform images"),
    ],
)
def test_multi_platform_refuses_what_describes_one_image(extra, needle):
    options = replace(OPTIONS, **extra)
    with pytest.raises(ConfigError, match=re.escape(needle)):
        multiplatform.check_options(plans(), options)


def test_multi_platform_takes_a_registry_output_as_push():
    options = BuildOptions(tags=OPTIONS.tags, outputs=("type=registry",))
    multiplatform.check_options(plans(), options)


# -- a builder outside the engine (decided once, flow/decide) ---------------------------------


def test_a_builder_outside_the_engine_builds_each_platform_and_pushes_its_base():
    engine = PlatformEngine(["linux/amd64", "linux/arm64"], driver="docker-container")
    the_plans = plans()
    summary = multiplatform.build_platforms(the_plans, OPTIONS, engine, FakeReport())
    bases = [r for r in engine.builds if r.target == "uvbuild-base"]
    assert [(r.push, r.load, r.tags) for r in bases] == [(True, False, (p.tag,)) for p in the_plans]
    assert engine.named("image_labels") == [] and engine.named("push") == []
    assert engine.named("tag") == []  # BuildKit pushed each base; nothing is tagged locally
    apps = [r for r in engine.builds if r.target != "uvbuild-base"]
    assert all(r.push and not r.load for r in apps)
    (create,) = engine.named("imagetools_create")
    assert create[2] == ("127.0.0.1:5000/team/app:dev-amd64", "127.0.0.1:5000/team/app:dev-arm64")
    assert [p["base"]["source"] for p in summary["platforms"]] == ["registry", "registry"]


def test_a_registry_tag_with_another_label_stops_before_any_platform_is_built():
    """Trust nothing by name (#11, item 5): each platform's base is looked for as build
    does; another image under a base tag in the registry is neither used nor pushed over."""

    class Foreign(PlatformEngine):
        def registry_image(self, ref, platform=None):
            self.calls.append(("registry_image", ref, platform))
            return registry_base(ref, label="f" * 64)

    engine = Foreign(["linux/amd64", "linux/arm64"])
    with pytest.raises(ConfigError, match="in the registry is not this plan's base"):
        multiplatform.build_platforms(plans(), OPTIONS, engine, FakeReport())
    assert engine.builds == [] and engine.named("push") == []
    assert engine.named("imagetools_create") == []
