"""uvbuild.core.selection.markers: lock markers on a target, with uv's conflict markers."""

from __future__ import annotations

from packaging.markers import Marker

from tests.core.locks import AMD64
from uvbuild.core.model import Target
from uvbuild.core.selection.markers import compile_marker, encode_extra, marker_environment
from uvbuild.core.selection.target import python_full_version


def test_marker_environment() -> None:
    env = marker_environment(AMD64, extras={"extra-3-foo-x"})
    assert env["sys_platform"] == "linux"
    assert env["platform_system"] == "Linux"
    assert env["os_name"] == "posix"
    assert env["python_version"] == "3.11"
    assert env["python_full_version"] == "3.11.99"
    assert env["implementation_version"] == "3.11.99"
    assert env["extras"] == frozenset({"extra-3-foo-x"})
    assert python_full_version(Target(python="3.12.4")) == "3.12.4"
    # X.Y means the newest patch release: patch-level lower bounds hold.
    assert Marker("python_full_version >= '3.11.4'").evaluate(env, context="lock_file")


def test_conflict_markers_rewritten() -> None:
    marker, dynamic = compile_marker(
        "sys_platform == 'linux' and extra == 'extra-8-nanochat-cpu' "
        "and extra != 'extra-8-nanochat-gpu'"
    )
    assert dynamic
    cpu = marker_environment(AMD64, extras={encode_extra("nanochat", "cpu")})
    both = marker_environment(
        AMD64, extras={encode_extra("nanochat", "cpu"), encode_extra("nanochat", "gpu")}
    )
    assert marker.evaluate(cpu, context="lock_file")
    assert not marker.evaluate(both, context="lock_file")
    assert not marker.evaluate(marker_environment(AMD64), context="lock_file")
    group, _ = compile_marker("extra == 'group-4-proj-docs'")
    env = marker_environment(AMD64, extras={"group-4-proj-docs"})
    assert group.evaluate(env, context="lock_file")
    assert compile_marker("sys_platform == 'linux'")[1] is False
