"""The base step carried out: a base found is reused (and pushed where the registry lacks
it); a base to build is built under its per-base lock, tagged only once its build
succeeded, then pushed when asked."""

from __future__ import annotations

import hashlib
import time

from uvbuild import keylock
from uvbuild.core.model import BuildPlan
from uvbuild.core.render.dockerfile_names import KEY_LABEL
from uvbuild.docker.facts.values import RegistryImage
from uvbuild.errors import BuildFailed, ConfigError, EngineUnavailable, Interrupted
from uvbuild.flow import decide, requests
from uvbuild.flow.decide import BaseStep, Lookup, Seen
from uvbuild.flow.inputs import disk_room, disk_shortfall, plan_disk_estimate
from uvbuild.flow.light_stages import start_light_stages
from uvbuild.flow.lookup import locate, lost_blobs
from uvbuild.flow.result import BaseOutcome, base_action
from uvbuild.flow.run import Run

# uv's words when no interpreter satisfies the request (and it may not download one)
NO_INTERPRETER = "No interpreter found for"


def no_python(plan: BuildPlan) -> ConfigError:
    """The one line for an image without the Python the sync would use, where uv may not
    download one."""
    version = plan.target.python
    if plan.system is None:
        return ConfigError(
            f"the base image {plan.config.resolved_base_image} has no Python {version} and "
            'tool.uvbuild.python-downloads is not "automatic": let uvbuild install it '
            "(--python-downloads automatic) or use a base image with Python (--base-image)"
        )
    request = (plan.seed.python_request if plan.seed is not None else None) or version
    return ConfigError(
        f"{plan.dockerfile.path}: the image its system part makes has no Python {request} and "
        f"uv may not download one there (UV_PYTHON_DOWNLOADS=never): add `RUN uv python "
        f"install {version}` (or the distribution's python{version}) before the `uv sync`, "
        "or let uv download Python"
    )


def carry_base(run: Run, step: BaseStep, image: RegistryImage | None) -> BaseOutcome:
    """Reuse the base or build it.

    Building holds a per-base lock (keylock), so two runs on this machine build a base
    once: the second waits, then finds the base and reuses it. A base that exists takes
    no lock at all.
    """
    if step.action == "reuse":
        return _reuse_base(run, step, image)
    plan = run.plan

    def waiting(holder: str) -> None:
        run.report.step(f"waiting for {holder}, which is building base {plan.tag}")

    lock_key = hashlib.sha256(plan.tag.encode()).hexdigest()
    with keylock.hold(run.lock_dir, lock_key, on_wait=waiting):
        if not run.options.rebuild_base:  # another run may have built it meanwhile
            lookup, image = locate(
                plan, run.policy, run.engine, run.report, dry_run=run.options.dry_run
            )
            step = decide.base_step(run.policy, lookup, rebuild=False)
        if step.action == "reuse":
            return _reuse_base(run, step, image)
        return _build_base(run, step)


def announce_reuse(run: Run, step: BaseStep) -> None:
    plan = run.plan
    if step.source == "registry":
        run.report.step(
            f"reusing base from registry {plan.tag} (heavy packages: {len(plan.heavy)}); "
            "nothing to build"
        )
    else:
        run.report.step(f"reusing base {plan.tag} (heavy packages: {len(plan.heavy)})")


def warn_stale(run: Run, step: BaseStep) -> None:
    if step.warning:
        run.report.warn(step.warning)


def _reuse_base(run: Run, step: BaseStep, image: RegistryImage | None) -> BaseOutcome:
    announce_reuse(run, step)
    warn_stale(run, step)  # the registry's copy lost blobs: pushed again, or not
    # With --push-base, a base built here whose push failed (or predates the flag): the
    # registry was asked in locate() and lacks it (or blobs of it).
    pushed = step.push and _push_base(run)
    image = image if step.source == "registry" else None
    warnings = (step.warning,) if step.warning else ()
    return BaseOutcome("reused", step.source, pushed=pushed, registry=image, warnings=warnings)


def _why_built(step: BaseStep) -> str:
    """Why a base under the tag is built all the same, for the step's line."""
    if step.lost:
        return " (the registry's copy lacks blobs)"
    if step.warning:
        return " (another image had its tag)"
    if step.rebuilt:
        return " (forced by --rebuild-base)"
    return ""


def _build_base(run: Run, step: BaseStep) -> BaseOutcome:
    plan, the_policy = run.plan, run.policy
    iidfile = run.work / "base.iid"
    request = requests.base_request(plan, run.options, run.work, the_policy, iidfile)
    warn_stale(run, step)
    warnings = ((step.warning,) if step.warning else ()) + (
        _check_disk(run) if the_policy.base_in_engine else ()
    )
    run.report.step(
        f"building base {plan.tag}: {len(plan.heavy)} heavy packages"
        + _why_built(step)
        + ("" if the_policy.base_in_engine else f", pushed by the {the_policy.driver} builder")
    )
    started = time.monotonic()
    seen: list[str] = []

    def sink(line: str) -> None:
        if NO_INTERPRETER in line:
            seen.append(line)
        run.report.stream(line)

    light = start_light_stages(run)
    try:
        run.build(request, sink, f"the base build ({plan.tag})")
    except BuildFailed as exc:
        if seen:
            raise no_python(plan) from exc
        raise
    except Interrupted as exc:
        raise Interrupted(
            f"{exc} while building the base: the build was stopped and {plan.tag} was "
            "not tagged; the next run builds it again",
            exc.signum,
        ) from exc
    if light is not None:
        light.join()  # the app build would wait for the same stages
    action = base_action(step, dry_run=False)
    if not the_policy.base_in_engine:
        # BuildKit pushed the layers, then the manifest: the tag exists only now.
        seconds = time.monotonic() - started
        image = run.engine.registry_image(plan.tag, plan.target.platform)
        return BaseOutcome(action, "registry", seconds, True, image, warnings)
    # Tag only now: a base tag exists only for a complete, successful build.
    run.engine.tag(iidfile.read_text().strip(), plan.tag)
    seconds = time.monotonic() - started
    pushed = step.push and _push_built_base(run)
    return BaseOutcome(action, "engine", seconds, pushed, None, warnings)


def _push_built_base(run: Run) -> bool:
    """Push the base built here, unless its registry got this key's base meanwhile:
    another machine that built the same key at the same time (the per-base lock is
    one machine's) pushed first, and the build is reproducible, so pushing again
    would upload the same content for nothing. Another image that appeared under the
    tag stops the run as it would have before the build (exit 2); one that lacks
    blobs is pushed over."""
    plan = run.plan
    try:
        image = run.engine.registry_image(plan.tag, plan.target.platform)
    except EngineUnavailable:
        image = None  # the push says what is wrong with the registry
    if image is None:
        return _push_base(run)
    lookup = Lookup(plan.tag, plan.key, registry=Seen(image.label(KEY_LABEL)))
    if lookup.foreign is not None:
        raise ConfigError(decide.foreign_base(lookup, lookup.foreign))
    if lost_blobs(image, run.engine, run.report):  # the broken tag this run was to push over
        return _push_base(run)
    run.report.step(
        f"base {plan.tag} reached its registry meanwhile (pushed from elsewhere): "
        "not pushing it again"
    )
    return False


def _push_base(run: Run) -> bool:
    """``docker push`` the base: the registry gets the layers first and the manifest
    (which makes the tag) last, so a push that fails or is stopped leaves no tag."""
    plan = run.plan
    run.report.step(f"pushing base {plan.tag} to its registry")
    try:
        run.engine.push_image(plan.tag, run.report.stream)
    except Interrupted as exc:
        raise Interrupted(
            f"{exc} while pushing the base: the registry did not get the manifest of "
            f"{plan.tag}, so no tag was made or moved; the base stays in the engine and "
            "the next run with --push-base pushes it",
            exc.signum,
        ) from exc
    return True


def _check_disk(run: Run) -> tuple[str, ...]:
    """Warn before the base build when the engine's storage looks too small for it."""
    estimate = plan_disk_estimate(run.plan)
    if not estimate.expected:
        return ()
    storage = run.engine.storage()
    warning = disk_shortfall(estimate, storage)
    if warning:
        run.report.warn(warning)
        return (warning,)
    run.report.detail(disk_room(estimate, storage))
    return ()
