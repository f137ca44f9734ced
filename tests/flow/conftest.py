"""Fixtures of the build flow's tests: the plans they build, a project to edit, and a user
cache inside the test's tmp_path."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.fakes import keyed_plan
from tests.flow.flows import FLAGS, REGISTRY_REPO
from tests.paths import FIXTURES


@pytest.fixture(scope="module")
def plan():
    return keyed_plan(FIXTURES / "two_indexes", FLAGS)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    target = tmp_path / "proj"
    shutil.copytree(FIXTURES / "two_indexes", target)
    return target


@pytest.fixture
def cache_in_tmp_path(monkeypatch, tmp_path: Path) -> None:
    """Locks (and dry-run files) go to a per-test cache directory."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))


@pytest.fixture(scope="module")
def registry_plan():
    return keyed_plan(FIXTURES / "two_indexes", {**FLAGS, "base_repo": REGISTRY_REPO})
