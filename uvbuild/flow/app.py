"""The app step: the app build on the base (or, for ``--check`` / ``--call``, buildx
evaluating the app Dockerfile), its image id, its ``docker save`` files and the layers it
shares with the base."""

from __future__ import annotations

import time
from pathlib import Path

from uvbuild.docker.facts.build_output import wasted_base
from uvbuild.docker.requests import BuildRequest
from uvbuild.errors import BuildFailed, UvbuildError
from uvbuild.flow import decide, requests
from uvbuild.flow.decide import AppStep, BaseStep
from uvbuild.flow.result import AppOutcome, BaseOutcome, LayerReport, base_action
from uvbuild.flow.run import Run


def app_step(run: Run, base_source: str) -> AppStep:
    """How the app is built on a base read from ``base_source``; says when ``--pull``
    cannot reach the app build."""
    step = decide.app_step(run.policy, base_from_engine=base_source == "engine")
    if run.options.pull and not step.pull and run.options.call is None:
        note = (
            f"--pull: not passed to the app build, which reads base {run.plan.tag} from "
            "the engine (buildx would look for it in a registry)"
        )
        if run.user_dockerfile:
            run.report.warn(
                f"{note}; the other FROM images of {run.user_dockerfile} are not pulled"
            )
        else:
            run.report.detail(note)
    return step


def app_request(run: Run, step: AppStep, iidfile: Path | None, base_ref: str) -> BuildRequest:
    return requests.app_request(
        run.plan,
        run.options,
        run.work,
        step,
        iidfile,
        dockerfile=run.user_dockerfile,
        base_ref=base_ref,
    )


def app_iidfile(run: Run) -> Path:
    return Path(run.options.iidfile) if run.options.iidfile else run.work / "app.iid"


def evaluation_request(run: Run, step: BaseStep, found: str | None) -> BuildRequest:
    """``--check`` / ``--call``: the app request on the base where it was found, else
    on the image the base starts from (the frontend only needs an image to resolve)."""
    base_ref = run.plan.tag if found else run.plan.config.resolved_base_image
    return app_request(run, app_step(run, step.source), None, base_ref)


def evaluate(run: Run, step: BaseStep, found: str | None) -> tuple[BaseOutcome, AppOutcome]:
    """``--check`` / ``--call``: buildx evaluates the app Dockerfile and builds nothing."""
    request = evaluation_request(run, step, found)
    dockerfile = run.user_dockerfile or "the generated Dockerfile"
    call = run.options.call
    run.report.step(f"docker buildx build --call={call} on {dockerfile}")
    run.engine.build(request, run.report.stream, step=f"--call={call}")
    return BaseOutcome(base_action(step, dry_run=False), step.source), AppOutcome()


def build_app(run: Run, base: BaseOutcome) -> AppOutcome:
    """The app build on ``base``: its output streamed, a base the app installed again
    warned about, its image saved where ``-o type=docker,dest=`` asked."""
    plan, options = run.plan, run.options
    step = app_step(run, base.source)
    iidfile = app_iidfile(run)
    request = app_request(run, step, iidfile, plan.tag)
    for answer in (options.iidfile, options.metadata_file):
        if answer:  # as buildx, no stale answer; its directory is made (build/ in a Makefile)
            Path(answer).unlink(missing_ok=True)
            Path(answer).parent.mkdir(parents=True, exist_ok=True)
    run.report.step(
        "building the app on the base"
        + (f" with {run.user_dockerfile}" if run.user_dockerfile else "")
    )
    lines: list[str] = []

    def sink(line: str) -> None:
        lines.append(line)
        run.report.stream(line)

    started = time.monotonic()
    run.build(request, sink, "the app build")
    seconds = time.monotonic() - started
    layered = [*plan.heavy, *(c.selected for g in plan.light_layers for c in g.packages)]
    wasted = wasted_base(lines, [s.name for s in layered], plan.config.venv)
    for warning in wasted:
        run.report.warn(warning)
    image_id = None
    if request.iidfile and iidfile.is_file():
        image_id = iidfile.read_text().strip()
    layers = _layer_report(run, image_id, base) if image_id and request.load else ()
    _save(run, step.saves, list(options.tags) or ([image_id] if image_id else []))
    return AppOutcome(options.tags, seconds, image_id, layers, tuple(wasted))


def _save(run: Run, dests: tuple[str, ...], refs: list[str]) -> None:
    for dest in dests:
        if not refs:
            raise BuildFailed(f"-o type=docker,dest={dest}: the app build wrote no image id")
        run.report.step(f"writing {dest} (docker save: the docker driver has no exporter)")
        run.engine.save_image(refs, dest)


def _layer_report(run: Run, image_id: str, base: BaseOutcome) -> tuple[LayerReport, ...]:
    """The app image's layers, each marked when the base has it too."""
    try:
        if base.source == "engine":
            shared = set(run.engine.diff_ids(run.plan.tag))
        else:  # the base was read from (or pushed to) its registry, not the engine
            shared = set(base.registry.diff_ids if base.registry else ())
        layers = run.engine.image_layers(image_id)
    except UvbuildError as exc:
        run.report.warn(f"cannot read the image's layers: {exc}")
        return ()
    return tuple(
        LayerReport(layer.diff_id, layer.size, layer.diff_id in shared, layer.created_by)
        for layer in layers
    )
