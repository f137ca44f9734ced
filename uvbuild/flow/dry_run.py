"""``--dry-run``: a dry run builds nothing; it records the commands a real run would run,
from the same requests."""

from __future__ import annotations

from uvbuild.docker.requests import build_args
from uvbuild.flow import requests
from uvbuild.flow.app import app_iidfile, app_request, app_step, evaluation_request
from uvbuild.flow.base import announce_reuse, warn_stale
from uvbuild.flow.decide import BaseStep
from uvbuild.flow.result import AppOutcome, BaseOutcome, base_action
from uvbuild.flow.run import Run


def record(run: Run, step: BaseStep, found: str | None) -> tuple[BaseOutcome, AppOutcome]:
    """The base's and the app's commands, as the real run's steps would run them."""
    line = run.engine.command_line
    action = base_action(step, dry_run=True)
    if step.action == "skip":
        request = evaluation_request(run, step, found)
        return BaseOutcome(action, step.source), AppOutcome(commands=(line(build_args(request)),))
    commands: list[str] = []
    warn_stale(run, step)
    if step.action == "reuse":
        announce_reuse(run, step)
    else:
        iidfile = run.work / "base.iid"
        request = requests.base_request(run.plan, run.options, run.work, run.policy, iidfile)
        commands.append(line(build_args(request)))
        if run.policy.base_in_engine:
            commands.append(line(["tag", "<image id>", run.plan.tag]))
    if step.push:  # built here, or found only in the engine
        commands.append(line(["push", run.plan.tag]))
    warnings = (step.warning,) if step.warning else ()
    base = BaseOutcome(action, step.source, warnings=warnings, commands=tuple(commands))
    the_app_step = app_step(run, step.source)
    request = app_request(run, the_app_step, app_iidfile(run), run.plan.tag)
    refs = list(run.options.tags) or ["<image id>"]
    app_commands = [line(build_args(request))]
    app_commands += [line(["save", "-o", dest, *refs]) for dest in the_app_step.saves]
    return base, AppOutcome(tags=run.options.tags, commands=tuple(app_commands))
