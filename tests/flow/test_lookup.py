"""uvbuild.flow.lookup: where the base is found, trusted only with the plan's key label, and
whether its registry still holds its blobs, followed with a fake engine (no Docker)."""

from __future__ import annotations

import pytest

from tests.fakes import BASE_ID, FakeEngine
from tests.flow.flows import LOST_BLOB, OTHER_KEY, RegistryEngine, run
from uvbuild.errors import ConfigError, EngineUnavailable

pytestmark = pytest.mark.usefixtures("cache_in_tmp_path")


# -- the engine first, the registry when the policy asks it (#4) ------------------------------


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


def test_unreachable_registry_stops_before_any_build(registry_plan):
    engine = RegistryEngine(unreachable=True)
    with pytest.raises(EngineUnavailable, match="cannot be reached"):
        run(registry_plan, engine)
    assert engine.builds == []


# -- trust nothing by name: a base found by tag must carry the plan's key (#11, item 5) ------


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
