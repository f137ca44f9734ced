"""uvbuild.docker.facts.answers: what names an image (the engine's digest, the registry's),
the registry's answers, a builder's `buildx inspect` text."""

from __future__ import annotations

import pytest

from uvbuild.docker.facts.answers import local_digest, manifest_digest, parse_builder
from uvbuild.docker.facts.faults import engine_down, registry_denied


def test_local_digest_is_the_repo_digest_of_the_name_else_the_image_id():
    pulled = '{"id":"sha256:cfg","repo-digests":["nvidia/cuda@sha256:n","python@sha256:p"]}'
    assert local_digest("docker.io/library/python:3.11-slim", pulled) == "sha256:p"
    assert local_digest("mine/python:3.11", pulled) == "sha256:cfg"  # a re-tag
    assert local_digest("x:1", '{"id":"sha256:cfg","repo-digests":null}') == "sha256:cfg"
    with pytest.raises(ValueError):
        local_digest("x:1", '{"id":"","repo-digests":[]}')


def test_manifest_digest_and_registry_answers():
    assert manifest_digest('{"mediaType": "m", "digest": "sha256:l", "size": 1}') == "sha256:l"
    with pytest.raises(ValueError):
        manifest_digest('{"digest": "md5:x"}')
    assert registry_denied("ERROR: pull access denied, insufficient_scope: authorization")
    assert not registry_denied("dial tcp: no such host")
    assert engine_down("Cannot connect to the Docker daemon at unix:///x. Is it running?")


# -- `docker buildx inspect` text ----------------------------------------------------------------

OLD_BUILDX_INSPECT = """\
Name:   multi
Driver: docker-container

Nodes:
Name:      multi0
Endpoint:  unix:///var/run/docker.sock
Status:    running
Buildkit:  v0.12.5
Platforms: linux/amd64, linux/arm64

Name:      multi1
Endpoint:  ssh://arm
Status:    running
Buildkit:  v0.12.5
Platforms: linux/arm64, linux/arm/v7
"""


def test_parse_builder_reads_every_node_and_older_buildx_words():
    info, platforms = parse_builder(OLD_BUILDX_INSPECT)
    assert (info.name, info.driver, info.buildkit, info.running) == (
        "multi",
        "docker-container",
        "v0.12.5",
        True,
    )
    assert platforms == ("linux/amd64", "linux/arm64", "linux/arm/v7")


def test_parse_builder_a_down_engine_runs_no_node_and_other_text_is_none():
    down = "Name: default\nDriver: docker\n\nNodes:\nName: default\nEndpoint: default\n"
    down += "Error: Cannot connect to the Docker daemon at unix:///var/run/docker.sock\n"
    info, platforms = parse_builder(down)
    assert (info.driver, info.running, platforms) == ("docker", False, ())
    stopped = OLD_BUILDX_INSPECT.replace("running", "stopped")
    assert not parse_builder(stopped)[0].running
    assert parse_builder("") is None and parse_builder("Name: x\n") is None
