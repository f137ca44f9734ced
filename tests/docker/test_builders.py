"""uvbuild.docker.builders: the builder's answer kept between runs, keyed on what defines
the builder, and the Engine taking it (a fake `docker` script, no engine)."""

from __future__ import annotations

import json
import os

import pytest

from tests.fakes import recording_docker
from uvbuild.docker.builders import TTL_SECONDS, BuilderCache, contradicts, state_key
from uvbuild.docker.engine import Engine
from uvbuild.docker.facts.values import BuilderInfo
from uvbuild.docker.requests import BuildRequest
from uvbuild.errors import BuildFailed

RUNNING = BuilderInfo("default", "docker", "v0.13.1")
PLATFORMS = ("linux/amd64", "linux/386")


@pytest.fixture
def docker_home(tmp_path, monkeypatch):
    """A DOCKER_CONFIG of this test's own, with buildx's files."""
    home = tmp_path / "docker-config"
    (home / "buildx" / "instances").mkdir(parents=True)
    (home / "buildx" / "current").write_text('{"Key":"unix:///var/run/docker.sock","Name":""}')
    (home / "config.json").write_text("{}")
    monkeypatch.setenv("DOCKER_CONFIG", str(home))
    for name in ("DOCKER_HOST", "DOCKER_CONTEXT", "BUILDX_BUILDER", "BUILDX_CONFIG"):
        monkeypatch.delenv(name, raising=False)
    return home


def key(builder=None):
    return state_key("/usr/bin/docker", builder, os.environ)


def test_the_key_moves_with_what_selects_or_defines_the_builder(docker_home, monkeypatch):
    first = key()
    (docker_home / "buildx" / "current").write_text(
        '{"Key":"unix:///var/run/docker.sock","Name":""}'
    )
    assert key() == first  # buildx rewrites `current` on every command: the same bytes
    assert key("box") != first
    (docker_home / "buildx" / "current").write_text('{"Key":"x","Name":"box"}')  # buildx use
    used = key()
    assert used != first
    (docker_home / "buildx" / "instances" / "box").write_text('{"Driver":"docker-container"}')
    created = key()
    assert created != used
    (docker_home / "buildx" / "instances" / "box").write_text('{"Driver":"remote"}')
    assert key() != created
    (docker_home / "config.json").write_text('{"currentContext":"other"}')  # context use
    context = key()
    assert context != created
    meta = docker_home / "contexts" / "meta" / "abc"
    meta.mkdir(parents=True)
    (meta / "meta.json").write_text('{"Name":"other"}')
    assert key() != context
    for name in ("DOCKER_HOST", "DOCKER_CONTEXT", "BUILDX_BUILDER", "BUILDX_CONFIG"):
        before = key()
        monkeypatch.setenv(name, "x")
        assert key() != before, name
        monkeypatch.delenv(name)


def test_an_answer_is_kept_for_its_key_and_its_time_only(tmp_path):
    now = [1000.0]
    cache = BuilderCache(tmp_path / "cache", clock=lambda: now[0])
    assert cache.get("k") is None  # no file: a miss
    cache.put("k", RUNNING, PLATFORMS)
    assert cache.get("k") == (RUNNING, PLATFORMS) and cache.get("other") is None
    now[0] += TTL_SECONDS - 1
    assert cache.get("k") is not None
    now[0] += 2
    assert cache.get("k") is None  # too old
    now[0] = 10.0
    assert cache.get("k") is None  # from the future: the clock moved
    cache.put("stopped", BuilderInfo("box", "docker-container", None, running=False), ())
    assert "stopped" not in json.loads(cache.path.read_text())
    now[0] = 1000.0
    cache.forget("k")
    assert cache.get("k") is None


def test_a_broken_cache_file_is_a_miss(tmp_path):
    cache = BuilderCache(tmp_path)
    cache.path.write_text("{not json")
    assert cache.get("k") is None
    cache.path.write_text(json.dumps({"k": {"at": "soon", "name": 1}}))
    assert cache.get("k") is None
    cache.put("k", RUNNING, PLATFORMS)  # and it is rewritten whole
    assert cache.get("k") == (RUNNING, PLATFORMS)


def test_a_build_line_naming_another_builder_or_driver_contradicts():
    line = '#0 building with "default" instance using docker driver'
    assert not contradicts(line, RUNNING) and not contradicts("#1 [internal] load", RUNNING)
    assert contradicts(line.replace("default", "box"), RUNNING)
    assert contradicts(line.replace("docker driver", "docker-container driver"), RUNNING)


CACHED_DOCKER = """#!/bin/sh
echo "$*" >> "$CALLS"
case "$*" in
  buildx\\ inspect*)
    printf 'Name: default\\nDriver: docker\\n\\nNodes:\\nName: default\\nStatus: running\\n'
    printf 'Platforms: linux/amd64\\n' ;;
  buildx\\ build*)
    echo "#0 building with \\"$BUILDER_SAYS\\" instance using docker driver"
    [ "$MODE" = fail ] && exit 1
    exit 0 ;;
  *) echo "unexpected: $*" >&2; exit 2 ;;
esac
"""


@pytest.fixture
def cached_docker(tmp_path, monkeypatch, docker_home):
    return recording_docker(tmp_path, monkeypatch, CACHED_DOCKER, BUILDER_SAYS="default")


def inspects(calls) -> int:
    return sum(line.startswith("buildx inspect") for line in calls.read_text().splitlines())


def test_check_asks_buildx_once_then_takes_the_kept_answer(cached_docker, tmp_path):
    cache_dir = tmp_path / "uvbuild-cache"
    said: list[str] = []
    first = Engine(cache_dir=cache_dir).check()
    engine = Engine(cache_dir=cache_dir, log=said.append)
    assert engine.check() == first and inspects(cached_docker) == 1
    assert engine.builder_platforms() == ("linux/amd64",)
    assert said == ["builder default (docker driver), as buildx answered before"]
    Engine(cache_dir=cache_dir).inspect_builder()  # doctor's question is always live
    Engine().check()  # without a cache directory: asked
    assert inspects(cached_docker) == 3


def test_a_build_naming_another_builder_or_failing_drops_the_kept_answer(
    cached_docker, tmp_path, monkeypatch
):
    cache_dir = tmp_path / "uvbuild-cache"
    Engine(cache_dir=cache_dir).check()
    engine = Engine(cache_dir=cache_dir)
    engine.check()
    engine.build(BuildRequest(context="."), lambda _line: None, step="the app build")
    Engine(cache_dir=cache_dir).check()
    assert inspects(cached_docker) == 1  # a build that agreed keeps it
    monkeypatch.setenv("BUILDER_SAYS", "box")
    engine = Engine(cache_dir=cache_dir)
    engine.check()
    engine.build(BuildRequest(context="."), lambda _line: None, step="the app build")
    Engine(cache_dir=cache_dir).check()
    assert inspects(cached_docker) == 2  # asked again
    monkeypatch.setenv("BUILDER_SAYS", "default")
    monkeypatch.setenv("MODE", "fail")
    engine = Engine(cache_dir=cache_dir)
    engine.check()
    with pytest.raises(BuildFailed):
        engine.build(BuildRequest(context="."), lambda _line: None, step="the app build")
    Engine(cache_dir=cache_dir).check()
    assert inspects(cached_docker) == 3
