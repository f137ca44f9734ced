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
  engine's store is never looked at. ``bake`` and several platforms follow the same rule
  as ``build``: the bake file's base target is pushed.
* ``--push-base`` needs a registry ``base-repo``; it pushes a base built here, and a base
  found only in the engine.
* A base found by its tag is trusted only when its ``io.uvbuild.key`` label is the plan's
  full key (the tag holds 16 hex digits of it, and anyone can tag or push an image under
  that name): another image in the engine is rebuilt over (its tag moves to the new base,
  with a warning); another image in the registry stops the run (ConfigError) before
  anything is built, so uvbuild never reads it nor pushes over it.
* A trusted base in the registry is used only when the registry still holds every blob its
  manifest names (asked with one ``HEAD`` per blob, nothing downloaded): a base with a lost
  blob is built again, and pushed over the broken tag when the run pushes its base
  (``--push-base``, or a builder outside the engine); a base found in the engine is pushed
  with ``--push-base`` when the registry's copy lacks blobs, as when it lacks the tag.
* The app is loaded unless it is pushed (``--push``, ``-o type=registry``) or ``-o`` names
  where it goes, as in docker (``--load``/``--no-load`` decide when given). On the docker
  driver, which has no docker exporter, ``-o type=docker,dest=FILE`` is a ``--load`` and
  then ``docker save``.
* ``--call``/``--check`` evaluate the app Dockerfile and build nothing: no base is built,
  nothing is loaded, pushed or exported.
* Attestations and the OCI exporter on the docker driver need the containerd image store.
* The images the stages start from are read from the engine's store when the builder has
  the docker driver and the image is there, from their registry otherwise and always with
  ``--pull``, as BuildKit does; their digests (the key's ``images``) are asked the same
  way (:func:`images_from_registry`).
* Several platforms need ``--push``, ``-t`` and a registry ``base-repo``, no ``--load`` and
  no exporter but the registry: an engine cannot load a multi-platform image, and each
  platform's base must be pushed.
"""

from __future__ import annotations

from dataclasses import dataclass

from uvbuild.docker.facts.faults import FIX_DRIVER, shorten
from uvbuild.errors import ConfigError, EngineUnavailable, short_list
from uvbuild.flow.options import (
    BuildOptions,
    docker_dest,
    output_loads,
    output_pushes,
    output_type,
)

DOCKER_DRIVER = "docker"


def is_registry_repo(repo: str) -> bool:
    """A repository whose first part names a registry host (``host.tld/...``,
    ``host:5000/...``, ``localhost/...``): its bases are looked for and pushed there."""
    first, sep, _ = repo.partition("/")
    return bool(sep) and ("." in first or ":" in first or first == "localhost")


def images_from_registry(pull: bool, driver: str | None) -> bool:
    """Whether a build reads the images its stages start from in their registry first
    (``--pull``, or a builder that cannot read the engine's images) rather than the
    engine's store (the docker driver; None, no engine answered, counts as it)."""
    return pull or (driver is not None and driver != DOCKER_DRIVER)


@dataclass(frozen=True, slots=True)
class Intent:
    """What the user asked for, as far as reuse, push and load go."""

    push: bool = False  # the app goes to its registry: --push, -o type=registry or image,push=true
    load: bool | None = None  # None: --load/--no-load not given
    push_base: bool = False
    rebuild_base: bool = False
    platforms: tuple[str, ...] = ()  # more than one: a multi-platform build
    tags: tuple[str, ...] = ()
    outputs: tuple[str, ...] = ()  # -o: the app image's exporters
    pull: bool = False
    call: bool = False  # --call/--check: the app Dockerfile is evaluated, nothing is built
    attestation: str | None = None  # the first flag asking for an attestation


def intent_of(options: BuildOptions, platforms: tuple[str, ...] = ()) -> Intent:
    """The :class:`Intent` of a run's options."""
    return Intent(
        push=options.pushes,
        load=options.load,
        push_base=options.push_base,
        rebuild_base=options.rebuild_base,
        platforms=platforms,
        tags=options.tags,
        outputs=options.outputs,
        pull=options.pull,
        call=options.call is not None,
        attestation=options.attestation,
    )


@dataclass(frozen=True, slots=True)
class Policy:
    """How this run treats the base and the app, decided before anything is looked up."""

    registry: bool  # base-repo names a registry: the base is looked for and pushed there
    base_in_engine: bool  # the builder builds into the engine's store (docker driver)
    app_load: bool
    app_push: bool
    push_base: bool  # --push-base: push a base that is only in the engine
    driver: str | None = None  # the builder's driver; None: no engine answered (a dry run)
    builder: str = ""  # the builder's name, for messages
    intent: Intent = Intent()

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

    @property
    def bake_base_pushes(self) -> bool:
        """The bake file's base target is pushed (not loaded): by a builder outside the
        engine, as ``build`` does, and with ``--push`` and a registry base-repo, so that the
        next CI run finds the base where it looks."""
        return self.base_build_pushes or (self.registry and self.app_push)


@dataclass(frozen=True, slots=True)
class Seen:
    """An image found under the base tag, with its ``io.uvbuild.key`` label (None: it has
    no such label) and, in the registry, the blobs of its manifest that the registry lacks
    (``lost``)."""

    label: str | None
    lost: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Lookup:
    """What was found under the base ``tag`` of the plan's ``key``: the engine's image and
    the registry's (None: nothing there, or not asked)."""

    tag: str = ""
    key: str = ""
    engine: Seen | None = None
    registry: Seen | None = None

    def trusts(self, seen: Seen | None) -> bool:
        """Whether ``seen`` is the plan's base: its label is the full key."""
        return seen is not None and seen.label == self.key

    @property
    def found(self) -> str | None:
        """Where the plan's base is: "engine", "registry" or None. Another image under the
        tag in the engine hides the registry's base (the docker driver would read the
        engine's image), so that base is built again."""
        if self.trusts(self.engine):
            return "engine"
        if self.engine is None and self.trusts(self.registry) and self.broken is None:
            return "registry"
        return None

    @property
    def broken(self) -> Seen | None:
        """The plan's base in the registry, whose registry lost blobs of it: it is not
        used; a run that pushes its base pushes over it."""
        registry = self.registry
        return (
            registry if registry is not None and self.trusts(registry) and registry.lost else None
        )

    @property
    def stale(self) -> Seen | None:
        """Another image under the tag in the engine: it is rebuilt over."""
        return None if self.engine is None or self.trusts(self.engine) else self.engine

    @property
    def foreign(self) -> Seen | None:
        """Another image under the tag in the registry: it is neither used nor pushed over."""
        return None if self.registry is None or self.trusts(self.registry) else self.registry


def asks_registry(the_policy: Policy, lookup: Lookup) -> bool:
    """Whether the registry is asked for the base after the engine was: when the engine
    has no trusted base, or when ``--push-base`` must know whether the registry has it (and
    that it holds no other image under the tag)."""
    return the_policy.registry and (not lookup.trusts(lookup.engine) or the_policy.push_base)


def _label(seen: Seen) -> str:
    if seen.label is None:
        return "no io.uvbuild.key label"
    return f"io.uvbuild.key {shorten(seen.label, 72)}"


def stale_base(lookup: Lookup, seen: Seen) -> str:
    """The warning for another image under the base tag in the engine."""
    return (
        f"base {lookup.tag} in the engine is not this plan's base ({_label(seen)}, the plan's "
        f"key is {lookup.key}): building the base again; the tag moves to it"
    )


def foreign_base(lookup: Lookup, seen: Seen) -> str:
    """The one line that refuses another image under the base tag in the registry."""
    return (
        f"base {lookup.tag} in the registry is not this plan's base ({_label(seen)}, the "
        f"plan's key is {lookup.key}), and uvbuild neither uses nor pushes over it; set "
        "--base-repo (tool.uvbuild.base-repo) to a repository of your own, or delete that "
        "tag from the registry if it is an old base of yours"
    )


def lost_blobs(lookup: Lookup, seen: Seen, pushes: bool, built: bool, bake: bool) -> str:
    """The warning for the plan's base in the registry whose registry lost blobs of it:
    what happens instead (``built``: the base is built again; else the engine's is used),
    and whether this run repairs the registry's tag (``pushes``); ``bake``: the run writes a
    bake file, whose base target pushes the base only when written with ``--push``."""
    count = len(seen.lost)
    blobs = short_list(shorten(digest, 19) for digest in seen.lost)
    what = "building the base again" if built else "using the engine's base"
    later = "a bake file written with --push" if bake else "a run with --push-base"
    repair = (
        "it is pushed over the broken tag"
        if pushes
        else f"the registry's tag stays broken until {later} pushes the base"
    )
    return (
        f"base {lookup.tag} in the registry lacks {count} blob{'s' * (count > 1)} its "
        f"manifest names ({blobs}): {what}; {repair}"
    )


@dataclass(frozen=True, slots=True)
class BaseStep:
    """What happens to the base once it has been looked for."""

    action: str  # "reuse", "build" or "skip" (--call/--check: no base is needed)
    source: str  # where the app build reads it: "engine" or "registry"
    # built although its tag existed: --rebuild-base, or another image held the tag
    rebuilt: bool = False
    # docker push after the build, or of a base found only in the engine when the registry
    # lacks it
    push: bool = False
    # why a base that was found is built again (another image held its tag, or the
    # registry lost blobs of it), or is pushed again
    warning: str = ""
    lost: bool = False  # the registry's copy of the base lacks blobs


@dataclass(frozen=True, slots=True)
class AppStep:
    """How the app build loads, pushes and exports its image."""

    load: bool  # --load
    push: bool  # --push
    outputs: tuple[str, ...]  # -o, as buildx gets them
    saves: tuple[str, ...] = ()  # files `docker save` writes after the build
    pull: bool = False


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


def check_intent(base_repo: str, intent: Intent) -> None:
    """Refuse flags that cannot go together (ConfigError); no engine is needed for it."""
    if len(intent.platforms) > 1:
        _check_platforms(base_repo, intent, is_registry_repo(base_repo))
    if intent.push_base and not is_registry_repo(base_repo):
        raise ConfigError(
            f"--push-base needs a registry base repository, but {base_repo!r} names none; "
            "set --base-repo (tool.uvbuild.base-repo) to e.g. registry.example.com/team/base"
        )


def policy(base_repo: str, intent: Intent, driver: str | None, builder: str = "") -> Policy:
    """The policy for one run. ``driver`` is the selected builder's driver, or None when no
    engine answered (a dry run goes on as the docker driver would). Raises ConfigError for
    flags that cannot go together and EngineUnavailable for a builder that cannot serve
    the base repository."""
    check_intent(base_repo, intent)
    registry = is_registry_repo(base_repo)
    effective = driver or DOCKER_DRIVER
    problem = driver_problem(effective, builder or "the current builder", registry)
    if problem:
        raise EngineUnavailable(problem)
    several = len(intent.platforms) > 1
    if several:
        load = False
    elif intent.load is not None:
        load = intent.load
    else:  # as docker: -o names where the image goes instead
        load = not intent.push and not intent.outputs
    return Policy(
        registry=registry,
        base_in_engine=effective == DOCKER_DRIVER,
        app_load=load,
        app_push=intent.push,
        push_base=intent.push_base or several,
        driver=driver,
        builder=builder,
        intent=intent,
    )


def _check_platforms(base_repo: str, intent: Intent, registry: bool) -> None:
    platforms = ", ".join(intent.platforms)
    exported = [output for output in intent.outputs if not output_pushes(output)]
    if exported:
        raise ConfigError(
            f"--platform {platforms} -o {exported[0]}: the platform images are pushed and "
            "joined into one manifest list; export one platform at a time, or use "
            "-o type=registry (--push)"
        )
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


def base_step(the_policy: Policy, lookup: Lookup, rebuild: bool, bake: bool = False) -> BaseStep:
    """What to do with the base, given what the lookups found and ``--rebuild-base``;
    ``bake``: the step is written as a bake file's base target (see
    :attr:`Policy.bake_base_pushes`).
    Another image under the tag in the registry raises ConfigError (see
    :func:`foreign_base`)."""
    found = lookup.found
    if the_policy.intent.call:
        # the app reads the base where it is, else the image the base starts from (the
        # frontend only needs an image to resolve)
        return BaseStep("skip", found or "engine")
    foreign = lookup.foreign
    if foreign is not None:
        raise ConfigError(foreign_base(lookup, foreign))
    broken = lookup.broken
    in_registry = lookup.registry is not None and broken is None  # trusted and whole
    if found is not None and not rebuild:
        push = found == "engine" and the_policy.push_base and the_policy.registry
        push = push and not in_registry
        warning = lost_blobs(lookup, broken, push, False, bake) if broken is not None else ""
        return BaseStep("reuse", found, push=push, warning=warning, lost=broken is not None)
    stale = lookup.stale
    push = the_policy.base_in_engine and the_policy.push_base and (rebuild or not in_registry)
    if stale is not None:
        warning = stale_base(lookup, stale)
    elif broken is not None:
        pushes = push or (the_policy.bake_base_pushes if bake else the_policy.base_build_pushes)
        warning = lost_blobs(lookup, broken, pushes, True, bake)
    else:
        warning = ""
    return BaseStep(
        "build",
        "engine" if the_policy.base_in_engine else "registry",
        rebuilt=found is not None or stale is not None or broken is not None,
        push=push,
        warning=warning,
        lost=broken is not None,
    )


def app_step(the_policy: Policy, base_from_engine: bool) -> AppStep:
    """How the app build treats its image; ``base_from_engine``: it reads the base from the
    engine's store."""
    intent = the_policy.intent
    if intent.call:
        return AppStep(load=False, push=False, outputs=())
    outputs, load, saves = intent.outputs, the_policy.app_load, ()
    if the_policy.base_in_engine:  # the docker driver has no docker exporter
        saves = tuple(dest for output in outputs if (dest := docker_dest(output)))
    if saves:  # it loads the image, then `docker save`s it
        outputs = tuple(output for output in outputs if not docker_dest(output))
        load = True
    return AppStep(
        # -o type=docker / type=registry already say --load / --push: not twice
        load=load and not any(output_loads(output) for output in outputs),
        push=intent.push and not any(output_pushes(output) for output in outputs),
        outputs=outputs,
        saves=saves,
        # buildx would look a base read from the engine up in a registry
        pull=intent.pull and not base_from_engine,
    )


def store_need(the_policy: Policy) -> str | None:
    """The flag that needs the containerd image store, which a docker-driver builder lacks
    by default: an attestation or ``-o type=oci``; None when nothing needs it."""
    if the_policy.driver != DOCKER_DRIVER:
        return None
    intent = the_policy.intent
    oci = [output for output in intent.outputs if output_type(output) == "oci"]
    return intent.attestation or (f"-o {oci[0]}" if oci else None)


def store_problem(the_policy: Policy, need: str) -> str:
    """Why ``need`` (see :func:`store_need`) fails on a docker-driver builder without the
    containerd image store."""
    attestation = the_policy.intent.attestation is not None
    what = "attestations" if attestation else "OCI exporter"
    return (
        f"{need}: builder {the_policy.builder!r} uses the docker driver, which has no {what} "
        "without the containerd image store; turn that store on, or use a docker-container "
        "builder with a registry base-repo"
        + (" and --push (or drop the flag)" if attestation else " (or -o type=docker,dest=FILE)")
    )
