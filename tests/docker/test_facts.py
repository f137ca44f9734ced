"""uvbuild.docker.facts: what a failed build's output says, what names an image, a builder."""

from __future__ import annotations

import pytest

from uvbuild.docker.facts import (
    disk_full,
    engine_down,
    failing_step,
    familiar_repo,
    local_digest,
    manifest_digest,
    parse_builder,
    registry_denied,
    registry_host,
)


def test_failing_step_without_a_step_block_gives_the_solver_verdict():
    lines = [
        "#8 [uvbuild-deps 3/3] RUN uv sync --frozen",
        "#8 0.512 error: Failed to fetch",
        '#8 ERROR: process "/bin/sh -c uv sync" did not complete successfully: exit code: 2',
        "------",
        'ERROR: failed to solve: process "/bin/sh -c uv sync" did not complete: exit code: 2',
    ]
    assert failing_step(lines) == ('process "/bin/sh -c uv sync" did not complete: exit code: 2')


def test_failing_step_names_the_buildkit_step_and_its_error():
    lines = [
        "#9 [uvbuild-base 3/3] RUN uv venv /opt/venv && uv pip install -r heavy-1.txt",
        "#9 0.3 error: Failed to download `fake-nvidia-broken-cu12==1.0.0`",
        '#9 ERROR: process "/bin/sh -c uv venv" did not complete successfully: exit code: 2',
        "------",
        " > [uvbuild-base 3/3] RUN uv venv /opt/venv && uv pip install -r heavy-1.txt:",
        "0.3 error: Failed to download `fake-nvidia-broken-cu12==1.0.0`",
        "0.3   Caused by: HTTP status client error (404 Not Found)",
        "------",
        "Dockerfile:9",
        'ERROR: failed to solve: process "/bin/sh -c uv venv" did not complete successfully: '
        "exit code: 2",
    ]
    assert failing_step(lines) == (
        "[uvbuild-base 3/3] RUN uv venv /opt/venv && uv pip install -r heavy-1.txt: "
        "0.3 error: Failed to download `fake-nvidia-broken-cu12==1.0.0`"
    )


def test_failing_step_falls_back_to_the_step_error():
    lines = [
        "#5 [uvbuild-base 2/4] RUN uv venv /opt/venv",
        '#5 ERROR: process "/bin/sh -c uv venv" did not complete successfully: exit code: 1',
        "some trailing noise",
    ]
    assert failing_step(lines) == (
        '#5 ERROR: process "/bin/sh -c uv venv" did not complete successfully: exit code: 1'
    )


def test_failing_step_without_an_error_line():
    assert failing_step(["#1 DONE 0.1s", "all good"]) is None
    assert failing_step([]) is None


def test_familiar_repo_and_registry_host():
    assert familiar_repo("docker.io/library/python:3.11") == "python"
    assert familiar_repo("python@sha256:ab") == familiar_repo("library/python") == "python"
    assert familiar_repo("127.0.0.1:5000/team/x:1") == "127.0.0.1:5000/team/x"
    assert familiar_repo("nvidia/cuda:12") == "nvidia/cuda"
    assert registry_host("python:3.11") == registry_host("nvidia/cuda:1") == "docker.io"
    assert registry_host("ghcr.io/astral-sh/uv:0.5") == "ghcr.io"
    assert registry_host("localhost/x:1") == "localhost"


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


def test_disk_full_finds_enospc_in_buildkit_and_uv_words():
    assert disk_full(["#5 DONE", "ERROR: failed to solve: write /x: no space left on device"]) == (
        "failed to solve: write /x: no space left on device"
    )
    uv = "  x Failed to write to the cache: No space left on device (os error 28)"
    assert disk_full(["#7 0.3 Resolved 3 packages", uv]) == (
        "x Failed to write to the cache: No space left on device"
    )
    long = "error: " + "a/" * 120 + " no space left on device: more"
    found = disk_full([long])
    assert found is not None and found.startswith("…") and found.endswith("left on device")
    assert len(found) == 140
    cp = "#8 0.411 cp: error copying '/tmp/uv' to '/bin/uv': No space left on device"
    assert disk_full([cp]) == "cp: error copying '/tmp/uv' to '/bin/uv': No space left on device"
    assert disk_full(["ERROR: failed to solve: exit code: 1"]) is None
