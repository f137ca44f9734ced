"""uvbuild.core.selection.target: the platform and Python of the image."""

from __future__ import annotations

import pytest

from tests.core.locks import fixture
from uvbuild.core.model import Request, Target
from uvbuild.core.selection import select
from uvbuild.core.selection.markers import marker_environment
from uvbuild.core.selection.target import parse_platform
from uvbuild.errors import ConfigError


@pytest.mark.parametrize(
    ("platform", "arch"),
    [
        ("linux/amd64", "x86_64"),
        ("linux/x86_64", "x86_64"),
        ("linux/arm64", "aarch64"),
        ("linux/aarch64", "aarch64"),
        ("linux/arm64/v8", "aarch64"),
        ("LINUX/AMD64", "x86_64"),
    ],
)
def test_platform_aliases(platform: str, arch: str) -> None:
    assert parse_platform(platform) == arch
    assert marker_environment(Target(platform=platform))["platform_machine"] == arch


@pytest.mark.parametrize("platform", ["linux/arm/v7", "windows/amd64", "darwin/arm64", "amd64"])
def test_bad_platform(platform: str) -> None:
    with pytest.raises(ConfigError, match=r"^--platform"):
        select(fixture("workspace"), Request(), Target(platform=platform), "proj")


@pytest.mark.parametrize("python", ["3", "three", "2.7", "3.11.x"])
def test_bad_python(python: str) -> None:
    with pytest.raises(ConfigError, match=r"^--python"):
        select(fixture("workspace"), Request(), Target(python=python), "proj")


def test_python_outside_requires_python() -> None:
    with pytest.raises(ConfigError, match=r"^--python 3\.9: the lock requires Python >=3\.10"):
        select(fixture("workspace"), Request(), Target(python="3.9"), "proj")
