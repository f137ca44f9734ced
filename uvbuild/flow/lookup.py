"""Where the plan's base is: the images under its tag in the engine and in the registry, in
the policy's order, each with its ``io.uvbuild.key`` label, and whether the registry still
holds every blob of the one it has. A dry run goes on without an answer the engine (or the
registry) does not give."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import TypeVar

from uvbuild.core.model import BuildPlan
from uvbuild.core.render.dockerfile_names import KEY_LABEL
from uvbuild.docker.facts.values import RegistryImage
from uvbuild.docker.verbs import EngineLike
from uvbuild.errors import EngineUnavailable
from uvbuild.flow import decide
from uvbuild.flow.decide import Lookup, Policy, Seen
from uvbuild.flow.run import Reporter

T = TypeVar("T")


def ask_engine(
    question: Callable[[], T], assumption: str, *, dry_run: bool, report: Reporter
) -> T | None:
    """The engine's answer. In a dry run an engine (or registry) that does not answer
    is warned about and the run goes on without the answer (None)."""
    try:
        return question()
    except EngineUnavailable as exc:
        if not dry_run:
            raise
        report.warn(f"{assumption}: {exc}")
        return None


def locate(
    plan: BuildPlan, the_policy: Policy, engine: EngineLike, report: Reporter, *, dry_run: bool
) -> tuple[Lookup, RegistryImage | None]:
    """What is under the base tag, in the policy's order, with each image's
    ``io.uvbuild.key`` label (:class:`~uvbuild.flow.decide.Lookup`; its ``found`` is
    where the plan's base is), and the registry's image when the registry was asked.
    One docker call per place: the engine's labels come with its existence check, the
    registry's with its manifest. Without an engine, nothing is found."""
    lookup = Lookup(plan.tag, plan.key)
    image = None
    if the_policy.driver is None:
        return lookup, None
    for place in the_policy.lookups:
        if place == "engine":
            labels = engine.image_labels(plan.tag)
            if labels is not None:
                lookup = replace(lookup, engine=Seen(labels.get(KEY_LABEL)))
        elif decide.asks_registry(the_policy, lookup):
            image = ask_engine(
                lambda: engine.registry_image(plan.tag, plan.target.platform),
                "dry run: assuming the base must be built",
                dry_run=dry_run,
                report=report,
            )
            if image is not None:
                seen = Seen(image.label(KEY_LABEL))
                if lookup.trusts(seen):  # a base to use or to push over: is it whole?
                    seen = replace(seen, lost=lost_blobs(image, engine, report))
                lookup = replace(lookup, registry=seen)
    return lookup, image


def lost_blobs(image: RegistryImage, engine: EngineLike, report: Reporter) -> tuple[str, ...]:
    """The blobs of the registry's base that its registry no longer holds (a HEAD per
    blob); none when the registry could not be asked that way (then its manifest is
    trusted, as before, and ``-v`` says why)."""
    check = engine.missing_blobs(image)
    if not check.checked:
        report.detail(
            f"could not check the blobs of {image.ref} in its registry ({check.reason}); "
            "trusting its manifest"
        )
    return check.missing
