"""uvbuild.core.model: the plan's value types."""

from __future__ import annotations

from uvbuild.core.model import pinned_digest


def test_pinned_digest():
    assert pinned_digest("python:3.11@sha256:" + "a" * 64) == "sha256:" + "a" * 64
    assert pinned_digest("python:3.11") is None
    assert pinned_digest("host:5000/x") is None
