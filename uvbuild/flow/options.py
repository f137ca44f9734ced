"""The docker build flags of a run (``BuildOptions``) and the checks of their values: ``-o``
exporters, ``--build-context`` names, ``--call``."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from uvbuild.core.render.dockerfile_names import BASE_STAGE, HEAVY_CONTEXT
from uvbuild.errors import ConfigError


@dataclass(frozen=True, slots=True)
class BuildOptions:
    """The ``docker build`` flags uvbuild passes through, plus its own."""

    tags: tuple[str, ...] = ()
    file: str | None = None
    target: str | None = None
    build_args: tuple[tuple[str, str], ...] = ()
    load: bool | None = None  # None: load when the builder uses the docker driver
    push: bool = False
    progress: str = "plain"
    no_cache: bool = False
    rebuild_base: bool = False
    secrets: tuple[str, ...] = ()
    ssh: tuple[str, ...] = ()
    labels: tuple[tuple[str, str], ...] = ()
    builder: str | None = None
    network: str | None = None
    add_hosts: tuple[str, ...] = ()
    cache_from: tuple[str, ...] = ()
    cache_to: tuple[str, ...] = ()
    syntax: str | None = None
    dry_run: bool = False
    push_base: bool = False  # push a base built in the engine to its registry repository
    # docker buildx build flags added for Makefiles and CI (README: "Which build a flag
    # reaches"); outputs are normalised by normalize_output, contexts by user_contexts.
    iidfile: str | None = None  # the app image's id
    metadata_file: str | None = None  # buildx's metadata of the app build + a "uvbuild" key
    outputs: tuple[str, ...] = ()  # -o: the app image's exporters
    pull: bool = False
    provenance: str | None = None
    sbom: str | None = None
    attests: tuple[str, ...] = ()
    annotations: tuple[str, ...] = ()
    shm_size: str | None = None
    ulimits: tuple[str, ...] = ()
    allow: tuple[str, ...] = ()
    build_contexts: tuple[tuple[str, str], ...] = ()  # the user's own named contexts
    call: str | None = None  # "check", "outline" or "targets": evaluate the app Dockerfile

    @property
    def attestation(self) -> str | None:
        """The first flag that asks for an attestation (``--provenance=false`` does not)."""
        off = ("false", "0")
        if self.provenance is not None and self.provenance.strip().lower() not in off:
            return f"--provenance={self.provenance}"
        if self.sbom is not None and self.sbom.strip().lower() not in off:
            return f"--sbom={self.sbom}"
        for attest in self.attests:
            if "disabled=true" not in attest.replace(" ", "").lower():
                return f"--attest {attest}"
        return None

    @property
    def pushes(self) -> bool:
        """Whether the app image goes to its registry: ``--push``, ``-o type=registry``
        or ``-o type=image,push=true``."""
        return self.push or any(output_pushes(output) for output in self.outputs)


# The exporters ``docker buildx build -o`` takes.
OUTPUT_TYPES = ("local", "tar", "oci", "docker", "image", "registry", "cacheonly")


CALLS = ("build", "check", "outline", "targets")


def _output_fields(value: str) -> dict[str, str]:
    fields = {}
    for part in value.split(","):
        key, _, rest = part.partition("=")
        fields[key.strip().lower()] = rest.strip()
    return fields


def output_type(output: str) -> str | None:
    """The exporter of one ``-o`` value (``type=oci,dest=a.tar`` -> ``oci``)."""
    return _output_fields(output).get("type")


def output_pushes(output: str) -> bool:
    fields = _output_fields(output)
    return fields.get("type") == "registry" or (
        fields.get("type") == "image" and fields.get("push", "").lower() == "true"
    )


def output_loads(output: str) -> bool:
    """``type=docker`` without ``dest``: the same as ``--load``."""
    fields = _output_fields(output)
    return fields.get("type") == "docker" and "dest" not in fields


def makes_no_image(output: str) -> bool:
    """``type=local`` and ``type=tar`` export files, not an image: no image id."""
    return output_type(output) in ("local", "tar")


def docker_dest(output: str) -> str | None:
    """The file of ``type=docker,dest=FILE``, else None."""
    fields = _output_fields(output)
    return fields.get("dest") if fields.get("type") == "docker" else None


def normalize_output(value: str) -> str:
    """One ``-o`` value as buildx reads it: ``DIR`` is ``type=local,dest=DIR``; a tar to
    stdout (``-`` or ``dest=-``) is refused, since uvbuild reads buildx's output."""
    value = value.strip()
    if value == "-" or _output_fields(value).get("dest") == "-":
        raise ConfigError(
            f"-o {value}: uvbuild reads buildx's output, so it cannot carry a tar on stdout; "
            "write it to a file: -o type=tar,dest=FILE (or type=docker,dest=FILE)"
        )
    if "=" not in value:
        if not value:
            raise ConfigError("-o '': name an exporter, e.g. -o type=docker,dest=app.tar")
        return f"type=local,dest={value}"
    kind = _output_fields(value).get("type")
    if kind not in OUTPUT_TYPES:
        raise ConfigError(
            f"-o {value}: "
            + (f"unknown exporter type {kind!r}" if kind else "no type= given")
            + f"; use type= one of {', '.join(OUTPUT_TYPES)}, or a directory path"
        )
    return value


def user_contexts(values: Sequence[str]) -> tuple[tuple[str, str], ...]:
    """``--build-context NAME=VALUE`` pairs; the ``uvbuild-`` names are uvbuild's own."""
    pairs = []
    for value in values:
        name, sep, source = value.partition("=")
        if not name or not sep or not source:
            raise ConfigError(f"--build-context {value!r}: expected NAME=VALUE (a path or URL)")
        if name.lower().startswith("uvbuild-"):
            raise ConfigError(
                f"--build-context {name}: names starting with uvbuild- are uvbuild's own "
                f"({BASE_STAGE}, {HEAVY_CONTEXT} and its stages); rename the "
                "context and the stage or COPY --from that reads it"
            )
        if "://" not in source and Path(source).is_dir():  # a local directory
            source = str(Path(source).resolve())
        pairs.append((name, source))
    return tuple(pairs)


def check_iidfile(options: BuildOptions) -> None:
    """``--iidfile`` with ``-o type=local``/``type=tar``: buildx refuses the pair."""
    files = [output for output in options.outputs if makes_no_image(output)]
    if options.iidfile and files:
        raise ConfigError(
            f"--iidfile with -o {files[0]}: the local and tar exporters write files, not "
            "an image, so there is no image id (buildx refuses the pair); drop one of them"
        )


def normalize_call(value: str | None, check: bool) -> str | None:
    """``--call`` / ``--check`` -> None for a build, else the buildx call to make."""
    if check:
        if value not in (None, "build", "check"):
            raise ConfigError(f"--check and --call {value}: give one of them")
        return "check"
    if value is None:
        return None
    call = value.strip().lower()
    if call not in CALLS:
        raise ConfigError(f"--call {value}: use one of {', '.join(CALLS)}")
    return None if call == "build" else call
