"""The console tests run on a pipe unless they simulate a terminal: no colour variables
from the environment, a colour-capable TERM."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _pipe(monkeypatch):
    for name in ("NO_COLOR", "FORCE_COLOR", "TTY_COMPATIBLE", "TTY_INTERACTIVE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("TERM", "xterm-256color")
