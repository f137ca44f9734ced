"""Shared test set-up: keep uvbuild's user cache inside each test's tmp_path, and keep the
unit tests away from any Docker engine on the machine."""

from __future__ import annotations

import pytest

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
