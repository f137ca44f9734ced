"""Image references: the registry and the repository a reference names, as docker spells
them."""

from __future__ import annotations

_HUB_HOSTS = ("docker.io/", "index.docker.io/", "registry-1.docker.io/")


def registry_host(ref: str) -> str:
    """The registry a reference names: ``host:5000/team/x:1`` -> ``host:5000``;
    ``python:3.11`` -> ``docker.io``."""
    first, slash, _rest = ref.partition("/")
    if slash and ("." in first or ":" in first or first == "localhost"):
        return first
    return "docker.io"


def familiar_repo(ref: str) -> str:
    """The repository of ``ref`` as docker spells it in ``RepoDigests``:
    ``docker.io/library/python:3.11`` -> ``python``."""
    repo = repo_of(ref)
    for host in _HUB_HOSTS:
        if repo.startswith(host):
            repo = repo.removeprefix(host)
            break
    if registry_host(repo) == "docker.io":
        repo = repo.removeprefix("library/")
    return repo


def repo_of(ref: str) -> str:
    """``host:5000/team/base:tag`` -> ``host:5000/team/base``."""
    name = ref.split("@", 1)[0]
    last = name.rsplit("/", 1)[-1]
    return name.rsplit(":", 1)[0] if ":" in last else name
