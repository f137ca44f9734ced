"""uvbuild.core.selection.wheels: the wheel uv picks for a target, or the sdist."""

from __future__ import annotations

from dataclasses import replace

import tomllib
from packaging.tags import Tag

from tests.core.locks import AMD64, ARM64, by_name, fixture, names
from tests.paths import FIXTURES
from uvbuild.core.lock import parse_lock
from uvbuild.core.model import Request
from uvbuild.core.selection import select
from uvbuild.core.selection.wheels import best_wheel, wheel_tags


def test_wheel_tags_order() -> None:
    tags = wheel_tags(AMD64)
    assert tags[0] == Tag("cp311", "cp311", "manylinux_2_28_x86_64")
    assert Tag("cp311", "abi3", "manylinux2014_x86_64") in tags
    assert Tag("cp311", "cp311", "manylinux1_x86_64") in tags
    assert Tag("cp311", "cp311", "linux_x86_64") in tags
    assert Tag("py3", "none", "any") in tags
    assert Tag("cp311", "cp311", "manylinux_2_29_x86_64") not in tags
    assert Tag("cp312", "cp312", "manylinux_2_28_x86_64") not in tags
    arm = wheel_tags(ARM64)
    assert Tag("cp311", "cp311", "manylinux2014_aarch64") in arm
    assert not any("x86_64" in t.platform or "manylinux1" in t.platform for t in arm)


# -- fixture: project + member, extras, groups ----------------------------------------------------


def test_glibc_level_picks_manylinux_wheel() -> None:
    lock = fixture("workspace")
    (native,) = lock.by_name("native")
    old = best_wheel(native, replace(AMD64, glibc=(2, 17)))
    assert old is not None and "manylinux_2_17" in old.filename
    assert "manylinux_2_28" in best_wheel(native, AMD64).filename
    # The only aarch64 wheel needs glibc 2.34: older targets fall back to the sdist.
    assert best_wheel(native, ARM64) is None
    arm = select(lock, Request(), ARM64, "proj")
    assert by_name(arm, "native").from_sdist
    assert "x86-only" not in names(arm)
    newer = best_wheel(native, replace(ARM64, glibc=(2, 35)))
    assert newer is not None and newer.filename.endswith("manylinux_2_34_aarch64.whl")


def test_no_wheel_and_no_sdist_is_reported_not_raised() -> None:
    lock = fixture("workspace")
    (dual,) = [p for p in lock.by_name("x86-only")]
    assert best_wheel(dual, ARM64) is None
    data = tomllib.loads((FIXTURES / "workspace" / "uv.lock").read_text())
    root = next(p for p in data["package"] if p["name"] == "proj")
    root["dependencies"][-1].pop("marker")
    chosen = by_name(select(parse_lock(data), Request(), ARM64, "proj"), "x86-only")
    assert chosen.wheel is None and not chosen.from_sdist
    assert chosen.unavailable is not None
    assert "x86-only 1.0.0 has no wheel for linux/arm64" in chosen.unavailable


# -- fixtures written by uv 0.13.9 ----------------------------------------------------------------
