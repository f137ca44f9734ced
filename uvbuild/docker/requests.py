"""One ``docker buildx build`` invocation as a value, its command line, and the same
invocation as a ``docker buildx bake`` target (pure: nothing here runs)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any


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

    def attached(flag: str, value: str | None) -> None:
        if value is not None:
            args.append(f"{flag}={value}")

    def switch(flag: str, on: bool) -> None:
        if on:
            args.append(flag)

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
    value = request.provenance
    attached("--provenance", str(value).lower() if isinstance(value, bool) else value)
    attached("--sbom", request.sbom)
    many("--attest", request.attests)
    many("--annotation", request.annotations)
    one("--shm-size", request.shm_size)
    many("--ulimit", request.ulimits)
    many("--allow", request.allow)
    attached("--call", request.call)
    switch("--pull", request.pull)
    switch("--load", request.load)
    switch("--push", request.push)
    switch("--no-cache", request.no_cache)
    args.append(request.context)
    return args


BAKE_BASE_TARGET = "uvbuild-base"
BAKE_APP_TARGET = "app"


# (BuildRequest field, bake attribute), in the order the attributes are written. A field
# that is unset (None, empty, False) writes nothing; pairs become tables, tuples lists.
# bake has no add-host attribute before buildx 0.14: `extra-hosts` keeps it visible.
_BAKE_ATTRIBUTES = (
    ("file", "dockerfile"),
    ("target", "target"),
    ("tags", "tags"),
    ("build_args", "args"),
    ("build_contexts", "contexts"),
    ("platforms", "platforms"),
    ("labels", "labels"),
    ("secrets", "secret"),
    ("ssh", "ssh"),
    ("network", "network"),
    ("add_hosts", "extra-hosts"),
    ("cache_from", "cache-from"),
    ("cache_to", "cache-to"),
    ("no_cache", "no-cache"),
    ("pull", "pull"),
)
_BAKE_ATTRIBUTES_AFTER_ATTEST = (
    ("annotations", "annotations"),
    ("shm_size", "shm-size"),
    ("ulimits", "ulimits"),
    ("allow", "entitlements"),
)
_PAIRS = frozenset({"build_args", "build_contexts", "labels"})


def _bake_values(request: BuildRequest, attributes: tuple[tuple[str, str], ...]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, attribute in attributes:
        value = getattr(request, name)
        if not value:
            continue
        if name in _PAIRS:
            value = dict(value)
        elif isinstance(value, tuple):
            value = list(value)
        out[attribute] = value
    return out


def bake_target(request: BuildRequest) -> dict[str, Any]:
    """One bake target with the same meaning as the ``buildx build`` flags of ``request``."""
    out: dict[str, Any] = {"context": request.context}
    out.update(_bake_values(request, _BAKE_ATTRIBUTES))
    attest = list(request.attests)
    for kind, value in (("provenance", request.provenance), ("sbom", request.sbom)):
        if value is not None:  # bake has no shorthand: --sbom=V is attest type=sbom,...
            attest.append(attest_entry(kind, value))
    if attest:
        out["attest"] = attest
    out.update(_bake_values(request, _BAKE_ATTRIBUTES_AFTER_ATTEST))
    outputs = list(request.outputs)
    if request.push:
        outputs.append("type=registry")
    elif request.load:
        outputs.append("type=docker")
    if outputs:
        out["output"] = outputs
    return out


def attest_entry(kind: str, value: bool | str) -> str:
    """``--provenance=V`` / ``--sbom=V`` as the ``--attest`` entry buildx makes of it."""
    text = str(value).lower() if isinstance(value, bool) else value.strip()
    if text.lower() in ("true", "1", ""):
        return f"type={kind}"
    if text.lower() in ("false", "0"):
        return f"type={kind},disabled=true"
    return f"type={kind},{text}"


def bake_document(base: BuildRequest | None, app: BuildRequest, *, base_ref: str) -> dict[str, Any]:
    """The bake file: the app target, plus the base target when the base must be built.

    With a base to build, the app reads it as ``target:uvbuild-base`` (one bake solves
    both and shares the work); with an existing base, as ``docker-image://<ref>``.
    """
    targets: dict[str, Any] = {}
    app_target = bake_target(app)
    contexts = dict(app_target.get("contexts", {}))
    if base is not None:
        targets[BAKE_BASE_TARGET] = bake_target(base)
        contexts[BAKE_BASE_TARGET] = f"target:{BAKE_BASE_TARGET}"
    else:
        contexts[BAKE_BASE_TARGET] = f"docker-image://{base_ref}"
    app_target["contexts"] = contexts
    targets[BAKE_APP_TARGET] = app_target
    return {
        "group": {"default": {"targets": [BAKE_APP_TARGET]}},
        "target": targets,
    }
