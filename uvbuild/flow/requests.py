"""The generated inputs of a run and its two build requests, from the plan, the options and
the decision (:mod:`uvbuild.flow.decide`). ``build`` runs them (or prints them for a dry
run) and ``bake`` writes them as targets, so neither can drift from the other.

The inputs live in one directory: ``Dockerfile`` (generated), ``Dockerfile.dockerignore``,
``heavy/`` (the heavy requirement files, a named context) and ``empty/`` (the base
build's context).
"""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path
from typing import Any

from uvbuild.core import render
from uvbuild.core.model import BuildPlan
from uvbuild.core.render import credentials, ignore, requirements
from uvbuild.core.render.dockerfile_names import (
    BASE_STAGE,
    HEAVY_CONTEXT,
    LIGHT_WARM_STAGE,
    PYTHON_MIRRORS,
)
from uvbuild.docker.requests import BuildRequest
from uvbuild.flow.decide import AppStep, Policy
from uvbuild.flow.options import BuildOptions, makes_no_image


def write_inputs(plan: BuildPlan, options: BuildOptions, work: Path) -> Path:
    """Write the generated Dockerfile, its ignore file and the heavy requirements into
    ``work`` (an empty directory); returns the Dockerfile. ``uvbuild bake`` keeps them."""
    heavy_dir = work / "heavy"
    heavy_dir.mkdir()
    for heavy in requirements.heavy_files(plan):
        (heavy_dir / heavy.name).write_text(heavy.text, encoding="utf-8")
    (work / "empty").mkdir()
    generated = work / "Dockerfile"
    generated.write_text(render.dockerfile(plan, syntax=options.syntax))
    # BuildKit reads <Dockerfile>.dockerignore beside the Dockerfile before .dockerignore
    (work / "Dockerfile.dockerignore").write_text(_ignore_file(plan))
    return generated


def _ignore_file(plan: BuildPlan) -> str:
    """The build's ignore file: a seed build keeps the user's own exactly (their
    ``<Dockerfile>.dockerignore``, else the project's ``.dockerignore``); a generated
    build adds uvbuild's entries to the project's."""
    project_ignore = Path(plan.project_dir) / ".dockerignore"
    if plan.seed is not None:
        beside = Path(f"{plan.dockerfile.path}.dockerignore")
        for candidate in (beside, project_ignore):
            if candidate.is_file():
                return candidate.read_text(encoding="utf-8")
        return ""
    text = project_ignore.read_text(encoding="utf-8") if project_ignore.is_file() else None
    return ignore.dockerignore(text)


def _run_flags(plan: BuildPlan, options: BuildOptions) -> dict[str, Any]:
    """The flags the base and the app build both take: how their RUN steps run and what
    they reach (secrets, network, hosts, shm, ulimits, entitlements), with which builder
    and progress output."""
    return {
        "progress": options.progress,
        "secrets": options.secrets + credentials.secret_flags(plan, os.environ),
        "builder": options.builder,
        "network": options.network,
        "add_hosts": options.add_hosts,
        "shm_size": options.shm_size,
        "ulimits": options.ulimits,
        "allow": options.allow,
    }


def base_request(
    plan: BuildPlan,
    options: BuildOptions,
    work: Path,
    the_policy: Policy,
    iidfile: Path | None,
    *,
    bake: bool = False,
) -> BuildRequest:
    """The base build: only the uvbuild-base target of the generated Dockerfile, from an
    empty context, with the heavy requirements as a named context. A base that is pushed,
    and a bake file's base target, carry the base tag; a base loaded into the engine is
    tagged there after its build succeeded."""
    pushes = the_policy.bake_base_pushes if bake else the_policy.base_build_pushes
    epoch = ("SOURCE_DATE_EPOCH", str(requirements.source_date_epoch(plan)))
    given = dict(options.build_args)
    # uv's Python mirrors, when the base may install Python: from --build-arg or the
    # environment uvbuild runs in (they decide where Python comes from, not what it is)
    mirrors = tuple(
        (name, given.get(name) or os.environ[name])
        for name in PYTHON_MIRRORS
        if given.get(name) or os.environ.get(name)
    )
    # the user's system part reads the project's context and its ARGs (in the key)
    user_system = plan.system is not None
    return BuildRequest(
        context=plan.project_dir if user_system else str(work / "empty"),
        file=str(work / "Dockerfile"),
        target=BASE_STAGE,
        # the image's creation and history times (the stages set their files' own)
        build_args=(*options.build_args, epoch) if user_system else (*mirrors, epoch),
        build_contexts=((HEAVY_CONTEXT, str(work / "heavy")),),
        platforms=(plan.target.platform,),
        tags=(plan.tag,) if bake or pushes else (),
        load=not pushes,
        push=pushes,
        no_cache=options.rebuild_base,
        iidfile=str(iidfile) if iidfile else None,
        # how the base's own FROM images are read; like the flags of _run_flags it changes
        # nothing the base holds, so it is not part of the key
        pull=options.pull,
        **_run_flags(plan, options),
    )


def light_warm_request(app: BuildRequest) -> BuildRequest:
    """The build of the light stages alone (LIGHT_WARM_STAGE), run beside the base
    build: every flag that reaches a RUN is the app build's, so BuildKit keys the light
    stages alike and the app build finds them done; nothing is exported, and the base,
    which does not exist yet, is not named."""
    return replace(
        app,
        tags=(),
        target=LIGHT_WARM_STAGE,
        build_contexts=tuple(c for c in app.build_contexts if c[0] != BASE_STAGE),
        load=False,
        push=False,
        progress="plain",
        iidfile=None,
        metadata_file=None,
        outputs=("type=cacheonly",),
        cache_to=(),
        provenance=None,
        sbom=None,
        attests=(),
        annotations=(),
        call=None,
    )


def app_request(
    plan: BuildPlan,
    options: BuildOptions,
    work: Path,
    step: AppStep,
    iidfile: Path | None,
    *,
    dockerfile: Path | None,
    base_ref: str,
) -> BuildRequest:
    """The app build of ``dockerfile`` (the user's, or None for the generated one), reading
    the base ``base_ref`` through the named context uvbuild-base."""
    evaluates = options.call is not None
    return BuildRequest(
        context=plan.project_dir,
        file=str(dockerfile or work / "Dockerfile"),
        tags=options.tags,
        target=options.target,
        build_args=options.build_args,
        # The frontend resolves every stage it parses, the replaced base stage too, so
        # the heavy context goes along although nothing reads it.
        build_contexts=(
            (BASE_STAGE, f"docker-image://{base_ref}"),
            (HEAVY_CONTEXT, str(work / "heavy")),
            *options.build_contexts,
        ),
        platforms=(plan.target.platform,),
        load=step.load,
        push=step.push,
        no_cache=options.no_cache,
        ssh=options.ssh,
        labels=options.labels,
        cache_from=options.cache_from,
        cache_to=options.cache_to,
        # buildx: "local and tar exporters are incompatible with image ID file"
        iidfile=str(iidfile)
        if iidfile and not evaluates and not any(makes_no_image(o) for o in step.outputs)
        else None,
        metadata_file=None if evaluates else options.metadata_file,
        outputs=step.outputs,
        pull=step.pull,
        provenance=options.provenance,
        sbom=options.sbom,
        attests=options.attests,
        annotations=options.annotations,
        call=options.call,
        **_run_flags(plan, options),
    )
