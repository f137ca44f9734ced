"""The build flow: reuse or build the base, then build the app on top of it.

It takes the plan, the options, an Engine and a reporter (the Terminal), so the order of
steps can be followed in tests with a fake engine.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Protocol

from uvbuild import keylock
from uvbuild.core import render
from uvbuild.core.model import BuildPlan
from uvbuild.core.units import format_size
from uvbuild.docker.facts import FIX_DRIVER, RegistryImage, wasted_base
from uvbuild.docker.requests import BuildRequest, build_args
from uvbuild.docker.verbs import EngineLike
from uvbuild.errors import (
    BuildFailed,
    ConfigError,
    EngineUnavailable,
    Interrupted,
    UvbuildError,
)
from uvbuild.flow.inputs import (
    choose_dockerfile,
    disk_shortfall,
    plan_disk_estimate,
    user_cache_dir,
)
from uvbuild.flow.options import (
    BuildOptions,
    _output_fields,
    docker_dest,
    makes_no_image,
    output_loads,
    output_pushes,
)
from uvbuild.flow.result import GENERATED, BuildResult, LayerReport, write_metadata


class Reporter(Protocol):
    def step(self, message: str) -> None: ...
    def info(self, message: str) -> None: ...
    def warn(self, message: str) -> None: ...
    def detail(self, message: str) -> None: ...
    def stream(self, line: str) -> None: ...






































def is_registry_repo(repo: str) -> bool:
    """A repository whose first part names a registry host (``host.tld/...``,
    ``host:5000/...``, ``localhost/...``): its bases are looked for and pushed there."""
    first, sep, _ = repo.partition("/")
    return bool(sep) and ("." in first or ":" in first or first == "localhost")














class Builder:
    """Carries out a plan: base first (reused or built), then the app."""

    def __init__(
        self, plan: BuildPlan, options: BuildOptions, engine: EngineLike, report: Reporter
    ):
        self.plan = plan
        self.options = options
        self.engine = engine
        self.report = report
        self.user_dockerfile = choose_dockerfile(plan, options)
        self.engine_ok = True
        self.driver = "docker"  # the selected builder's driver, once checked
        self.registry_base: RegistryImage | None = None  # the base in its registry, when seen
        self.lock_dir = user_cache_dir()  # where the per-base build locks live

    def run(self) -> BuildResult:
        plan, options = self.plan, self.options
        if options.push_base and not self.registry_repo:
            raise ConfigError(
                f"--push-base needs a registry base repository, but {plan.base_repo!r} names "
                "none; set --base-repo (tool.uvbuild.base-repo) to e.g. "
                "registry.example.com/team/base"
            )
        files = [o for o in options.outputs if makes_no_image(o)]
        if options.iidfile and files:
            raise ConfigError(
                f"--iidfile with -o {files[0]}: the local and tar exporters write files, not "
                "an image, so there is no image id (buildx refuses the pair); drop one of them"
            )
        result = BuildResult(plan.tag, plan.key, "", dry_run=options.dry_run)
        result.dockerfile = str(self.user_dockerfile) if self.user_dockerfile else GENERATED
        load = self._check_engine()
        with self._workdir() as work:
            generated = self._write_inputs(work)
            with self._credentials_hint(result):
                if options.call is not None:
                    self._call(work, generated, result)
                    return result
                self._base(work, generated, result)
                self._app(work, generated, load, result)
        return result

    def _call(self, work: Path, generated: Path, result: BuildResult) -> None:
        """``--check`` / ``--call``: buildx evaluates the app Dockerfile and builds nothing,
        so the base is not built: the app reads the base when it exists, else the image
        the base starts from (the frontend only needs an image to resolve)."""
        plan, call = self.plan, self.options.call
        where = self._locate_base()
        base_ref = plan.tag if where else plan.config.resolved_base_image
        result.base_action = "not needed"
        result.base_source = where or "engine"
        request = self.app_request(work, generated, False, None, base_ref=base_ref)
        if self.options.dry_run:
            result.commands.append(self.engine.command_line(build_args(request)))
            return
        dockerfile = self.user_dockerfile or "the generated Dockerfile"
        self.report.step(f"docker buildx build --call={call} on {dockerfile}")
        self.engine.build(request, self.report.stream, step=f"--call={call}")

    @contextlib.contextmanager
    def _credentials_hint(self, result: BuildResult) -> Iterator[None]:
        """Warn before the builds when a variable of ``index-credentials`` is not set, and
        name what to set when a build then fails (or fails on a refused index)."""
        missing = render.missing_credentials(self.plan, os.environ)
        names = ", ".join(name for name, _ in self.plan.credential_indexes)
        if missing:
            warning = (
                f"{' and '.join(missing)} not set: uv in the build sends no credentials "
                f"for index {names} (tool.uvbuild.index-credentials)"
            )
            result.warnings.append(warning)
            self.report.warn(warning)
        try:
            yield
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

    @property
    def registry_repo(self) -> bool:
        """Whether base-repo names a registry (bases are looked for and pushed there)."""
        return is_registry_repo(self.plan.base_repo)

    @property
    def base_in_engine(self) -> bool:
        """Whether the builder builds into the engine's image store (the docker driver)."""
        return self.driver == "docker"

    def _check_engine(self) -> bool:
        """Check the engine and builder; returns whether the app image is loaded."""
        try:
            info = self.engine.check()
        except EngineUnavailable as exc:
            if not self.options.dry_run:
                raise
            self.report.warn(f"dry run without an engine, assuming the base must be built: {exc}")
            self.engine_ok = False
            info = None
        else:
            self.driver = info.driver
        if info is not None and info.driver != "docker" and not self.registry_repo:
            raise EngineUnavailable(
                f"builder {info.name!r} uses the {info.driver} driver, which cannot see images "
                "in the local engine, so the base must come from a registry: set --base-repo "
                "(tool.uvbuild.base-repo) to a registry repository such as "
                f"registry.example.com/team/base, or {FIX_DRIVER}"
            )
        attestation = self.options.attestation
        docker_driver = info is not None and info.driver == "docker"
        oci = [o for o in self.options.outputs if _output_fields(o).get("type") == "oci"]
        needs_store = attestation or (f"-o {oci[0]}" if oci else None)
        if docker_driver and needs_store and not self.engine.containerd_store():
            what = "attestations" if attestation else "OCI exporter"
            raise ConfigError(
                f"{needs_store}: builder {info.name!r} uses the docker driver, which has no "
                f"{what} without the containerd image store; turn that store on, or use a "
                "docker-container builder with a registry base-repo"
                + (
                    " and --push (or drop the flag)"
                    if attestation
                    else " (or -o type=docker,dest=FILE)"
                )
            )
        if self.options.load is None:  # as docker: -o names where the image goes instead
            return not self.options.pushes and not self.options.outputs
        return self.options.load

    def write_inputs(self, work: Path) -> Path:
        """Write the generated Dockerfile, its ignore file and the heavy requirements into
        ``work`` (an empty directory); returns the Dockerfile. ``uvbuild bake`` keeps them."""
        return self._write_inputs(work)

    def _write_inputs(self, work: Path) -> Path:
        heavy_dir = work / "heavy"
        heavy_dir.mkdir()
        for heavy in render.heavy_files(self.plan):
            (heavy_dir / heavy.name).write_text(heavy.text, encoding="utf-8")
        (work / "empty").mkdir()
        generated = work / "Dockerfile"
        generated.write_text(render.dockerfile(self.plan, syntax=self.options.syntax))
        user_ignore = Path(self.plan.project_dir) / ".dockerignore"
        text = user_ignore.read_text(encoding="utf-8") if user_ignore.is_file() else None
        # BuildKit reads <Dockerfile>.dockerignore beside the Dockerfile before .dockerignore
        (work / "Dockerfile.dockerignore").write_text(render.dockerignore(text))
        return generated

    def base_request(self, work: Path, generated: Path, iidfile: Path | None) -> BuildRequest:
        """The base build: only the uvbuild-base target of the generated Dockerfile, from an
        empty context, with the heavy requirements as a named context."""
        plan, options = self.plan, self.options
        return BuildRequest(
            context=str(work / "empty"),
            file=str(generated),
            target=render.BASE_STAGE,
            # the image's creation and history times (the stages set their files' own)
            build_args=(("SOURCE_DATE_EPOCH", str(render.source_date_epoch(plan))),),
            build_contexts=((render.HEAVY_CONTEXT, str(work / "heavy")),),
            platforms=(plan.target.platform,),
            # A builder outside the engine (docker-container, remote, kubernetes) cannot load
            # into the engine's image store: it pushes the base to its registry repository.
            tags=() if self.base_in_engine else (plan.tag,),
            load=self.base_in_engine,
            push=not self.base_in_engine,
            progress=options.progress,
            no_cache=options.rebuild_base,
            secrets=options.secrets + render.secret_flags(plan, os.environ),
            builder=options.builder,
            network=options.network,
            add_hosts=options.add_hosts,
            iidfile=str(iidfile) if iidfile else None,
            # how the base's own FROM images are read and its RUN steps run; none of them
            # changes what the base holds, so none is part of its key
            pull=options.pull,
            shm_size=options.shm_size,
            ulimits=options.ulimits,
            allow=options.allow,
        )

    def saved_outputs(self) -> tuple[str, ...]:
        """The files of ``-o type=docker,dest=FILE`` that uvbuild writes with ``docker save``:
        the docker driver has no docker exporter (without the containerd image store)."""
        if not self.base_in_engine or self.options.call is not None:
            return ()
        return tuple(dest for o in self.options.outputs if (dest := docker_dest(o)))

    def _save(self, result: BuildResult, dry_run: bool) -> None:
        refs = list(self.options.tags) or ([result.image_id] if result.image_id else [])
        for dest in self.saved_outputs():
            if dry_run:
                result.commands.append(
                    self.engine.command_line(["save", "-o", dest, *(refs or ["<image id>"])])
                )
                continue
            if not refs:
                raise BuildFailed(f"-o type=docker,dest={dest}: the app build wrote no image id")
            self.report.step(f"writing {dest} (docker save: the docker driver has no exporter)")
            self.engine.save_image(refs, dest)

    def app_pull(self, base_ref_local: bool) -> bool:
        """``--pull`` for the app build: buildx would look the base up in a registry, so
        only when the base is read from one (``base_ref_local`` False)."""
        return self.options.pull and not base_ref_local

    def app_request(
        self,
        work: Path,
        generated: Path,
        load: bool,
        iidfile: Path | None,
        *,
        base_ref: str,
        pull: bool = False,
    ) -> BuildRequest:
        """The app build, reading the base through the named context uvbuild-base."""
        plan, options = self.plan, self.options
        call = options.call
        outputs = options.outputs
        if self.saved_outputs():  # the docker driver loads the image, then `docker save`s it
            outputs = tuple(o for o in outputs if not docker_dest(o))
            load = True
        # -o type=registry / type=docker already say --push / --load: not twice
        push = options.push and not any(output_pushes(o) for o in outputs)
        load = load and not any(output_loads(o) for o in outputs)
        return BuildRequest(
            context=plan.project_dir,
            file=str(self.user_dockerfile or generated),
            tags=options.tags,
            target=options.target,
            build_args=options.build_args,
            # The frontend resolves every stage it parses, the replaced base stage too, so
            # the heavy context goes along although nothing reads it.
            build_contexts=(
                (render.BASE_STAGE, f"docker-image://{base_ref}"),
                (render.HEAVY_CONTEXT, str(work / "heavy")),
                *options.build_contexts,
            ),
            platforms=(plan.target.platform,),
            load=load and call is None,
            push=push and call is None,
            progress=options.progress,
            no_cache=options.no_cache,
            secrets=options.secrets + render.secret_flags(plan, os.environ),
            ssh=options.ssh,
            labels=options.labels,
            builder=options.builder,
            network=options.network,
            add_hosts=options.add_hosts,
            cache_from=options.cache_from,
            cache_to=options.cache_to,
            # buildx: "local and tar exporters are incompatible with image ID file"
            iidfile=str(iidfile)
            if iidfile and call is None and not any(makes_no_image(o) for o in outputs)
            else None,
            metadata_file=options.metadata_file if call is None else None,
            outputs=outputs if call is None else (),
            pull=pull,
            provenance=options.provenance,
            sbom=options.sbom,
            attests=options.attests,
            annotations=options.annotations,
            shm_size=options.shm_size,
            ulimits=options.ulimits,
            allow=options.allow,
            call=call,
        )

    def _base(self, work: Path, generated: Path, result: BuildResult) -> None:
        """Reuse the base (engine first, then its registry) or build it.

        Building holds a per-base lock (keylock), so two runs on this machine build a base
        once: the second waits, then finds the base and reuses it. A base that exists takes
        no lock at all.
        """
        plan, options = self.plan, self.options
        where = self._locate_base()
        if where and not options.rebuild_base:
            self._reuse_base(where, result)
            return
        if options.dry_run:
            self._dry_run_base(work, generated, result, rebuilt=where is not None)
            return
        lock_key = hashlib.sha256(plan.tag.encode()).hexdigest()

        def waiting(holder: str) -> None:
            self.report.step(f"waiting for {holder}, which is building base {plan.tag}")

        with keylock.hold(self.lock_dir, lock_key, on_wait=waiting):
            if not options.rebuild_base:
                where = self._locate_base()  # another run may have built it meanwhile
                if where:
                    self._reuse_base(where, result)
                    return
            self._build_base(work, generated, result, rebuilt=where is not None)

    def _locate_base(self) -> str | None:
        """Where the base already is: "engine", "registry", or None (it must be built)."""
        plan = self.plan
        if not self.engine_ok:
            return None
        if self.base_in_engine and self.engine.image_exists(plan.tag):
            return "engine"
        if not self.registry_repo:
            return None
        try:
            self.registry_base = self.engine.registry_image(plan.tag, plan.target.platform)
        except EngineUnavailable as exc:
            if not self.options.dry_run:
                raise
            self.report.warn(f"dry run: assuming the base must be built: {exc}")
            return None
        return "registry" if self.registry_base else None

    def _reuse_base(self, where: str, result: BuildResult) -> None:
        plan, options = self.plan, self.options
        result.base_action = "would reuse" if options.dry_run else "reused"
        result.base_source = where
        if where == "registry":
            self.report.step(
                f"reusing base from registry {plan.tag} (heavy packages: {len(plan.heavy)}); "
                "nothing to build"
            )
            return
        self.report.step(f"reusing base {plan.tag} (heavy packages: {len(plan.heavy)})")
        # With --push-base, a base built here whose push failed (or predates the flag).
        if (
            options.push_base
            and not options.dry_run
            and self.engine.registry_image(plan.tag, plan.target.platform) is None
        ):
            self._push_base(result)

    def _dry_run_base(self, work: Path, generated: Path, result: BuildResult, rebuilt: bool):
        plan = self.plan
        request = self.base_request(work, generated, work / "base.iid")
        result.base_action = f"would build ({'rebuilt' if rebuilt else 'built'})"
        result.commands.append(self.engine.command_line(build_args(request)))
        if self.base_in_engine:
            result.commands.append(self.engine.command_line(["tag", "<image id>", plan.tag]))
            if self.options.push_base:
                result.commands.append(self.engine.command_line(["push", plan.tag]))

    def _build_base(self, work: Path, generated: Path, result: BuildResult, rebuilt: bool):
        plan, options = self.plan, self.options
        iidfile = work / "base.iid"
        request = self.base_request(work, generated, iidfile)
        if self.base_in_engine:
            self._check_disk(result)
        self.report.step(
            f"building base {plan.tag}: {len(plan.heavy)} heavy packages"
            + (" (forced by --rebuild-base)" if rebuilt else "")
            + ("" if self.base_in_engine else f", pushed by the {self.driver} builder")
        )
        started = time.monotonic()
        try:
            self._run_build(request, self.report.stream, f"the base build ({plan.tag})")
        except Interrupted as exc:
            raise Interrupted(
                f"{exc} while building the base: the build was stopped and {plan.tag} was "
                "not tagged; the next run builds it again",
                exc.signum,
            ) from exc
        result.base_action = "rebuilt" if rebuilt else "built"
        if not self.base_in_engine:
            # BuildKit pushed the layers, then the manifest: the tag exists only now.
            result.base_seconds = time.monotonic() - started
            result.base_source = "registry"
            result.base_pushed = True
            self.registry_base = self.engine.registry_image(plan.tag, plan.target.platform)
            return
        image_id = iidfile.read_text().strip()
        # Tag only now: a base tag exists only for a complete, successful build.
        self.engine.tag(image_id, plan.tag)
        result.base_seconds = time.monotonic() - started
        if options.push_base:
            self._push_base(result)

    def _push_base(self, result: BuildResult) -> None:
        """``docker push`` the base: the registry gets the layers first and the manifest
        (which makes the tag) last, so a push that fails or is stopped leaves no tag."""
        plan = self.plan
        self.report.step(f"pushing base {plan.tag} to its registry")
        try:
            self.engine.push_image(plan.tag, self.report.stream)
        except Interrupted as exc:
            raise Interrupted(
                f"{exc} while pushing the base: the registry has no {plan.tag} tag; the base "
                "stays in the engine and the next run with --push-base pushes it",
                exc.signum,
            ) from exc
        result.base_pushed = True

    def _check_disk(self, result: BuildResult) -> None:
        """Warn before the base build when the engine's storage looks too small for it."""
        estimate = plan_disk_estimate(self.plan)
        if not estimate.expected:
            return
        storage = self.engine.storage()
        warning = disk_shortfall(estimate, storage)
        if warning:
            result.warnings.append(warning)
            self.report.warn(warning)
        elif storage.free is None:
            self.report.detail(f"free space in the engine's storage not measured: {storage.reason}")
        else:
            self.report.detail(
                f"the base needs {estimate.describe()}; {storage.root} has "
                f"{format_size(storage.free)} free"
            )

    def _app(self, work: Path, generated: Path, load: bool, result: BuildResult) -> None:
        plan, options = self.plan, self.options
        dockerfile = self.user_dockerfile or generated
        iidfile = Path(options.iidfile) if options.iidfile else work / "app.iid"
        base_local = result.base_source == "engine"
        pull = self.app_pull(base_local)
        if options.pull and not pull:
            note = (
                f"--pull: not passed to the app build, which reads base {plan.tag} from the "
                "engine (buildx would look for it in a registry)"
            )
            if self.user_dockerfile:
                self.report.warn(f"{note}; the other FROM images of {dockerfile} are not pulled")
            else:
                self.report.detail(note)
        request = self.app_request(work, generated, load, iidfile, base_ref=plan.tag, pull=pull)
        result.tags = options.tags
        if options.dry_run:
            result.commands.append(self.engine.command_line(build_args(request)))
            self._save(result, dry_run=True)
            return
        for answer in (options.iidfile, options.metadata_file):
            if answer:  # as buildx, no stale answer; its directory is made (build/ in a Makefile)
                Path(answer).unlink(missing_ok=True)
                Path(answer).parent.mkdir(parents=True, exist_ok=True)
        self.report.step(
            "building the app on the base" + (f" with {dockerfile}" if self.user_dockerfile else "")
        )
        lines: list[str] = []

        def sink(line: str) -> None:
            lines.append(line)
            self.report.stream(line)

        started = time.monotonic()
        self._run_build(request, sink, "the app build")
        result.app_seconds = time.monotonic() - started
        wasted = wasted_base(lines, [s.name for s in plan.heavy], plan.config.venv)
        result.warnings += wasted
        for warning in wasted:
            self.report.warn(warning)
        if request.iidfile and iidfile.is_file():
            result.image_id = iidfile.read_text().strip()
            if request.load:
                result.layers = self._layer_report(result.image_id)
        self._save(result, dry_run=False)
        if options.metadata_file:
            write_metadata(Path(options.metadata_file), result)

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

    def _layer_report(self, image_id: str) -> list[LayerReport]:
        try:
            if self.base_in_engine and self.registry_base is None:
                base = set(self.engine.diff_ids(self.plan.tag))
            else:  # the base was read from (or pushed to) its registry, not the engine
                base = set(self.registry_base.diff_ids if self.registry_base else ())
            layers = self.engine.image_layers(image_id)
        except UvbuildError as exc:
            self.report.warn(f"cannot read the image's layers: {exc}")
            return []
        return [
            LayerReport(layer.diff_id, layer.size, layer.diff_id in base, layer.created_by)
            for layer in layers
        ]
