"""uvbuild.docker.facts.refs: what names an image's repository and registry."""

from __future__ import annotations

from uvbuild.docker.facts.refs import familiar_repo, registry_host


def test_familiar_repo_and_registry_host():
    assert familiar_repo("docker.io/library/python:3.11") == "python"
    assert familiar_repo("python@sha256:ab") == familiar_repo("library/python") == "python"
    assert familiar_repo("127.0.0.1:5000/team/x:1") == "127.0.0.1:5000/team/x"
    assert familiar_repo("nvidia/cuda:12") == "nvidia/cuda"
    assert registry_host("python:3.11") == registry_host("nvidia/cuda:1") == "docker.io"
    assert registry_host("ghcr.io/astral-sh/uv:0.5") == "ghcr.io"
    assert registry_host("localhost/x:1") == "localhost"
