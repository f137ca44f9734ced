"""uvbuild.docker.commands.images: the labels of a base in the engine, with its layers, in
one `docker image inspect` (a fake `docker` script, no engine)."""

from __future__ import annotations

import pytest

from tests.fakes import recording_docker
from uvbuild.docker.engine import Engine
from uvbuild.docker.facts.faults import FIX_ENGINE
from uvbuild.errors import ConfigError, EngineUnavailable

INSPECTING_DOCKER = """#!/bin/sh
# A stand-in for `docker image inspect` and `docker image tag`.
echo "$*" >> "$CALLS"
case "$*" in
  image\\ inspect\\ --format\\ *labels*\\ base:labelled)
    echo '{"labels":{"io.uvbuild.key":"'"$KEY"'","io.uvbuild.base":"1"},"layers":["sha256:l"]}' ;;
  image\\ inspect\\ --format\\ *labels*\\ base:bare)
    echo '{"labels":null,"layers":[]}' ;;
  image\\ inspect\\ --format\\ *labels*\\ Bad:Ref)
    echo "invalid reference format: repository name (library/Bad) must be lowercase" >&2
    exit 1 ;;
  image\\ inspect\\ --format\\ *labels*\\ base:down)
    echo "Cannot connect to the Docker daemon at unix:///x.sock. Is the docker daemon running?" >&2
    exit 1 ;;
  image\\ inspect\\ --format\\ *labels*\\ base:gone)
    echo "Error response from daemon: No such image: base:gone" >&2; exit 1 ;;
  "image inspect --format {{json .RootFS.Layers}} base:labelled") echo '["sha256:fresh"]' ;;
  "image tag sha256:new base:labelled") ;;
  *) echo "unexpected: $*" >&2; exit 2 ;;
esac
"""


@pytest.fixture
def inspecting_docker(tmp_path, monkeypatch):
    return recording_docker(tmp_path, monkeypatch, INSPECTING_DOCKER, KEY="k" * 64)


def test_image_labels_answers_existence_and_labels_in_one_call(inspecting_docker):
    engine = Engine()
    assert engine.image_labels("base:labelled") == {
        "io.uvbuild.base": "1",
        "io.uvbuild.key": "k" * 64,
    }
    assert engine.image_labels("base:bare") == {}
    assert engine.image_labels("base:gone") is None
    assert len(inspecting_docker.read_text().splitlines()) == 3
    # the layers came with the labels: the layer report asks no more
    assert engine.diff_ids("base:labelled") == ["sha256:l"] and engine.diff_ids("base:bare") == []
    assert len(inspecting_docker.read_text().splitlines()) == 3
    engine.tag("sha256:new", "base:labelled")  # uvbuild moved the tag: asked again
    assert engine.diff_ids("base:labelled") == ["sha256:fresh"]


def test_image_labels_without_an_engine_says_so_as_check_does(inspecting_docker, monkeypatch):
    # a run that took the builder's kept answer learns here that the engine is down
    monkeypatch.setenv("DOCKER_HOST", "unix:///x.sock")
    with pytest.raises(EngineUnavailable) as info:
        Engine().image_labels("base:down")
    assert str(info.value).startswith(
        "no Docker engine answers at DOCKER_HOST=unix:///x.sock (Cannot connect to the Docker"
    )
    assert str(info.value).endswith(FIX_ENGINE)


def test_image_labels_of_a_malformed_ref_is_a_config_error(inspecting_docker):
    with pytest.raises(ConfigError, match="'Bad:Ref' is not a valid image reference"):
        Engine().image_labels("Bad:Ref")
