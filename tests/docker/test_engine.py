"""uvbuild.docker.engine without an engine: a missing docker CLI; the builder, images and
layers as docker commands (a fake `docker` script), with no python-on-whales loaded."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.fakes import recording_docker
from uvbuild.docker.engine import Engine
from uvbuild.docker.facts.faults import FIX_CLI
from uvbuild.errors import BuildFailed, ConfigError, EngineUnavailable

# -- a missing docker CLI --------------------------------------------------------------------


def test_missing_cli_is_engine_unavailable(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    engine = Engine()
    assert engine.docker_path() is None
    for verb in (engine.check, engine.engine_info, engine.buildx_version, engine.inspect_builder):
        with pytest.raises(EngineUnavailable) as info:
            verb()
        assert str(info.value) == f"the docker CLI (docker) is not on PATH; {FIX_CLI}"
    with pytest.raises(EngineUnavailable):
        engine.image_exists("x:y")
    # a dry run still prints the commands a user would type
    assert engine.command_line(["buildx", "build", "."]) == "docker buildx build ."


# -- the builder, images and layers as docker commands: no python-on-whales ---------------------

BUILDER_DOCKER = """#!/bin/sh
echo "$*" >> "$CALLS"
case "$*" in
  buildx\\ inspect\\ gone)
    echo 'ERROR: no builder "gone" found' >&2; exit 1 ;;
  buildx\\ inspect\\ odd) echo "something else entirely" ;;
  buildx\\ inspect\\ box)
    cat <<'TEXT'
Name:          box
Driver:        docker-container
Last Activity: 2026-12-01 10:00:00 +0000 UTC

Nodes:
Name:      box0
Endpoint:  unix:///var/run/docker.sock
Status:    inactive
Platforms:
TEXT
    ;;
  buildx\\ inspect*)
    cat <<'TEXT'
Name:          default
Driver:        docker
Last Activity: 2026-12-01 10:00:00 +0000 UTC

Nodes:
Name:             default
Endpoint:         default
Status:           running
BuildKit version: v0.13.1
Platforms:        linux/amd64, linux/amd64/v2, linux/386
Labels:
 org.mobyproject.buildkit.worker.moby.host-gateway-ip: 172.17.0.1
GC Policy rule#0:
 All:           false
TEXT
    ;;
  image\\ inspect*RootFS*\\ app:1) echo '["sha256:l1","sha256:l2"]' ;;
  image\\ inspect*repo-digests*\\ app:1) echo '{"id":"sha256:app","repo-digests":[]}' ;;
  image\\ inspect*\\ Bad:1)
    echo 'invalid reference format: repository name must be lowercase' >&2; exit 1 ;;
  image\\ inspect*\\ app:1) echo 'sha256:app' ;;
  image\\ inspect*) echo "Error: No such image: missing:1" >&2; exit 1 ;;
  image\\ history*)
    echo '{"CreatedBy":"RUN uv sync","Size":"2000"}'
    echo '{"CreatedBy":"COPY . . # buildkit","Size":"0"}'
    echo '{"CreatedBy":"ENV A=1","Size":"0"}' ;;
  image\\ tag\\ app:1\\ Bad:2)
    echo 'Error parsing reference: "Bad:2": invalid reference format' >&2
    exit 1 ;;
  image\\ tag*) ;;
  *) echo "unexpected: $*" >&2; exit 2 ;;
esac
"""


@pytest.fixture
def builder_docker(tmp_path, monkeypatch):
    return recording_docker(tmp_path, monkeypatch, BUILDER_DOCKER)


def test_check_is_one_buildx_inspect_and_keeps_the_platforms(builder_docker):
    engine = Engine()
    info = engine.check()
    assert (info.name, info.driver, info.buildkit, info.running) == (
        "default",
        "docker",
        "v0.13.1",
        True,
    )
    assert engine.builder_platforms() == ("linux/amd64", "linux/amd64/v2", "linux/386")
    assert builder_docker.read_text().splitlines() == ["buildx inspect"]  # no `buildx ls`


def test_an_inactive_container_builder_counts_as_running(builder_docker):
    info = Engine(builder="box").inspect_builder()
    assert (info.driver, info.running) == ("docker-container", True)
    assert Engine(builder="box").builder_platforms() == ()


def test_a_missing_builder_names_it_and_the_fix(builder_docker):
    with pytest.raises(EngineUnavailable) as info:
        Engine(builder="gone").inspect_builder()
    assert str(info.value).startswith(
        "buildx builder 'gone' cannot be used (ERROR: no builder \"gone\" found); list builders"
    )


def test_a_builder_text_that_does_not_read_is_asked_through_python_on_whales(builder_docker):
    # python-on-whales reads the name from the first line, then looks for it in `buildx ls`,
    # which this stand-in does not know: the answer is that the builder cannot be used
    with pytest.raises(Exception):  # noqa: B017 -- whatever python-on-whales raises
        Engine(builder="odd").check()
    assert builder_docker.read_text().splitlines()[:2] == ["buildx inspect odd"] * 2


def test_images_tags_and_layers_are_docker_commands(builder_docker):
    engine = Engine()
    assert engine.image_exists("app:1") and not engine.image_exists("missing:1")
    with pytest.raises(ConfigError, match="'Bad:1' is not a valid image reference"):
        engine.image_exists("Bad:1")
    assert engine.diff_ids("app:1") == ["sha256:l1", "sha256:l2"]
    with pytest.raises(BuildFailed, match="image missing:1 is not in the engine"):
        engine.diff_ids("missing:1")
    layers = engine.image_layers("app:1")
    assert [(x.diff_id, x.size, x.created_by) for x in layers] == [
        ("sha256:l1", 0, "COPY . . # buildkit"),
        ("sha256:l2", 2000, "RUN uv sync"),
    ]
    engine.tag("app:1", "app:2")
    with pytest.raises(ConfigError, match="'Bad:2' is not a valid image reference"):
        engine.tag("app:1", "Bad:2")


def test_a_build_loads_no_python_on_whales(builder_docker, tmp_path):
    code = (
        "import sys; from uvbuild.docker.engine import Engine; e = Engine(); e.check(); "
        "e.image_digests(['app:1']); e.image_layers('app:1'); e.tag('app:1', 'a:2'); "
        "print('python_on_whales' in sys.modules, 'pydantic' in sys.modules)"
    )
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True
    )
    assert done.stdout.split() == ["False", "False"]
