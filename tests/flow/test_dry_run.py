"""uvbuild.flow.dry_run: a dry run builds nothing and records the commands a real run would run."""

from __future__ import annotations

import pytest

from tests.fakes import FakeEngine
from tests.flow.flows import OTHER_KEY, RegistryEngine, run

pytestmark = pytest.mark.usefixtures("cache_in_tmp_path")


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


# -- registry bases and builders outside the engine (#4) --------------------------------------


def test_dry_run_with_an_unreachable_registry_warns(registry_plan):
    engine = RegistryEngine(unreachable=True)
    result, report = run(registry_plan, engine, dry_run=True, push_base=True)
    assert engine.builds == []
    assert any("cannot be reached" in w for w in report.of("warn"))
    assert len(result.commands) == 4
    assert result.commands[2] == f"docker push {registry_plan.tag}"


def test_dry_run_with_a_builder_outside_the_engine(registry_plan):
    engine = RegistryEngine(driver="docker-container")
    result, _ = run(registry_plan, engine, dry_run=True)
    assert len(result.commands) == 2  # no `docker tag`: the base build pushes
    assert "--push" in result.commands[0]


# -- trust nothing by name: a base found by tag must carry the plan's key (#11, item 5) ------


def test_dry_run_of_a_local_tag_with_another_label(plan):
    engine = FakeEngine(exists=True, base_label=OTHER_KEY)
    result, report = run(plan, engine, dry_run=True)
    assert engine.builds == []
    assert result.base_action == "would build (rebuilt)"
    assert len(report.of("warn")) == 1 and result.warnings == report.of("warn")
    assert result.commands[1] == f"docker tag '<image id>' {plan.tag}"


# -- --check, and --pull on a builder outside the engine (issue 9, item 3) --------------------


def test_check_dry_run_prints_one_command(plan):
    result, _ = run(plan, FakeEngine(exists=False), call="check", dry_run=True)
    (command,) = result.commands
    assert "--call=check" in command and "--target uvbuild-base" not in command


def test_dry_run_of_a_builder_outside_the_engine_reads_the_base_as_the_real_run(registry_plan):
    dry, _ = run(registry_plan, RegistryEngine(driver="docker-container"), dry_run=True, pull=True)
    engine = RegistryEngine(driver="docker-container")
    real, _ = run(registry_plan, engine, pull=True)
    # the app reads the base the builder pushes from its registry, so --pull reaches it
    assert dry.base_source == real.base_source == "registry"
    assert "--pull" in dry.commands[1] and engine.stage("app").pull is True
