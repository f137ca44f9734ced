"""Copies of the fixture projects the planner tests change."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.paths import FIXTURES
from tests.planner.projects import SEED_DOCKERFILE


@pytest.fixture
def project_copy(tmp_path: Path) -> Path:
    target = tmp_path / "proj"
    shutil.copytree(FIXTURES / "empty_extra", target)
    return target


@pytest.fixture
def seed_project(tmp_path: Path) -> Path:
    """two_indexes with a Dockerfile that does not mention uvbuild (and a script its
    system part copies)."""
    target = tmp_path / "proj"
    shutil.copytree(FIXTURES / "two_indexes", target)
    (target / "Dockerfile").write_text(SEED_DOCKERFILE)
    (target / "scripts").mkdir()
    (target / "scripts" / "setup.sh").write_text("echo set up\n")
    return target
