"""One ``docker buildx build`` invocation as a value, and its command line (pure)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class BuildRequest:
    """One ``docker buildx build`` invocation; every field maps to one flag."""

    context: str
    file: str | None = None
    tags: tuple[str, ...] = ()
    target: str | None = None
    build_args: tuple[tuple[str, str], ...] = ()
    build_contexts: tuple[tuple[str, str], ...] = ()
    platforms: tuple[str, ...] = ()
    load: bool = False
    push: bool = False
    progress: str | None = None
    no_cache: bool = False
    secrets: tuple[str, ...] = ()
    ssh: tuple[str, ...] = ()
    labels: tuple[tuple[str, str], ...] = ()
    builder: str | None = None
    network: str | None = None
    add_hosts: tuple[str, ...] = ()
    iidfile: str | None = None
    metadata_file: str | None = None
    outputs: tuple[str, ...] = ()
    cache_from: tuple[str, ...] = ()
    cache_to: tuple[str, ...] = ()
    provenance: bool | str | None = None  # False/True or buildx's value (``mode=max``)
    sbom: str | None = None
    attests: tuple[str, ...] = ()
    annotations: tuple[str, ...] = ()
    pull: bool = False
    shm_size: str | None = None
    ulimits: tuple[str, ...] = ()
    allow: tuple[str, ...] = ()
    call: str | None = None  # ``--call=check``: evaluate the Dockerfile, build nothing
    extra_env: tuple[tuple[str, str], ...] = field(default=(), compare=False)


def build_args(request: BuildRequest) -> list[str]:
    """The arguments after ``docker``: a flag appears only when its value is set."""
    args = ["buildx", "build"]

    def many(flag: str, values: Sequence[str]) -> None:
        for value in values:
            args.extend([flag, value])

    def one(flag: str, value: str | None) -> None:
        if value is not None:
            args.extend([flag, value])

    one("--builder", request.builder)
    one("--file", request.file)
    many("--tag", request.tags)
    one("--target", request.target)
    many("--build-arg", [f"{k}={v}" for k, v in request.build_args])
    many("--build-context", [f"{k}={v}" for k, v in request.build_contexts])
    if request.platforms:
        args.extend(["--platform", ",".join(request.platforms)])
    many("--label", [f"{k}={v}" for k, v in request.labels])
    many("--secret", request.secrets)
    many("--ssh", request.ssh)
    one("--network", request.network)
    many("--add-host", request.add_hosts)
    many("--cache-from", request.cache_from)
    many("--cache-to", request.cache_to)
    many("--output", request.outputs)
    one("--progress", request.progress)
    one("--iidfile", request.iidfile)
    one("--metadata-file", request.metadata_file)
    if request.provenance is not None:
        value = request.provenance
        args.append(f"--provenance={str(value).lower() if isinstance(value, bool) else value}")
    if request.sbom is not None:
        args.append(f"--sbom={request.sbom}")
    many("--attest", request.attests)
    many("--annotation", request.annotations)
    one("--shm-size", request.shm_size)
    many("--ulimit", request.ulimits)
    many("--allow", request.allow)
    if request.call is not None:
        args.append(f"--call={request.call}")
    if request.pull:
        args.append("--pull")
    if request.load:
        args.append("--load")
    if request.push:
        args.append("--push")
    if request.no_cache:
        args.append("--no-cache")
    args.append(request.context)
    return args

