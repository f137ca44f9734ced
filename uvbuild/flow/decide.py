"""The one decision: where the base is looked for, how it is built and pushed, and whether
the app is loaded or pushed.

Pure: the base repository, what the user asked for (:class:`Intent`) and what the engine
said (the builder's driver) in, a :class:`Policy` out; then, once the base has been looked
for, :func:`base_step` says what to do with it. ``build``, ``bake``, several platforms and
``doctor`` all read these two functions, so they cannot disagree.

The rules, in one place:

* A builder with the ``docker`` driver builds into the engine's image store: the base is
  looked for there first, built with ``--load`` and tagged after its build succeeded.
* Any other driver (``docker-container``, ``remote``, ``kubernetes``) keeps its own store
  and cannot read the engine's images: its base must live in a registry, so ``base-repo``
  must name one; the base build pushes it (BuildKit uploads the manifest last) and the
  engine's store is never looked at. ``bake`` follows the same rule as ``build``.
* ``--push-base`` needs a registry ``base-repo``; it pushes a base built here, and a base
  found only in the engine.
* The app is loaded unless ``--push`` is given (``--load``/``--no-load`` decide when given).
* Several platforms need ``--push``, ``-t`` and a registry ``base-repo``, and no ``--load``:
  an engine cannot load a multi-platform image, and each platform's base must be pushed.
"""

from __future__ import annotations

from dataclasses import dataclass

from uvbuild.errors import ConfigError, EngineUnavailable

DOCKER_DRIVER = "docker"

FIX_DRIVER = (
    "use a builder with the docker driver (`--builder default`), which builds straight "
    "into the engine's image store"
)


def is_registry_repo(repo: str) -> bool:
    """A repository whose first part names a registry host (``host.tld/...``,
    ``host:5000/...``, ``localhost/...``): its bases are looked for and pushed there."""
    first, sep, _ = repo.partition("/")
    return bool(sep) and ("." in first or ":" in first or first == "localhost")


@dataclass(frozen=True, slots=True)
class Intent:
    """What the user asked for, as far as reuse, push and load go."""

    push: bool = False
    load: bool | None = None  # None: --load/--no-load not given
    push_base: bool = False
    rebuild_base: bool = False
    platforms: tuple[str, ...] = ()  # more than one: a multi-platform build
    tags: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Policy:
    """How this run treats the base and the app, decided before anything is looked up."""

    registry: bool  # base-repo names a registry: the base is looked for and pushed there
    base_in_engine: bool  # the builder builds into the engine's store (docker driver)
    app_load: bool
    app_push: bool
    push_base: bool  # --push-base: push a base that is only in the engine

    @property
    def lookups(self) -> tuple[str, ...]:
        """Where an existing base is looked for, in order."""
        return (("engine",) if self.base_in_engine else ()) + (
            ("registry",) if self.registry else ()
        )

    @property
    def base_build_pushes(self) -> bool:
        """The base build pushes the base itself (a builder outside the engine) instead of
        loading it into the engine to be tagged there."""
        return not self.base_in_engine


@dataclass(frozen=True, slots=True)
class BaseStep:
    """What happens to the base once it has been looked for."""

    action: str  # "reuse" or "build"
    source: str  # where the app build reads it: "engine" or "registry"
    rebuilt: bool = False  # built although it existed (--rebuild-base)
    # docker push after the build, or of a base found only in the engine when the registry
    # lacks it (asked after this step, only for a reused engine base)
    push: bool = False


def driver_problem(driver: str, builder: str, registry: bool) -> str | None:
    """Why a builder with ``driver`` cannot serve this base repository, or None."""
    if driver == DOCKER_DRIVER or registry:
        return None
    return (
        f"builder {builder!r} uses the {driver} driver, which cannot see images in the local "
        "engine, so the base must come from a registry: set --base-repo "
        "(tool.uvbuild.base-repo) to a registry repository such as "
        f"registry.example.com/team/base, or {FIX_DRIVER}"
    )


def policy(base_repo: str, intent: Intent, driver: str | None, builder: str = "") -> Policy:
    """The policy for one run. ``driver`` is the selected builder's driver, or None when no
    engine answered (a dry run goes on as the docker driver would). Raises ConfigError for
    flags that cannot go together and EngineUnavailable for a builder that cannot serve
    the base repository."""
    registry = is_registry_repo(base_repo)
    if intent.push_base and not registry:
        raise ConfigError(
            f"--push-base needs a registry base repository, but {base_repo!r} names none; "
            "set --base-repo (tool.uvbuild.base-repo) to e.g. registry.example.com/team/base"
        )
    if len(intent.platforms) > 1:
        _check_platforms(base_repo, intent, registry)
    effective = driver or DOCKER_DRIVER
    problem = driver_problem(effective, builder or "the current builder", registry)
    if problem:
        raise EngineUnavailable(problem)
    several = len(intent.platforms) > 1
    return Policy(
        registry=registry,
        base_in_engine=effective == DOCKER_DRIVER,
        app_load=False
        if several
        else (intent.load if intent.load is not None else not intent.push),
        app_push=intent.push,
        push_base=intent.push_base or several,
    )


def _check_platforms(base_repo: str, intent: Intent, registry: bool) -> None:
    platforms = ", ".join(intent.platforms)
    if intent.load:
        raise ConfigError(
            f"--platform {platforms}: a docker-driver engine cannot load a multi-platform "
            "image; drop --load and pass --push"
        )
    if not intent.push:
        raise ConfigError(
            f"--platform {platforms}: a multi-platform image cannot be loaded into the local "
            "engine; pass --push with -t REGISTRY/NAME:TAG and a registry base-repo, or build "
            "one platform at a time"
        )
    if not intent.tags:
        raise ConfigError(
            f"--platform {platforms} --push: name the image with -t REGISTRY/NAME:TAG"
        )
    if not registry:
        raise ConfigError(
            f"--platform {platforms}: the base repo {base_repo!r} is local; set "
            "tool.uvbuild.base-repo (--base-repo) to a registry repository such as "
            "registry:5000/team/base, so each platform's base can be pushed"
        )


def base_step(the_policy: Policy, found: str | None, rebuild: bool) -> BaseStep:
    """What to do with the base, given where it was ``found`` ("engine", "registry" or
    None) and ``--rebuild-base``."""
    if found is not None and not rebuild:
        return BaseStep(
            "reuse", found, push=found == "engine" and the_policy.push_base and the_policy.registry
        )
    source = "engine" if the_policy.base_in_engine else "registry"
    return BaseStep(
        "build",
        source,
        rebuilt=found is not None,
        push=the_policy.base_in_engine and the_policy.push_base,
    )
