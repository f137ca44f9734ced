"""uvbuild.flow.images: the digests of a plan's images, asked of a fake engine, and the plan
keyed on them (provisional without an answer)."""

from __future__ import annotations

import json

import pytest

from tests.fakes import FakeEngine, FakeReport, fake_digest, keyed_plan
from tests.paths import FIXTURES
from uvbuild import planner
from uvbuild.core.model import ImageRef
from uvbuild.errors import ConfigError, EngineUnavailable
from uvbuild.flow import images
from uvbuild.flow.build import BuildFlow
from uvbuild.flow.options import BuildOptions

PROJECT = FIXTURES / "two_indexes"
FLAGS = {"platform": "linux/amd64", "python": "3.11"}
PINNED = "python@sha256:" + "1" * 64
BASE = ImageRef("python:3.11-slim", "--base-image (tool.uvbuild.base-image)")
UV = ImageRef("ghcr.io/astral-sh/uv:0.13.9", "--uv-image (tool.uvbuild.uv-image)")


def unkeyed(**flags):
    return planner.make_plan(PROJECT, {**FLAGS, **flags})


def test_resolve_asks_the_engine_once_for_all_images_and_takes_a_pinned_digest_as_written():
    engine = FakeEngine()
    cache: dict[str, str] = {}
    pinned = ImageRef(PINNED, "line 1")
    got = images.resolve((BASE, pinned, UV), engine, cache=cache)
    assert got == {
        BASE.ref: fake_digest(BASE.ref),
        PINNED: "sha256:" + "1" * 64,
        UV.ref: fake_digest(UV.ref),
    }
    images.resolve((BASE, UV), engine, cache=cache)  # asked already: not again
    assert engine.calls == [("image_digests", (BASE.ref, UV.ref), False)]
    images.resolve((BASE, ImageRef("other:1", "--uv-image")), engine, cache=cache)
    assert engine.calls[1:] == [("image_digest", "other:1", False)]  # one left: one question


class MalformedEngine(FakeEngine):
    """An engine that refuses a malformed reference, as docker does."""

    def image_digests(self, refs, *, pull=False):
        self._record("image_digests", tuple(refs), pull)
        raise ConfigError("'Bad:1' is not a valid image reference")

    def image_digest(self, ref, *, pull=False):
        if ref == "Bad:1":
            raise ConfigError("'Bad:1' is not a valid image reference")
        return super().image_digest(ref, pull=pull)


def test_a_malformed_image_among_several_is_named_with_its_setting():
    engine = MalformedEngine()
    with pytest.raises(ConfigError) as info:
        images.resolve((BASE, ImageRef("Bad:1", "--uv-image (tool.uvbuild.uv-image)")), engine)
    assert str(info.value) == (
        "'Bad:1' is not a valid image reference; check --uv-image (tool.uvbuild.uv-image)"
    )
    assert [c[0] for c in engine.calls] == ["image_digests", "image_digest"]


def test_an_image_found_nowhere_is_one_line_naming_its_setting():
    engine = FakeEngine(digests={UV.ref: None})
    with pytest.raises(ConfigError) as info:
        images.resolve((BASE, UV), engine)
    message = str(info.value)
    assert UV.ref in message and "--uv-image (tool.uvbuild.uv-image)" in message
    assert "\n" not in message and info.value.exit_code == 2


def test_keyed_plan_covers_the_digests_in_its_keys():
    plan = unkeyed()
    engine = FakeEngine()
    got = images.keyed(plan, engine)
    assert got.key != plan.key and got.tag != plan.tag and got.provisional is None
    assert got.digests == tuple(sorted((r.ref, fake_digest(r.ref)) for r in plan.image_refs))
    assert json.loads(got.key_document)["images"] == dict(got.digests)
    assert all(a.key != b.key for a, b in zip(got.layers, plan.layers, strict=True))
    # the same digests, the same key: as the planner makes it from them
    direct = planner.make_plan(PROJECT, FLAGS, digests=dict(got.digests))
    assert (direct.key, direct.layers) == (got.key, got.layers)
    assert [c[0] for c in engine.calls] == ["image_digests", "check"]


def test_a_moved_image_moves_the_key_an_unchanged_one_keeps_it():
    plan = unkeyed()
    first = images.keyed(plan, FakeEngine())
    assert images.keyed(plan, FakeEngine()).key == first.key
    moved = images.keyed(plan, FakeEngine(digests={BASE.ref: fake_digest(BASE.ref, "new")}))
    assert moved.key != first.key


def test_pull_and_builders_outside_the_engine_ask_the_registry():
    plan = unkeyed()
    upstream = {BASE.ref: fake_digest(BASE.ref, "upstream")}
    local = images.keyed(plan, FakeEngine(pulled=upstream))
    pulled = images.keyed(plan, FakeEngine(pulled=upstream), pull=True)
    assert dict(pulled.digests)[BASE.ref] == upstream[BASE.ref] != dict(local.digests)[BASE.ref]
    engine = FakeEngine(pulled=upstream, driver="docker-container")
    outside = images.keyed(plan, engine)
    assert outside.key == pulled.key
    assert ("image_digests", (BASE.ref, UV.ref), True) in engine.calls


def test_without_an_engine_the_key_is_provisional_or_the_command_stops():
    plan = unkeyed()
    got = images.keyed(plan, FakeEngine(unavailable=True), strict=False)
    assert (got.key, got.digests) == (plan.key, ())
    assert got.provisional and "no Docker engine answers" in got.provisional
    note = images.provisional_note(got)
    assert note == got.notes[-1] and "the key is provisional" in note and BASE.ref in note
    document = got.to_dict()["base"]
    assert document["provisional"] is True
    assert [e["digest"] for e in document["images"]] == [None, None]
    assert "images" not in plan.to_dict()["base"]  # a plan never asked: the old document
    with pytest.raises(EngineUnavailable):
        images.keyed(plan, FakeEngine(unavailable=True), strict=True)
    with pytest.raises(ConfigError):  # found nowhere: refused without strict too
        images.keyed(plan, FakeEngine(broken="images"), strict=False)


def test_a_pinned_plan_needs_no_engine():
    plan = unkeyed(base_image=PINNED, uv_image="uv@sha256:" + "2" * 64)
    engine = FakeEngine(unavailable=True)
    got = images.keyed(plan, engine, strict=True)
    assert got.provisional is None and engine.calls == []
    assert dict(got.digests)[PINNED] == "sha256:" + "1" * 64


def test_the_build_flow_keys_an_unkeyed_plan_before_it_looks_for_the_base(tmp_path):
    plan = unkeyed()
    engine = FakeEngine()
    report = FakeReport()
    flow = BuildFlow(plan, BuildOptions(tags=("app:dev",)), engine, report)
    result = flow.run()
    assert flow.plan.key == keyed_plan(PROJECT, FLAGS).key != plan.key
    assert (result.base_tag, result.base_key) == (flow.plan.tag, flow.plan.key)
    names = [c[0] for c in engine.calls]
    assert names.index("image_digests") < names.index("image_labels") < names.index("build")
    assert engine.named("image_labels")[0] == ("image_labels", flow.plan.tag)


def test_the_build_flow_stops_before_building_when_an_image_is_nowhere():
    engine = FakeEngine(digests={BASE.ref: None})
    with pytest.raises(ConfigError, match="--base-image"):
        BuildFlow(unkeyed(), BuildOptions(), engine, FakeReport()).run()
    assert engine.named("build") == [] and engine.named("image_labels") == []


def test_build_pull_keys_on_the_registry_digest():
    upstream = {BASE.ref: fake_digest(BASE.ref, "upstream")}
    flow = BuildFlow(unkeyed(), BuildOptions(pull=True), FakeEngine(pulled=upstream), FakeReport())
    flow.run()
    assert dict(flow.plan.digests)[BASE.ref] == upstream[BASE.ref]


def test_a_dry_run_without_an_engine_says_the_key_is_provisional():
    report = FakeReport()
    flow = BuildFlow(unkeyed(), BuildOptions(dry_run=True), FakeEngine(unavailable=True), report)
    flow.run()
    assert flow.plan.provisional == "no engine answered"
    assert any("the key is provisional" in w for w in report.of("warn"))
