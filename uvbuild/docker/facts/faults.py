"""The faults a docker command reports: how its stderr says which, the one line uvbuild
says about it, and the ``FIX_*`` texts (one next step per fault, shared by every command's
error line and by ``uvbuild doctor``)."""

from __future__ import annotations

import re

FIX_CLI = (
    "install Docker Engine with the buildx plugin (https://docs.docker.com/engine/install/) "
    "or put `docker` on PATH"
)


FIX_ENGINE = (
    "start the engine (`sudo systemctl start docker`, or `dockerd`), or point DOCKER_HOST "
    "or `docker context use` at a running one"
)


FIX_BUILDX = (
    "install the buildx plugin (package docker-buildx-plugin or docker-buildx) into "
    "~/.docker/cli-plugins or /usr/local/lib/docker/cli-plugins"
)


FIX_BUILDER = (
    "list builders with `docker buildx ls`, then pass --builder with one of them "
    "(or drop --builder and BUILDX_BUILDER to use the current one)"
)


FIX_DRIVER = (
    "use a builder with the docker driver (`--builder default`), which builds straight "
    "into the engine's image store"
)


FIX_REGISTRY = (
    "start the registry or correct --base-repo (tool.uvbuild.base-repo); "
    "run `docker login <registry>` when it needs credentials"
)


FIX_DISK = (
    "free space with `uvbuild gc` (this project's old bases and their build cache) or "
    "`docker builder prune` (all unused build cache), then run the build again"
)


FIX_PUSH = "Check write access (`docker login <registry>`) and --base-repo (tool.uvbuild.base-repo)"


FIX_BROKEN_PUSH = (
    "The base is complete in the engine: run again with --push-base and it is pushed "
    "without being built again (the blobs the registry got are not sent twice)"
)


# HTTP 403 as a status, not the digits of a port or a size: a connection reset on
# 127.0.0.1:54036 is a push broken off, not refused
_STATUS_403 = re.compile(r"(?<![\d.:])403(?!\d)")


def push_failed(ref: str, tail: str) -> str:
    """The one line for a ``docker push`` of the base that failed: refused (credentials,
    permissions), or broken off by the registry or the network half-way."""
    lowered = tail.lower()
    refused = any(
        word in lowered
        for word in ("denied", "unauthorized", "authentication required", "forbidden")
    ) or bool(_STATUS_403.search(lowered))
    fix = FIX_PUSH if refused else FIX_BROKEN_PUSH
    what = "refused" if refused else "broke off"
    return (
        f"pushing {ref} failed ({what}: {tail}); the registry did not get its manifest, so "
        f"no tag was made or moved. {fix}"
    )


def shorten(text: str, width: int = 90) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"


def text_tail(text: str, fallback: str) -> str:
    meaningful = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return shorten(meaningful[-1].removeprefix("ERROR: "), 200) if meaningful else fallback


def registry_not_found(stderr: str) -> bool:
    """``imagetools inspect`` of a tag or repository the registry does not hold."""
    last = text_tail(stderr, "")
    return last.endswith(": not found") or "MANIFEST_UNKNOWN" in stderr or "NAME_UNKNOWN" in stderr


def registry_denied(stderr: str) -> bool:
    """``imagetools inspect`` of a name the registry will not show (private, or, on Docker
    Hub, a repository that does not exist)."""
    lowered = stderr.lower()
    return any(
        word in lowered
        for word in ("401 unauthorized", "insufficient_scope", "access to the resource is denied")
    )


def registry_error(ref: str, stderr: str) -> str:
    """One line for a registry that did not answer about ``ref``."""
    text = text_tail(stderr, "no answer")
    lowered = stderr.lower()
    if any(word in lowered for word in ("unauthorized", "authorization", "denied", "401")):
        what = "refused the credentials"
    else:
        what = "cannot be reached"
    host = ref.split("/", 1)[0]
    return f"the registry {host} {what} ({text}); {FIX_REGISTRY}"


def no_such_image(stderr: str) -> bool:
    """``docker image inspect`` of an image the engine does not have."""
    return "no such image" in stderr.lower()


def invalid_reference(ref: str) -> str:
    """One line for a base reference docker refuses (``invalid reference format``)."""
    return (
        f"{ref!r} is not a valid image reference; check tool.uvbuild.base-repo "
        "(--base-repo): a repository such as registry:5000/team/base, without a tag"
    )


def engine_down(stderr: str) -> bool:
    """A docker command that found no engine at the endpoint (``Cannot connect ...``)."""
    lowered = stderr.lower()
    return (
        "cannot connect to the docker daemon" in lowered
        or "is the docker daemon running" in lowered
    )
