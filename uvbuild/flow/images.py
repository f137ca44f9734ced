"""The digests of the images a plan's stages start from or copy from, and the plan keyed
on them.

The planner lists the images (``BuildPlan.image_refs``) and keys on digests it is given;
here they are asked of the engine, all in one question
(:meth:`~uvbuild.docker.verbs.EngineLike.image_digests`),
the way a build would find the images (:func:`uvbuild.flow.decide.images_from_registry`):
a pinned ``name@sha256:...`` as written (no lookup), the engine's image when the builder
reads the engine's store, the registry's manifest digest otherwise and with ``--pull``.
An image found nowhere stops the command (ConfigError naming the setting) before anything
is built. Without an answer (no engine, a registry out of reach) ``plan``, ``dockerfile``
and dry runs go on with a provisional key, the images by name only.
"""

from __future__ import annotations

import contextlib
from collections.abc import MutableMapping, Sequence
from dataclasses import replace

from uvbuild import planner
from uvbuild.core.model import BuildPlan, ImageRef, pinned_digest
from uvbuild.docker.verbs import EngineLike
from uvbuild.errors import ConfigError, EngineUnavailable
from uvbuild.flow.decide import images_from_registry

# What a command that has no answer says about its key (a note of the plan).
PROVISIONAL = (
    "the key is provisional: it covers {names} by name, not by digest ({reason}); "
    "a build with an engine may key the base differently"
)


def resolve(
    refs: Sequence[ImageRef],
    engine: EngineLike,
    *,
    pull: bool = False,
    cache: MutableMapping[str, str] | None = None,
) -> dict[str, str]:
    """ref -> digest for each of ``refs``. ``pull``: the registry is asked first (see
    ``images_from_registry``); ``cache`` holds the digests already asked (several plans of
    one command share it, so each image is asked once). An image neither the engine nor
    its registry has raises ConfigError naming the image and its setting; no engine or an
    unreachable registry raises EngineUnavailable."""
    known = cache if cache is not None else {}
    asked = [i.ref for i in refs if i.ref not in known and pinned_digest(i.ref) is None]
    answers: dict[str, str | None] = {}
    if len(set(asked)) > 1:  # one question for all; a malformed ref is asked again alone
        with contextlib.suppress(ConfigError):
            answers = engine.image_digests(asked, pull=pull)
    for image in refs:
        if image.ref in known:
            continue
        digest = pinned_digest(image.ref)
        if digest is None and image.ref in answers:
            digest = answers[image.ref]
        elif digest is None:
            try:
                digest = engine.image_digest(image.ref, pull=pull)
            except ConfigError as exc:
                raise ConfigError(f"{exc}; check {image.setting}") from exc
        if digest is None:
            where = "the engine or its registry" if not pull else "its registry or the engine"
            raise ConfigError(
                f"image {image.ref} is not in {where}; check {image.setting} (a typo, a tag "
                "that does not exist), pull or build it, or `docker login` when it is private"
            )
        known[image.ref] = digest
    return {image.ref: known[image.ref] for image in refs}


def keyed(
    plan: BuildPlan,
    engine: EngineLike,
    *,
    pull: bool = False,
    strict: bool = True,
    cache: MutableMapping[str, str] | None = None,
    driver: str | None = None,
) -> BuildPlan:
    """``plan`` keyed on the digests of its images (planner.with_digests).

    ``pull``: ``--pull`` was given; a builder that does not read the engine's images counts
    as it (its ``driver``: given by a flow that asked already, else asked with
    ``engine.check()`` when some image was looked up in the engine). ``strict=False``
    (``plan``, ``dockerfile``, dry runs): an engine or registry that does not answer gives
    the plan back with a provisional key and a note saying so, instead of raising
    EngineUnavailable. An image found nowhere raises ConfigError either way."""
    known = cache if cache is not None else {}
    try:
        fresh = [i for i in plan.image_refs if i.ref not in known and not pinned_digest(i.ref)]
        digests = resolve(plan.image_refs, engine, pull=pull, cache=known)
        # The engine's images go in only with the docker driver; another builder reads
        # the registry (asked after the engine answered, so no engine costs one call).
        if fresh and not pull and images_from_registry(pull, driver or engine.check().driver):
            for image in fresh:
                del known[image.ref]
            digests = resolve(plan.image_refs, engine, pull=True, cache=known)
    except EngineUnavailable as exc:
        if strict:
            raise
        return provisional(plan, str(exc))
    return planner.with_digests(plan, digests)


def provisional(plan: BuildPlan, reason: str) -> BuildPlan:
    """``plan`` as made without digests, marked provisional with the note that says why."""
    marked = replace(plan, provisional=reason)
    return replace(marked, notes=(*plan.notes, str(provisional_note(marked))))


def provisional_note(plan: BuildPlan) -> str | None:
    """The note of a provisional plan's key (None: the key covers the digests)."""
    if plan.provisional is None:
        return None
    names = ", ".join(image.ref for image in plan.image_refs) or "no image"
    return PROVISIONAL.format(names=names, reason=plan.provisional)
