"""Shared test set-up: keep uvbuild's user cache inside each test's tmp_path, and keep the
unit tests away from any Docker engine on the machine."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings
from hypothesis.configuration import set_hypothesis_home_dir

from tests.clirun import DEAD_SOCKET


@pytest.fixture(autouse=True)
def isolated_cache(tmp_path_factory, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path_factory.mktemp("xdg-cache")))


@pytest.fixture(autouse=True)
def no_engine(request, monkeypatch):
    """Outside tests/integration, DOCKER_HOST is a dead socket: a command that asks the
    real engine (``plan`` resolving its images' digests) finds none and says its key is
    provisional, wherever the tests run. Tests that follow an engine pass a FakeEngine."""
    if "integration" not in request.node.path.parts:
        monkeypatch.setenv("DOCKER_HOST", DEAD_SOCKET)


# Hypothesis (tests/planner/test_plan_fuzz.py): the same examples on every run, in CI and here
# (derandomize), no example database and no cache written into the repository, no timing
# health checks (the machine is shared; tests/damage.py's deadline catches a hang).
# HYPOTHESIS_PROFILE=fuzz draws new examples on every run; bench/fuzz_plan.py runs more.
set_hypothesis_home_dir(Path(tempfile.gettempdir()) / "uvbuild-hypothesis")  # its caches
settings.register_profile(
    "unit",
    derandomize=True,
    database=None,
    deadline=None,
    print_blob=False,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.register_profile("fuzz", settings.get_profile("unit"), derandomize=False)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "unit"))
