"""uvbuild.docker.commands.registry: a base as its registry holds it, read without pulling
(a fake `docker` script, no registry)."""

from __future__ import annotations

import pytest

from tests.fakes import recording_docker
from uvbuild.docker.engine import Engine

REGISTRY_DOCKER = """#!/bin/sh
# A stand-in for `docker buildx imagetools inspect`.
echo "$*" >> "$CALLS"
case "$*" in
  "buildx imagetools inspect --format {{json .}} r:5000/b:t")
    echo '{"manifest": {"digest": "sha256:d"}, "image": {"rootfs": {"diff_ids": ["sha256:l"]},'
    echo ' "config": {"Labels": {"io.uvbuild.key": "'"$KEY"'"}}}}' ;;
  "buildx imagetools inspect --raw r:5000/b:t") echo '{"layers": [{"size": 7}]}' ;;
  *) echo "unexpected: $*" >&2; exit 2 ;;
esac
"""


@pytest.fixture
def registry_docker(tmp_path, monkeypatch):
    return recording_docker(tmp_path, monkeypatch, REGISTRY_DOCKER, KEY="k" * 64)


def test_registry_image_carries_the_config_labels(registry_docker):
    image = Engine().registry_image("r:5000/b:t", "linux/amd64")
    assert image is not None
    assert image.label("io.uvbuild.key") == "k" * 64
    assert (image.digest, image.diff_ids, image.layer_bytes) == ("sha256:d", ("sha256:l",), 7)
