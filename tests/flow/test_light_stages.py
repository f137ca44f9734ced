"""uvbuild.flow.light_stages: the light stages built beside the base, with the app build's flags."""

from __future__ import annotations

import pytest

from tests.fakes import APP_ID, FakeEngine, keyed_plan
from tests.flow.flows import FLAGS, contexts_of, run
from tests.paths import FIXTURES
from uvbuild.core import render
from uvbuild.core.render.dockerfile_names import BASE_STAGE, LIGHT_WARM_STAGE

pytestmark = pytest.mark.usefixtures("cache_in_tmp_path")


def light_plan():
    return keyed_plan(FIXTURES / "two_indexes", {**FLAGS, "pool_threshold": "10kB"})


def test_the_light_stages_build_beside_the_base_with_the_app_builds_flags():
    engine = FakeEngine()
    run(light_plan(), engine, network="host", build_args=(("A", "1"),))
    by_target = {r.target: r for r in engine.builds}
    light, app = by_target[LIGHT_WARM_STAGE], by_target[None]
    assert sorted(stage for _, stage in engine.named("build")) == ["app", "base", "light"]
    # what decides the light stages' cache keys is the app build's
    assert (light.network, light.build_args, light.file) == (app.network, app.build_args, app.file)
    assert light.outputs == ("type=cacheonly",) and not (light.load or light.push or light.tags)
    assert light.iidfile is None
    # the base does not exist yet: its named context is left out
    assert BASE_STAGE in contexts_of(app) and BASE_STAGE not in contexts_of(light)
    assert f"AS {LIGHT_WARM_STAGE}\n" in render.dockerfile(light_plan())


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
