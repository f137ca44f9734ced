"""uvbuild.doctor: which checks pass, warn, fail or are skipped, with a fake engine (no Docker);
the report's JSON document and the one-line error the CLI exits with."""

from __future__ import annotations

import dataclasses

import pytest

from tests.fakes import FakeEngine
from tests.paths import FIXTURES
from uvbuild import planner
from uvbuild.docker.facts.faults import FIX_BUILDER, FIX_BUILDX, FIX_CLI, FIX_DRIVER, FIX_ENGINE
from uvbuild.doctor import (
    DOCTOR_SCHEMA,
    FIX_BASE_REPO,
    FIX_FRONTEND,
    STATUSES,
    Report,
    diagnose,
    project_problem,
)
from uvbuild.errors import ConfigError, EngineUnavailable, LockError
from uvbuild.flow.decide import is_registry_repo

FLAGS = {"platform": "linux/amd64", "python": "3.11"}
NAMES = [
    "docker-cli",
    "engine",
    "buildx",
    "builder",
    "frontend",
    "project",
    "base-image",
    "uv-image",
    "base-repo",
    "disk",
]


@pytest.fixture(scope="module")
def plan():
    return planner.make_plan(FIXTURES / "two_indexes", FLAGS)


def checks(report: Report) -> dict[str, str]:
    return {check.name: check.status for check in report.checks}


def check(report: Report, name: str):
    (found,) = [c for c in report.checks if c.name == name]
    return found


def test_all_pass_on_a_healthy_engine(plan, tmp_path):
    report = diagnose(FakeEngine(), tmp_path, plan, None)
    assert [c.name for c in report.checks] == NAMES
    statuses = checks(report)
    assert statuses.pop("base-repo") == "skip"  # no registry configured
    assert set(statuses.values()) == {"pass"}
    assert report.ok and report.error() is None
    assert "BuildKit v0.0.0+unknown: no version reported" in check(report, "builder").detail
    assert "needs about" in check(report, "disk").detail


@pytest.mark.parametrize(
    ("broken", "failed", "skipped", "fix"),
    [
        (
            "cli",
            "docker-cli",
            {"engine", "buildx", "builder", "frontend", "base-image", "uv-image", "disk"},
            FIX_CLI,
        ),
        ("engine", "engine", {"builder", "frontend", "base-image", "uv-image", "disk"}, FIX_ENGINE),
        ("buildx", "buildx", {"builder", "frontend"}, FIX_BUILDX),
        ("builder", "builder", {"frontend"}, FIX_BUILDER),
        ("frontend", "frontend", set(), FIX_FRONTEND),
    ],
)
def test_a_broken_part_fails_and_skips_what_needs_it(plan, tmp_path, broken, failed, skipped, fix):
    report = diagnose(FakeEngine(broken=broken), tmp_path, plan, None)
    statuses = checks(report)
    assert [name for name, status in statuses.items() if status == "fail"] == [failed]
    assert {name for name, status in statuses.items() if status == "skip"} == skipped | {
        "base-repo"
    }
    failure = check(report, failed)
    assert failure.fix == fix
    assert not failure.detail.endswith(fix)  # the fix is said once, apart
    error = report.error()
    assert isinstance(error, EngineUnavailable) and error.exit_code == 4
    assert str(error).startswith(f"{failure.title}: ")
    assert str(error).endswith(fix)
    assert "\n" not in str(error)


def test_docker_container_driver_fails_the_builder(plan, tmp_path):
    report = diagnose(FakeEngine(driver="docker-container"), tmp_path, plan, None)
    assert check(report, "builder").status == "fail"
    assert check(report, "builder").fix == FIX_DRIVER
    assert check(report, "frontend").status == "skip"


def test_missing_images_fail_with_the_key_to_change(plan, tmp_path):
    report = diagnose(FakeEngine(broken="images"), tmp_path, plan, None)
    base = check(report, "base-image")
    assert base.status == "fail"
    assert "tool.uvbuild.base-image (--base-image)" in base.fix
    assert plan.config.resolved_base_image in base.fix
    assert check(report, "uv-image").status == "fail"
    assert "(and 1 more failed check)" in str(report.error())


def test_registry_base_repo_is_pushed_to(tmp_path):
    plan = planner.make_plan(
        FIXTURES / "two_indexes", {**FLAGS, "base_repo": "127.0.0.1:5000/team/base"}
    )
    engine = FakeEngine()
    report = diagnose(engine, tmp_path, plan, None)
    assert engine.named("probe_push") == [("probe_push", "127.0.0.1:5000/team/base")]
    assert check(report, "base-repo").status == "pass"
    report = diagnose(FakeEngine(broken="push"), tmp_path, plan, None)
    failure = check(report, "base-repo")
    assert failure.status == "fail" and failure.fix == FIX_BASE_REPO
    assert "connection refused" in failure.detail


def test_local_base_repo_is_not_pushed_to(tmp_path):
    plan = planner.make_plan(FIXTURES / "two_indexes", {**FLAGS, "base_repo": "team/base"})
    engine = FakeEngine()
    report = diagnose(engine, tmp_path, plan, None)
    assert engine.named("probe_push") == []
    assert check(report, "base-repo").status == "skip"


@pytest.mark.parametrize(
    ("repo", "registry"),
    [
        ("127.0.0.1:5000/base", True),
        ("ghcr.io/org/base", True),
        ("localhost/base", True),
        ("team/base", False),
        ("base", False),
        ("my.registry", False),
    ],
)
def test_is_registry_repo(repo, registry):
    assert is_registry_repo(repo) is registry


def test_short_disk_warns_without_failing(plan, tmp_path):
    report = diagnose(FakeEngine(free=1000), tmp_path, plan, None)
    disk = check(report, "disk")
    assert disk.status == "warn" and not disk.required
    assert "docker builder prune" in disk.fix
    assert report.ok


def test_unmeasurable_disk_warns(plan, tmp_path):
    report = diagnose(FakeEngine(free=None), tmp_path, plan, None)
    disk = check(report, "disk")
    assert disk.status == "warn"
    assert "not on this machine" in disk.detail
    assert report.ok


def test_no_project_is_a_warning(tmp_path):
    plan, problem = project_problem(tmp_path, lambda: pytest.fail("no plan without a project"))
    assert plan is None and problem is None
    report = diagnose(FakeEngine(), tmp_path, None, None)
    project = check(report, "project")
    assert project.status == "warn" and not project.required
    for name in ("base-image", "uv-image", "base-repo"):
        assert check(report, name).status == "skip"
    assert check(report, "disk").status == "pass"
    assert report.ok


@pytest.mark.parametrize("error", [ConfigError("bad key"), LockError("uv.lock: not found")])
def test_project_error_fails_with_its_exit_code(tmp_path, error):
    (tmp_path / "pyproject.toml").write_text("[project]\nname = 'x'\n")

    def make_plan():
        raise error

    plan, problem = project_problem(tmp_path, make_plan)
    assert plan is None and problem is error
    report = diagnose(FakeEngine(), tmp_path, None, problem)
    assert check(report, "project").status == "fail"
    raised = report.error()
    assert type(raised) is type(error)
    assert raised.exit_code == error.exit_code
    assert str(raised) == f"project: {error}"


def test_json_document(plan, tmp_path):
    document = diagnose(FakeEngine(broken="engine"), tmp_path, plan, None).to_dict()
    assert document["schema"] == DOCTOR_SCHEMA == "uvbuild.doctor/1"
    assert document["ok"] is False
    assert set(document["counts"]) == set(STATUSES)
    assert sum(document["counts"].values()) == len(NAMES)
    assert [c["name"] for c in document["checks"]] == NAMES
    for entry in document["checks"]:
        assert set(entry) == {"name", "title", "status", "required", "detail", "fix"}
        assert entry["status"] in STATUSES
    engine = document["checks"][1]
    assert engine["status"] == "fail" and engine["fix"] == FIX_ENGINE


def test_checks_are_frozen(plan, tmp_path):
    report = diagnose(FakeEngine(), tmp_path, plan, None)
    with pytest.raises(dataclasses.FrozenInstanceError):
        report.checks[0].status = "fail"  # type: ignore[misc]
