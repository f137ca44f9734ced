"""uvbuild.docker.commands.digests: the digest of each image a base starts from, from the
engine (one inspect for all) or the registry (a fake `docker` script, no engine)."""

from __future__ import annotations

import pytest

from tests.fakes import recording_docker
from uvbuild.docker.engine import Engine
from uvbuild.errors import EngineUnavailable

DIGEST_DOCKER = """#!/bin/sh
# A stand-in for `docker image inspect` and `imagetools inspect` of images' digests.
echo "$*" >> "$CALLS"
case "$*" in
  image\\ inspect*\\ local:1\\ built:1)
    echo '{"id":"sha256:aaaa","repo-digests":["other/x@sha256:oooo","local@sha256:rrrr"]}'
    echo '{"id":"sha256:bbbb","repo-digests":[]}' ;;
  image\\ inspect*\\ local:1\\ nowhere:1)
    echo '{"id":"sha256:aaaa","repo-digests":["other/x@sha256:oooo","local@sha256:rrrr"]}'
    echo "Error: No such image: nowhere:1" >&2; exit 1 ;;
  image\\ inspect*\\ local:1)
    echo '{"id":"sha256:aaaa","repo-digests":["other/x@sha256:oooo","local@sha256:rrrr"]}' ;;
  image\\ inspect*\\ built:1) echo '{"id":"sha256:bbbb","repo-digests":[]}' ;;
  image\\ inspect*\\ dead:1)
    echo "Cannot connect to the Docker daemon at unix:///x.sock. Is the docker daemon running?" >&2
    exit 1 ;;
  image\\ inspect*) echo "Error response from daemon: No such image: $7" >&2; exit 1 ;;
  *imagetools\\ inspect*\\ local:1) echo '{"digest": "sha256:upup", "size": 1}' ;;
  *imagetools\\ inspect*\\ remote:1) echo '{"digest": "sha256:rere", "size": 1}' ;;
  *imagetools\\ inspect*\\ offline:1)
    echo 'ERROR: failed to do request: dial tcp: lookup registry-1.docker.io: no such host' >&2
    exit 1 ;;
  *imagetools\\ inspect*) echo "ERROR: docker.io/library/$7: not found" >&2; exit 1 ;;
  *) echo "unexpected: $*" >&2; exit 2 ;;
esac
"""


@pytest.fixture
def digest_docker(tmp_path, monkeypatch):
    return recording_docker(tmp_path, monkeypatch, DIGEST_DOCKER)


def test_image_digest_prefers_the_engine_then_the_registry(digest_docker):
    engine = Engine()
    assert engine.image_digest("local:1") == "sha256:rrrr"  # its repo digest for that name
    assert engine.image_digest("built:1") == "sha256:bbbb"  # a local build: the image ID
    assert engine.image_digest("remote:1") == "sha256:rere"
    assert engine.image_digest("nowhere:1") is None
    assert len(digest_docker.read_text().splitlines()) == 6  # 2 + 2 + 1 + 1


def test_image_digest_with_pull_asks_the_registry_first(digest_docker):
    engine = Engine()
    assert engine.image_digest("local:1", pull=True) == "sha256:upup"
    assert engine.image_digest("built:1", pull=True) == "sha256:bbbb"  # not in the registry


def test_image_digest_without_an_answer_is_engine_unavailable(digest_docker, monkeypatch):
    monkeypatch.setenv("DOCKER_HOST", "unix:///x.sock")
    with pytest.raises(EngineUnavailable, match="no Docker engine answers at DOCKER_HOST"):
        Engine().image_digest("dead:1")
    with pytest.raises(EngineUnavailable, match=r"registry docker\.io did not answer"):
        Engine().image_digest("offline:1")


def test_image_digests_ask_the_engine_once_for_all(digest_docker):
    got = Engine().image_digests(["local:1", "built:1", "local:1"])
    assert got == {"local:1": "sha256:rrrr", "built:1": "sha256:bbbb"}
    assert len(digest_docker.read_text().splitlines()) == 1


def test_image_digests_ask_one_by_one_when_the_engine_lacks_one(digest_docker):
    got = Engine().image_digests(["local:1", "nowhere:1"])
    assert got == {"local:1": "sha256:rrrr", "nowhere:1": None}
    asked = digest_docker.read_text().splitlines()
    # the joint inspect, then each alone, then the registry for the one the engine lacks
    assert len(asked) == 4 and "imagetools" in asked[-1] and asked[-1].endswith("nowhere:1")


def test_image_digests_with_pull_ask_the_registry_first(digest_docker):
    got = Engine().image_digests(["local:1", "built:1"], pull=True)
    assert got == {"local:1": "sha256:upup", "built:1": "sha256:bbbb"}
