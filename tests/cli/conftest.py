"""Every CLI test runs without uv (``uv lock --check`` answers fresh) and without colour."""

from __future__ import annotations

import pytest

from tests.clirun import fake_lock_check


@pytest.fixture(autouse=True)
def _hermetic(monkeypatch):
    fake_lock_check(monkeypatch)
    monkeypatch.setenv("NO_COLOR", "1")
