"""uvbuild.core.render.app_stages: the deps and app stages' ``uv sync`` and its flags."""

from __future__ import annotations

from dataclasses import replace

from uvbuild.core import render
from uvbuild.core.model import Request
from uvbuild.core.render import app_stages


def test_sync_flags_empty_request():
    assert app_stages.sync_flags(Request()) == []


def test_sync_flags_map_the_request():
    request = Request(
        package="member",
        all_packages=True,
        extras=("a", "b"),
        all_extras=True,
        groups=("g",),
        only_groups=("o",),
        no_dev=True,
    )
    assert app_stages.sync_flags(request) == [
        "--package",
        "member",
        "--all-packages",
        "--all-extras",
        "--extra",
        "a",
        "--extra",
        "b",
        "--group",
        "g",
        "--only-group",
        "o",
        "--no-dev",
    ]


def test_sync_flags_reach_both_sync_commands(two_indexes):
    plan = replace(two_indexes, request=Request(extras=("gpu",), no_dev=True))
    text = render.dockerfile(plan)
    assert "uv sync --frozen --no-install-project --extra gpu --no-dev" in text
    assert "uv sync --frozen --no-editable --extra gpu --no-dev" in text


def test_workspace_members_and_no_install_workspace(workspace):
    assert workspace.members == ("a", "b")
    text = render.dockerfile(workspace)
    assert "COPY pyproject.toml uv.lock ./\n" in text
    assert "COPY a/pyproject.toml a/pyproject.toml\n" in text
    assert "COPY b/pyproject.toml b/pyproject.toml\n" in text
    assert "uv sync --frozen --no-install-workspace" in text
    assert "--no-install-project" not in text


def test_single_project_uses_no_install_project(two_indexes):
    text = render.dockerfile(two_indexes)
    assert "uv sync --frozen --no-install-project" in text
    assert "--no-install-workspace" not in text
    assert text.count("COPY pyproject.toml uv.lock ./") == 1
