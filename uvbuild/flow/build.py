"""The build flow: reuse or build the base, then build the app on top of it.

What to do is decided once (:mod:`uvbuild.flow.decide`): the policy from the engine's facts,
then, once the base has been looked for (:mod:`uvbuild.flow.lookup`), the base step.
:class:`BuildFlow` keeps their order and carries them out: the base
(:mod:`uvbuild.flow.base`, with the light stages beside it, :mod:`uvbuild.flow.light_stages`),
then the app (:mod:`uvbuild.flow.app`); for ``--dry-run`` it records the commands a real run
would run, from the same requests (:mod:`uvbuild.flow.dry_run`). It takes the plan, the
options, an engine and a reporter (the Terminal), so the order of the steps can be followed
in tests with a fake engine.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

from uvbuild import keylock
from uvbuild.core.model import BuildPlan
from uvbuild.core.render import credentials
from uvbuild.docker.facts.values import RegistryImage
from uvbuild.docker.verbs import EngineLike
from uvbuild.errors import BuildFailed, ConfigError
from uvbuild.flow import decide, images, requests
from uvbuild.flow.app import build_app, evaluate
from uvbuild.flow.base import carry_base
from uvbuild.flow.decide import Lookup, Policy
from uvbuild.flow.dry_run import record
from uvbuild.flow.inputs import choose_dockerfile, user_cache_dir
from uvbuild.flow.lookup import ask_engine, locate
from uvbuild.flow.options import BuildOptions, check_iidfile
from uvbuild.flow.result import GENERATED, AppOutcome, BaseOutcome, BuildResult, write_metadata
from uvbuild.flow.run import Reporter, Run


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
            the_run = Run(
                self.plan,
                self.options,
                self.engine,
                self.report,
                the_policy,
                work,
                self.user_dockerfile,
                self.lock_dir,
            )
            with self._using_base():
                lookup, image = self.locate(the_policy)
                step = decide.base_step(the_policy, lookup, self.options.rebuild_base)
                found = lookup.found
                if self.options.dry_run:
                    return self._result(*record(the_run, step, found), warnings)
                if step.action == "skip":
                    return self._result(*evaluate(the_run, step, found), warnings)
                the_base = carry_base(the_run, step, image)
                result = self._result(the_base, build_app(the_run, the_base), warnings)
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

    def policy(self) -> Policy:
        """The run's policy from the selected builder's facts; flags that cannot go
        together are refused before the engine is asked."""
        intent = decide.intent_of(self.options)
        decide.check_intent(self.plan.base_repo, intent)
        info = ask_engine(
            self.engine.check,
            "dry run without an engine, assuming the base must be built",
            dry_run=self.options.dry_run,
            report=self.report,
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
        """Where the plan's base is (:func:`uvbuild.flow.lookup.locate`)."""
        return locate(self.plan, the_policy, self.engine, self.report, dry_run=self.options.dry_run)

    # -- the generated inputs, the result and the credentials around both builds ----------

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
