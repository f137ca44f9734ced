"""The build flow: reuse or build the base, then build the app on top of it.

What to do is decided once (:mod:`uvbuild.flow.decide`): the policy from the engine's facts,
then, once the base has been looked for, the base step. :class:`BuildFlow` carries it out, or
for ``--dry-run`` records the commands a real run would run, from the same requests. It
takes the plan, the options, an engine and a reporter (the Terminal), so the order of the
steps can be followed in tests with a fake engine.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Protocol, TypeVar

from uvbuild import keylock
from uvbuild.core import credentials
from uvbuild.core.model import BuildPlan
from uvbuild.core.render import KEY_LABEL
from uvbuild.docker.facts.build_output import wasted_base
from uvbuild.docker.facts.values import RegistryImage
from uvbuild.docker.requests import BuildRequest, build_args
from uvbuild.docker.verbs import EngineLike
from uvbuild.errors import BuildFailed, ConfigError, EngineUnavailable, Interrupted, UvbuildError
from uvbuild.flow import decide, images, requests
from uvbuild.flow.decide import AppStep, BaseStep, Lookup, Policy, Seen
from uvbuild.flow.inputs import (
    choose_dockerfile,
    disk_room,
    disk_shortfall,
    plan_disk_estimate,
    user_cache_dir,
)
from uvbuild.flow.options import BuildOptions, check_iidfile
from uvbuild.flow.result import (
    GENERATED,
    AppOutcome,
    BaseOutcome,
    BuildResult,
    LayerReport,
    base_action,
    write_metadata,
)

T = TypeVar("T")


class Reporter(Protocol):
    def step(self, message: str) -> None: ...
    def info(self, message: str) -> None: ...
    def warn(self, message: str) -> None: ...
    def detail(self, message: str) -> None: ...
    def stream(self, line: str) -> None: ...


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


class BuildFlow:
    """Carries out a plan: base first (reused or built), then the app."""

    def __init__(
        self,
        plan: BuildPlan,
        options: BuildOptions,
        engine: EngineLike,
        report: Reporter,
        digests: dict[str, str] | None = None,
    ):
        self.plan = plan
        self.options = options
        self.engine = engine
        self.report = report
        self.user_dockerfile = choose_dockerfile(plan)
        self.lock_dir = user_cache_dir()  # where the per-base build locks live
        # the images' digests asked so far (several platforms' flows share them)
        self.digests = digests if digests is not None else {}

    def run(self) -> BuildResult:
        check_iidfile(self.options)
        the_policy = self.policy()
        self._check_store(the_policy)
        self.key_images(the_policy)
        with self._workdir() as work, self._credentials_hint() as warnings:
            requests.write_inputs(self.plan, self.options, work)
            with self._using_base():
                lookup, image = self.locate(the_policy)
                step = decide.base_step(the_policy, lookup, self.options.rebuild_base)
                found = lookup.found
                if self.options.dry_run:
                    return self._result(*self._record(work, the_policy, step, found), warnings)
                if step.action == "skip":
                    return self._result(*self._evaluate(work, the_policy, step, found), warnings)
                base = self._carry_base(work, the_policy, step, image)
                result = self._result(base, self._build_app(work, the_policy, base), warnings)
            if self.options.metadata_file:
                write_metadata(Path(self.options.metadata_file), result)
            return result

    @contextlib.contextmanager
    def _using_base(self) -> Iterator[None]:
        """From looking for the base to the end of the app build, this run uses the base
        of the plan's key: ``uvbuild gc`` (which removes a base only when no run uses it)
        leaves it alone, and a run that starts while gc removes it waits, then looks again
        (see :func:`uvbuild.keylock.use`). A dry run uses nothing."""
        if self.options.dry_run:
            yield
            return
        plan = self.plan

        def waiting(holder: str) -> None:
            self.report.step(
                f"waiting for {holder} (uvbuild gc), which is removing base {plan.tag}"
            )

        with keylock.use(self.lock_dir, plan.key, on_wait=waiting):
            yield

    # -- the decision: the engine's facts, then where the base is --------------------------

    def _ask(self, question: Callable[[], T], assumption: str) -> T | None:
        """The engine's answer. In a dry run an engine (or registry) that does not answer
        is warned about and the run goes on without the answer (None)."""
        try:
            return question()
        except EngineUnavailable as exc:
            if not self.options.dry_run:
                raise
            self.report.warn(f"{assumption}: {exc}")
            return None

    def policy(self) -> Policy:
        """The run's policy from the selected builder's facts; flags that cannot go
        together are refused before the engine is asked."""
        intent = decide.intent_of(self.options)
        decide.check_intent(self.plan.base_repo, intent)
        info = self._ask(
            self.engine.check, "dry run without an engine, assuming the base must be built"
        )
        if info is None:
            return decide.policy(self.plan.base_repo, intent, None)
        return decide.policy(self.plan.base_repo, intent, info.driver, info.name)

    def key_images(self, the_policy: Policy) -> None:
        """Key the plan on the digests of the images its stages start from, as this run's
        builder reads them (:mod:`uvbuild.flow.images`), before anything is looked up or
        built: an image found nowhere stops the run (ConfigError). A plan keyed already
        (or marked provisional) stays as it is. A dry run without an answer goes on with
        a provisional key, and says so."""
        plan = self.plan
        if plan.digests or plan.provisional is not None or not plan.image_refs:
            return
        if the_policy.driver is None:  # a dry run without an engine
            self.plan = images.provisional(plan, "no engine answered")
        else:
            self.plan = images.keyed(
                plan,
                self.engine,
                pull=decide.images_from_registry(self.options.pull, the_policy.driver),
                strict=not self.options.dry_run,
                cache=self.digests,
                driver=the_policy.driver,
            )
        note = images.provisional_note(self.plan)
        if note is not None:
            self.report.warn(note)

    def _check_store(self, the_policy: Policy) -> None:
        need = decide.store_need(the_policy)
        if need and not self.engine.containerd_store():
            raise ConfigError(decide.store_problem(the_policy, need))

    def locate(self, the_policy: Policy) -> tuple[Lookup, RegistryImage | None]:
        """What is under the base tag, in the policy's order, with each image's
        ``io.uvbuild.key`` label (:class:`~uvbuild.flow.decide.Lookup`; its ``found`` is
        where the plan's base is), and the registry's image when the registry was asked.
        One docker call per place: the engine's labels come with its existence check, the
        registry's with its manifest. Without an engine, nothing is found."""
        plan = self.plan
        lookup = Lookup(plan.tag, plan.key)
        image = None
        if the_policy.driver is None:
            return lookup, None
        for place in the_policy.lookups:
            if place == "engine":
                labels = self.engine.image_labels(plan.tag)
                if labels is not None:
                    lookup = replace(lookup, engine=Seen(labels.get(KEY_LABEL)))
            elif decide.asks_registry(the_policy, lookup):
                image = self._ask(
                    lambda: self.engine.registry_image(plan.tag, plan.target.platform),
                    "dry run: assuming the base must be built",
                )
                if image is not None:
                    seen = Seen(image.label(KEY_LABEL))
                    if lookup.trusts(seen):  # a base to use or to push over: is it whole?
                        seen = replace(seen, lost=self._lost_blobs(image))
                    lookup = replace(lookup, registry=seen)
        return lookup, image

    def _lost_blobs(self, image: RegistryImage) -> tuple[str, ...]:
        """The blobs of the registry's base that its registry no longer holds (a HEAD per
        blob); none when the registry could not be asked that way (then its manifest is
        trusted, as before, and ``-v`` says why)."""
        check = self.engine.missing_blobs(image)
        if not check.checked:
            self.report.detail(
                f"could not check the blobs of {image.ref} in its registry ({check.reason}); "
                "trusting its manifest"
            )
        return check.missing

    # -- the generated inputs and the two requests -------------------------------------

    @contextlib.contextmanager
    def _workdir(self) -> Iterator[Path]:
        """Where the generated inputs go: a temporary directory, except for a dry run,
        whose printed commands must still work after uvbuild exits."""
        if not self.options.dry_run:
            with tempfile.TemporaryDirectory(prefix="uvbuild-") as scratch:
                yield Path(scratch)
            return
        work = user_cache_dir() / "dry-run" / self.plan.key[:16]
        shutil.rmtree(work, ignore_errors=True)
        work.mkdir(parents=True)
        self.report.info(f"the commands read the generated files in {work}")
        yield work

    def _app_request(
        self, work: Path, step: AppStep, iidfile: Path | None, base_ref: str
    ) -> BuildRequest:
        plan, options, dockerfile = self.plan, self.options, self.user_dockerfile
        return requests.app_request(
            plan, options, work, step, iidfile, dockerfile=dockerfile, base_ref=base_ref
        )

    def _app_step(self, the_policy: Policy, base_source: str) -> AppStep:
        step = decide.app_step(the_policy, base_from_engine=base_source == "engine")
        if self.options.pull and not step.pull and self.options.call is None:
            note = (
                f"--pull: not passed to the app build, which reads base {self.plan.tag} from "
                "the engine (buildx would look for it in a registry)"
            )
            if self.user_dockerfile:
                self.report.warn(
                    f"{note}; the other FROM images of {self.user_dockerfile} are not pulled"
                )
            else:
                self.report.detail(note)
        return step

    def _evaluation(
        self, work: Path, the_policy: Policy, step: BaseStep, found: str | None
    ) -> BuildRequest:
        """``--check`` / ``--call``: the app request on the base where it was found, else
        on the image the base starts from (the frontend only needs an image to resolve)."""
        base_ref = self.plan.tag if found else self.plan.config.resolved_base_image
        app_step = self._app_step(the_policy, step.source)
        return self._app_request(work, app_step, None, base_ref)

    # -- a dry run: the commands, from the same requests --------------------------------

    def _record(
        self, work: Path, the_policy: Policy, step: BaseStep, found: str | None
    ) -> tuple[BaseOutcome, AppOutcome]:
        """A dry run builds nothing: the commands a real run would run, from the same
        requests."""
        line = self.engine.command_line
        action = base_action(step, dry_run=True)
        if step.action == "skip":
            request = self._evaluation(work, the_policy, step, found)
            return BaseOutcome(action, step.source), AppOutcome(
                commands=(line(build_args(request)),)
            )
        commands: list[str] = []
        self._warn_stale(step)
        if step.action == "reuse":
            self._announce_reuse(step)
        else:
            iidfile = work / "base.iid"
            request = requests.base_request(self.plan, self.options, work, the_policy, iidfile)
            commands.append(line(build_args(request)))
            if the_policy.base_in_engine:
                commands.append(line(["tag", "<image id>", self.plan.tag]))
        if step.push:  # built here, or found only in the engine
            commands.append(line(["push", self.plan.tag]))
        warnings = (step.warning,) if step.warning else ()
        base = BaseOutcome(action, step.source, warnings=warnings, commands=tuple(commands))
        app_step = self._app_step(the_policy, step.source)
        request = self._app_request(work, app_step, self._app_iidfile(work), self.plan.tag)
        refs = list(self.options.tags) or ["<image id>"]
        app_commands = [line(build_args(request))]
        app_commands += [line(["save", "-o", dest, *refs]) for dest in app_step.saves]
        return base, AppOutcome(tags=self.options.tags, commands=tuple(app_commands))

    # -- a real run -----------------------------------------------------------------

    def _evaluate(
        self, work: Path, the_policy: Policy, step: BaseStep, found: str | None
    ) -> tuple[BaseOutcome, AppOutcome]:
        """``--check`` / ``--call``: buildx evaluates the app Dockerfile and builds nothing."""
        request = self._evaluation(work, the_policy, step, found)
        dockerfile = self.user_dockerfile or "the generated Dockerfile"
        call = self.options.call
        self.report.step(f"docker buildx build --call={call} on {dockerfile}")
        self.engine.build(request, self.report.stream, step=f"--call={call}")
        return BaseOutcome(base_action(step, dry_run=False), step.source), AppOutcome()

    def _carry_base(
        self, work: Path, the_policy: Policy, step: BaseStep, image: RegistryImage | None
    ) -> BaseOutcome:
        """Reuse the base or build it.

        Building holds a per-base lock (keylock), so two runs on this machine build a base
        once: the second waits, then finds the base and reuses it. A base that exists takes
        no lock at all.
        """
        if step.action == "reuse":
            return self._reuse_base(step, image)
        plan = self.plan

        def waiting(holder: str) -> None:
            self.report.step(f"waiting for {holder}, which is building base {plan.tag}")

        lock_key = hashlib.sha256(plan.tag.encode()).hexdigest()
        with keylock.hold(self.lock_dir, lock_key, on_wait=waiting):
            if not self.options.rebuild_base:  # another run may have built it meanwhile
                lookup, image = self.locate(the_policy)
                step = decide.base_step(the_policy, lookup, rebuild=False)
            if step.action == "reuse":
                return self._reuse_base(step, image)
            return self._build_base(work, the_policy, step)

    def _announce_reuse(self, step: BaseStep) -> None:
        plan = self.plan
        if step.source == "registry":
            self.report.step(
                f"reusing base from registry {plan.tag} (heavy packages: {len(plan.heavy)}); "
                "nothing to build"
            )
        else:
            self.report.step(f"reusing base {plan.tag} (heavy packages: {len(plan.heavy)})")

    def _warn_stale(self, step: BaseStep) -> None:
        if step.warning:
            self.report.warn(step.warning)

    def _reuse_base(self, step: BaseStep, image: RegistryImage | None) -> BaseOutcome:
        self._announce_reuse(step)
        self._warn_stale(step)  # the registry's copy lost blobs: pushed again, or not
        # With --push-base, a base built here whose push failed (or predates the flag): the
        # registry was asked in locate() and lacks it (or blobs of it).
        pushed = step.push and self._push_base()
        image = image if step.source == "registry" else None
        warnings = (step.warning,) if step.warning else ()
        return BaseOutcome("reused", step.source, pushed=pushed, registry=image, warnings=warnings)

    def _build_base(self, work: Path, the_policy: Policy, step: BaseStep) -> BaseOutcome:
        plan = self.plan
        iidfile = work / "base.iid"
        request = requests.base_request(self.plan, self.options, work, the_policy, iidfile)
        self._warn_stale(step)
        warnings = ((step.warning,) if step.warning else ()) + (
            self._check_disk() if the_policy.base_in_engine else ()
        )
        forced = ""
        if step.lost:
            forced = " (the registry's copy lacks blobs)"
        elif step.warning:
            forced = " (another image had its tag)"
        elif step.rebuilt:
            forced = " (forced by --rebuild-base)"
        self.report.step(
            f"building base {plan.tag}: {len(plan.heavy)} heavy packages"
            + forced
            + ("" if the_policy.base_in_engine else f", pushed by the {the_policy.driver} builder")
        )
        started = time.monotonic()
        seen: list[str] = []

        def sink(line: str) -> None:
            if NO_INTERPRETER in line:
                seen.append(line)
            self.report.stream(line)

        light = self._start_light_stages(work, the_policy)
        try:
            self._run_build(request, sink, f"the base build ({plan.tag})")
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
            image = self.engine.registry_image(plan.tag, plan.target.platform)
            return BaseOutcome(action, "registry", seconds, True, image, warnings)
        # Tag only now: a base tag exists only for a complete, successful build.
        self.engine.tag(iidfile.read_text().strip(), plan.tag)
        seconds = time.monotonic() - started
        pushed = step.push and self._push_built_base()
        return BaseOutcome(action, "engine", seconds, pushed, None, warnings)

    def _start_light_stages(self, work: Path, the_policy: Policy) -> threading.Thread | None:
        """Build the light stages beside the base (render.LIGHT_WARM_STAGE, BuildKit's
        cache only): they start from the system image, not from the base, so on a cold
        build their installs overlap the base's instead of following it. Its output is not
        shown and a failure is left to the app build, which builds the same stages and
        says what failed; on an error of the base build it is not waited for (uvbuild's
        exit stops it)."""
        if not self.plan.light_stages or self.options.call is not None:
            return None
        step = decide.app_step(the_policy, base_from_engine=the_policy.base_in_engine)
        app = self._app_request(work, step, None, self.plan.tag)
        request = requests.light_warm_request(app)

        def build() -> None:
            with contextlib.suppress(UvbuildError):
                self.engine.build(request, lambda line: None, step="the light stages' build")

        thread = threading.Thread(target=build, name="uvbuild-light-stages", daemon=True)
        thread.start()
        return thread

    def _push_built_base(self) -> bool:
        """Push the base built here, unless its registry got this key's base meanwhile:
        another machine that built the same key at the same time (the per-base lock is
        one machine's) pushed first, and the build is reproducible, so pushing again
        would upload the same content for nothing. Another image that appeared under the
        tag stops the run as it would have before the build (exit 2); one that lacks
        blobs is pushed over."""
        plan = self.plan
        try:
            image = self.engine.registry_image(plan.tag, plan.target.platform)
        except EngineUnavailable:
            image = None  # the push says what is wrong with the registry
        if image is None:
            return self._push_base()
        lookup = Lookup(plan.tag, plan.key, registry=Seen(image.label(KEY_LABEL)))
        if lookup.foreign is not None:
            raise ConfigError(decide.foreign_base(lookup, lookup.foreign))
        if self._lost_blobs(image):  # the broken tag this run was to push over
            return self._push_base()
        self.report.step(
            f"base {plan.tag} reached its registry meanwhile (pushed from elsewhere): "
            "not pushing it again"
        )
        return False

    def _push_base(self) -> bool:
        """``docker push`` the base: the registry gets the layers first and the manifest
        (which makes the tag) last, so a push that fails or is stopped leaves no tag."""
        plan = self.plan
        self.report.step(f"pushing base {plan.tag} to its registry")
        try:
            self.engine.push_image(plan.tag, self.report.stream)
        except Interrupted as exc:
            raise Interrupted(
                f"{exc} while pushing the base: the registry did not get the manifest of "
                f"{plan.tag}, so no tag was made or moved; the base stays in the engine and "
                "the next run with --push-base pushes it",
                exc.signum,
            ) from exc
        return True

    def _check_disk(self) -> tuple[str, ...]:
        """Warn before the base build when the engine's storage looks too small for it."""
        estimate = plan_disk_estimate(self.plan)
        if not estimate.expected:
            return ()
        storage = self.engine.storage()
        warning = disk_shortfall(estimate, storage)
        if warning:
            self.report.warn(warning)
            return (warning,)
        self.report.detail(disk_room(estimate, storage))
        return ()

    def _app_iidfile(self, work: Path) -> Path:
        return Path(self.options.iidfile) if self.options.iidfile else work / "app.iid"

    def _build_app(self, work: Path, the_policy: Policy, base: BaseOutcome) -> AppOutcome:
        plan, options = self.plan, self.options
        step = self._app_step(the_policy, base.source)
        iidfile = self._app_iidfile(work)
        request = self._app_request(work, step, iidfile, plan.tag)
        for answer in (options.iidfile, options.metadata_file):
            if answer:  # as buildx, no stale answer; its directory is made (build/ in a Makefile)
                Path(answer).unlink(missing_ok=True)
                Path(answer).parent.mkdir(parents=True, exist_ok=True)
        self.report.step(
            "building the app on the base"
            + (f" with {self.user_dockerfile}" if self.user_dockerfile else "")
        )
        lines: list[str] = []

        def sink(line: str) -> None:
            lines.append(line)
            self.report.stream(line)

        started = time.monotonic()
        self._run_build(request, sink, "the app build")
        seconds = time.monotonic() - started
        layered = [*plan.heavy, *(c.selected for g in plan.light_layers for c in g.packages)]
        wasted = wasted_base(lines, [s.name for s in layered], plan.config.venv)
        for warning in wasted:
            self.report.warn(warning)
        image_id = None
        if request.iidfile and iidfile.is_file():
            image_id = iidfile.read_text().strip()
        layers = self._layer_report(image_id, base) if image_id and request.load else ()
        self._save(step.saves, list(options.tags) or ([image_id] if image_id else []))
        return AppOutcome(options.tags, seconds, image_id, layers, tuple(wasted))

    def _save(self, dests: tuple[str, ...], refs: list[str]) -> None:
        for dest in dests:
            if not refs:
                raise BuildFailed(f"-o type=docker,dest={dest}: the app build wrote no image id")
            self.report.step(f"writing {dest} (docker save: the docker driver has no exporter)")
            self.engine.save_image(refs, dest)

    def _run_build(self, request: BuildRequest, sink: Callable[[str], None], step: str) -> None:
        """One build: on a terminal with ``--progress auto`` (or ``tty``) buildx draws its
        own view there and ``sink`` gets a plain copy of it; otherwise its output streams
        through ``sink`` line by line."""
        view = getattr(self.report, "build_view", None)
        with view(request.progress) if view else contextlib.nullcontext() as terminal:
            if terminal is None:
                self.engine.build(request, sink, step=step)
            else:
                self.engine.build(request, sink, step=step, terminal=terminal)

    def _layer_report(self, image_id: str, base: BaseOutcome) -> tuple[LayerReport, ...]:
        try:
            if base.source == "engine":
                shared = set(self.engine.diff_ids(self.plan.tag))
            else:  # the base was read from (or pushed to) its registry, not the engine
                shared = set(base.registry.diff_ids if base.registry else ())
            layers = self.engine.image_layers(image_id)
        except UvbuildError as exc:
            self.report.warn(f"cannot read the image's layers: {exc}")
            return ()
        return tuple(
            LayerReport(layer.diff_id, layer.size, layer.diff_id in shared, layer.created_by)
            for layer in layers
        )

    # -- the result and the credentials around both builds ----------------------------

    def _result(self, base: BaseOutcome, app: AppOutcome, warnings: list[str]) -> BuildResult:
        dockerfile = self.plan.dockerfile.path or GENERATED
        return BuildResult.of(
            self.plan, dockerfile, base, app, warnings=warnings, dry_run=self.options.dry_run
        )

    @contextlib.contextmanager
    def _credentials_hint(self) -> Iterator[list[str]]:
        """Warn before the builds when a variable of ``index-credentials`` is not set, and
        name what to set when a build then fails (or fails on a refused index); yields the
        warnings."""
        missing = credentials.missing_credentials(self.plan, os.environ)
        names = ", ".join(name for name, _ in self.plan.credential_indexes)
        warnings: list[str] = []
        if missing:
            warnings.append(
                f"{' and '.join(missing)} not set: uv in the build sends no credentials "
                f"for index {names} (tool.uvbuild.index-credentials)"
            )
            self.report.warn(warnings[0])
        try:
            yield warnings
        except BuildFailed as exc:
            text = str(exc)
            if missing:
                raise BuildFailed(
                    f"{text}; the build had no credentials for index {names}: set "
                    f"{' and '.join(missing)}"
                ) from exc
            if "401" in text or "403" in text or "credentials" in text.lower():
                raise BuildFailed(
                    f"{text}; for a private index, list its [[tool.uv.index]] name in "
                    "tool.uvbuild.index-credentials and set UV_INDEX_<NAME>_USERNAME and "
                    "UV_INDEX_<NAME>_PASSWORD"
                ) from exc
            raise
