"""``--platform linux/amd64,linux/arm64``: one plan, key and base per platform.

``plan`` prints every platform's plan (``uvbuild.plans/1``). ``build`` checks that the
builder can build every platform (``buildx inspect``), then runs the single-platform
flow once per platform: the base ``<repo>:<key16>`` of that platform (built with
``--platform`` and pushed to the registry base repo) and the app pushed as
``<tag>-<arch>``; last, ``docker buildx imagetools create`` joins the per-platform app
images into one manifest list under the requested tags. What a multi-platform build needs
(``--push``, ``-t`` naming a registry and a registry ``base-repo``; any builder driver) is
decided in :mod:`uvbuild.flow.decide`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from uvbuild.core.config import normalize_platform
from uvbuild.core.model import BuildPlan
from uvbuild.core.plan_json import PLAN_SCHEMA
from uvbuild.docker.verbs import EngineLike
from uvbuild.errors import ConfigError, EngineUnavailable
from uvbuild.flow import decide
from uvbuild.flow.build import BuildFlow
from uvbuild.flow.options import BuildOptions
from uvbuild.flow.result import BuildResult
from uvbuild.flow.run import Reporter

PLANS_SCHEMA = "uvbuild.plans/1"
BUILDS_SCHEMA = "uvbuild.builds/1"


def split_platforms(value: str | None) -> tuple[str, ...]:
    """``linux/amd64,linux/arm64`` -> each platform once, normalised, in the given order;
    empty for None."""
    if not value:
        return ()
    parts = [part.strip() for part in value.split(",") if part.strip()]
    if not parts:
        raise ConfigError(f"--platform {value!r}: name at least one platform")
    return tuple(dict.fromkeys(normalize_platform(part, "--platform") for part in parts))


def plans_document(documents: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """``plan --json`` for several platforms: the single-platform documents in a list."""
    assert all(document.get("schema") == PLAN_SCHEMA for document in documents)
    return {"schema": PLANS_SCHEMA, "plans": list(documents)}


def arch_suffix(platform: str) -> str:
    """``linux/arm64`` -> ``arm64``; ``linux/arm/v7`` -> ``arm-v7``."""
    return "-".join(platform.split("/")[1:]) or platform.replace("/", "-")


def platform_tag(tag: str, platform: str) -> str:
    """The per-platform tag of an app tag: ``reg/app:dev`` -> ``reg/app:dev-arm64``."""
    name, sep, version = tag.rpartition(":")
    if not sep or "/" in version:  # no tag part (a registry port is not a tag)
        name, version = tag, "latest"
    return f"{name}:{version}-{arch_suffix(platform)}"


def builder_covers(platform: str, supported: Sequence[str]) -> bool:
    """Whether a builder listing ``supported`` can build ``platform`` (``linux/amd64``
    is covered by ``linux/amd64`` and by ``linux/amd64/v2``...)."""
    return any(item == platform or item.startswith(platform + "/") for item in supported)


def _policy(
    plans: Sequence[BuildPlan], options: BuildOptions, driver: str | None, builder: str = ""
) -> decide.Policy:
    """The one policy of every platform's run (decide: push, -t, a registry base-repo, no
    --load; the builder's driver must serve the base repo)."""
    intent = decide.intent_of(options, tuple(plan.target.platform for plan in plans))
    # each plan names its base repo; all must pass, and they share the one policy
    policies = [decide.policy(plan.base_repo, intent, driver, builder) for plan in plans]
    return policies[0]


def check_options(plans: Sequence[BuildPlan], options: BuildOptions) -> decide.Policy:
    """What a multi-platform build needs before any engine is asked; the policy."""
    platforms = ", ".join(plan.target.platform for plan in plans)
    for flag, value in (
        ("--iidfile", options.iidfile),
        ("--metadata-file", options.metadata_file),
        ("--call", options.call),
    ):
        if value:
            raise ConfigError(
                f"--platform {platforms} {flag}: the image is a manifest list that "
                "`docker buildx imagetools create` joins from the platform images, and no "
                f"single build describes it; build one platform at a time for {flag}, or "
                "read the list with `docker buildx imagetools inspect TAG`"
            )
    return _policy(plans, options, None)


def check_builder(plans: Sequence[BuildPlan], options: BuildOptions, engine: EngineLike) -> None:
    """The builder must serve the base repo (decide: the docker driver, or any driver with
    a registry base-repo) and build every platform (natively or with QEMU emulation
    registered through binfmt_misc)."""
    info = engine.check()
    _policy(plans, options, info.driver, info.name)
    supported = engine.builder_platforms()
    missing = [p.target.platform for p in plans if not builder_covers(p.target.platform, supported)]
    if missing:
        raise EngineUnavailable(
            f"builder {info.name!r} cannot build for {', '.join(missing)} (it builds "
            f"{', '.join(supported) or 'nothing'}): register QEMU emulation "
            f"(`docker run --privileged --rm tonistiigi/binfmt --install "
            f"{','.join(arch_suffix(m).split('-')[0] for m in missing)}`) or use a builder "
            "with a node of that architecture"
        )


def build_platforms(
    plans: Sequence[BuildPlan], options: BuildOptions, engine: EngineLike, report: Reporter
) -> dict[str, Any]:
    """Build every platform's base and app, then the manifest list; the summary document."""
    the_policy = check_options(plans, options)
    if not options.dry_run:
        check_builder(plans, options, engine)
    results: list[tuple[BuildPlan, BuildResult]] = []
    commands: list[str] = []
    digests: dict[str, str] = {}  # each image asked once for every platform
    for plan in plans:
        platform = plan.target.platform
        report.step(f"platform {platform}: base {plan.tag}")
        # Each run is single-platform, with the multi-platform policy's load and push-base:
        # the flow pushes the base (built here, or found only in the engine).
        per_platform = replace(
            options,
            tags=tuple(platform_tag(tag, platform) for tag in options.tags),
            load=the_policy.app_load,
            push_base=the_policy.push_base,
        )
        flow = BuildFlow(plan, per_platform, engine, report, digests)
        result = flow.run()
        results.append((flow.plan, result))
        commands += result.commands
    sources = [tag for _, result in results for tag in result.tags[:1]]
    create = ["buildx", "imagetools", "create"]
    for tag in options.tags:
        create += ["--tag", tag]
    if options.dry_run:
        commands.append(engine.command_line([*create, *sources]))
    else:
        report.step(f"joining {len(sources)} platform images into {', '.join(options.tags)}")
        engine.imagetools_create(options.tags, sources)
    return {
        "schema": BUILDS_SCHEMA,
        "dry-run": options.dry_run,
        "tags": list(options.tags),
        "platforms": [
            {"platform": plan.target.platform, **result.to_dict()} for plan, result in results
        ],
        "commands": commands,
    }
