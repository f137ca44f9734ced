"""uvbuild.planner.resolve: the Python and the platform the config leaves open."""

from __future__ import annotations

import pytest

from tests.planner.projects import given_project
from uvbuild.planner import resolve
from uvbuild.planner.resolve import default_python, host_platform, resolve_config


@pytest.mark.parametrize(
    ("requires", "expected"),
    [
        (None, "3.11"),
        ("", "3.11"),
        (">=3.10", "3.11"),
        (">=3.8", "3.11"),
        (">=3.12", "3.12"),
        (">=3.12.4", "3.12"),
        (">=3.13,<3.14", "3.13"),
        (">=3.8,<3.10", "3.8"),
        ("==3.9.*", "3.9"),
        ("not a specifier", "3.11"),
    ],
)
def test_default_python(requires, expected):
    assert default_python(requires) == expected


def test_default_python_from_requires_python(tmp_path):
    config = resolve_config(given_project(tmp_path), None, ">=3.12")
    assert config.python == "3.12"


def test_python_version_file_wins_over_the_default(tmp_path):
    project = given_project(tmp_path, python_version_file="3.13")
    assert resolve_config(project, None, ">=3.12").python == "3.13"


@pytest.mark.parametrize(
    ("text", "expected"),
    [("3.12.4", "3.12"), ("cpython-3.10.14-linux-x86_64-gnu", "3.10"), ("pypy3.10", "3.11")],
)
def test_python_version_file_forms(tmp_path, text, expected):
    project = given_project(tmp_path, python_version_file=text)
    assert resolve_config(project, None, None).python == expected


def test_config_python_wins_over_file_and_default(tmp_path):
    project = given_project(tmp_path, tool_uvbuild={"python": "3.10"}, python_version_file="3.13")
    assert resolve_config(project, None, ">=3.10").python == "3.10"


def test_flag_python_wins_over_everything(tmp_path):
    project = given_project(tmp_path, tool_uvbuild={"python": "3.10"}, python_version_file="3.13")
    assert resolve_config(project, {"python": "3.12"}, ">=3.10").python == "3.12"


@pytest.mark.parametrize(
    ("machine", "expected"),
    [
        ("x86_64", "linux/amd64"),
        ("AMD64", "linux/amd64"),
        ("aarch64", "linux/arm64"),
        ("arm64", "linux/arm64"),
    ],
)
def test_host_platform(monkeypatch, machine, expected):
    monkeypatch.setattr(resolve.host, "machine", lambda: machine)
    assert host_platform() == expected


def test_platform_defaults_to_the_host(monkeypatch, tmp_path):
    monkeypatch.setattr(resolve.host, "machine", lambda: "aarch64")
    assert resolve_config(given_project(tmp_path), None).platform == "linux/arm64"
    explicit = resolve_config(given_project(tmp_path), {"platform": "linux/amd64"})
    assert explicit.platform == "linux/amd64"
