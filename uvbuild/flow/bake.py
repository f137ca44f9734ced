"""BuildRequests -> a docker-bake JSON document.

``uvbuild build`` runs two ``docker buildx build`` requests (the base, then the app);
``uvbuild bake`` writes the same two requests as bake targets, so CI can run
``docker buildx bake``. Both start from the same BuildRequest objects, so the bake file
cannot drift from what ``build`` does.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from uvbuild.docker.facts import FIX_DRIVER
from uvbuild.docker.requests import BuildRequest
from uvbuild.errors import ConfigError, EngineUnavailable

if TYPE_CHECKING:
    from uvbuild.flow.build import Builder, Reporter

BAKE_BASE_TARGET = "uvbuild-base"
BAKE_APP_TARGET = "app"


def target(request: BuildRequest) -> dict[str, Any]:
    """One bake target with the same meaning as the ``buildx build`` flags of ``request``."""
    out: dict[str, Any] = {"context": request.context}
    if request.file:
        out["dockerfile"] = request.file
    if request.target:
        out["target"] = request.target
    if request.tags:
        out["tags"] = list(request.tags)
    if request.build_args:
        out["args"] = dict(request.build_args)
    if request.build_contexts:
        out["contexts"] = dict(request.build_contexts)
    if request.platforms:
        out["platforms"] = list(request.platforms)
    if request.labels:
        out["labels"] = dict(request.labels)
    if request.secrets:
        out["secret"] = list(request.secrets)
    if request.ssh:
        out["ssh"] = list(request.ssh)
    if request.network:
        out["network"] = request.network
    if request.add_hosts:
        # bake has no add-host attribute before buildx 0.14; keep it visible, not dropped
        out["extra-hosts"] = list(request.add_hosts)
    if request.cache_from:
        out["cache-from"] = list(request.cache_from)
    if request.cache_to:
        out["cache-to"] = list(request.cache_to)
    if request.no_cache:
        out["no-cache"] = True
    if request.pull:
        out["pull"] = True
    attest = list(request.attests)
    for kind, value in (("provenance", request.provenance), ("sbom", request.sbom)):
        if value is not None:  # bake has no shorthand: --sbom=V is attest type=sbom,...
            attest.append(attest_entry(kind, value))
    if attest:
        out["attest"] = attest
    if request.annotations:
        out["annotations"] = list(request.annotations)
    if request.shm_size:
        out["shm-size"] = request.shm_size
    if request.ulimits:
        out["ulimits"] = list(request.ulimits)
    if request.allow:
        out["entitlements"] = list(request.allow)
    outputs = list(request.outputs)
    if request.push:
        outputs.append("type=registry")
    elif request.load:
        outputs.append("type=docker")
    if outputs:
        out["output"] = outputs
    return out


def attest_entry(kind: str, value: bool | str) -> str:
    """``--provenance=V`` / ``--sbom=V`` as the ``--attest`` entry buildx makes of it."""
    text = str(value).lower() if isinstance(value, bool) else value.strip()
    if text.lower() in ("true", "1", ""):
        return f"type={kind}"
    if text.lower() in ("false", "0"):
        return f"type={kind},disabled=true"
    return f"type={kind},{text}"


# BuildOptions a bake file cannot carry, and what to do instead.
BAKE_REFUSED = {
    "iidfile": "--iidfile: a bake file has no image-id file; run `uvbuild build --iidfile`",
    "metadata_file": "--metadata-file: a bake file has no metadata file; pass it to "
    "`docker buildx bake --metadata-file FILE -f BAKEFILE`",
    "call": "--call/--check: pass them to `docker buildx bake` (buildx 0.15+), or run "
    "`uvbuild build --check`",
}


def document(base: BuildRequest | None, app: BuildRequest, *, base_ref: str) -> dict[str, Any]:
    """The bake file: the app target, plus the base target when the base must be built.

    With a base to build, the app reads it as ``target:uvbuild-base`` (one bake solves
    both and shares the work); with an existing base, as ``docker-image://<ref>``.
    """
    targets: dict[str, Any] = {}
    app_target = target(app)
    contexts = dict(app_target.get("contexts", {}))
    if base is not None:
        targets[BAKE_BASE_TARGET] = target(base)
        contexts[BAKE_BASE_TARGET] = f"target:{BAKE_BASE_TARGET}"
    else:
        contexts[BAKE_BASE_TARGET] = f"docker-image://{base_ref}"
    app_target["contexts"] = contexts
    targets[BAKE_APP_TARGET] = app_target
    return {
        "group": {"default": {"targets": [BAKE_APP_TARGET]}},
        "target": targets,
    }


# -- `uvbuild bake`: the bake file of a Builder's two requests -----------------------------

BAKE_SCHEMA = "uvbuild.bake/1"


def names_registry(repo: str) -> bool:
    """A repository whose first part names a registry host (``host.tld/...``,
    ``host:5000/...``, ``localhost/...``) is pushed to; other names stay local."""
    first, sep, _ = repo.partition("/")
    return bool(sep) and ("." in first or ":" in first or first == "localhost")


def inputs_dir(key: str) -> Path:
    """Where ``uvbuild bake`` keeps the generated inputs its bake file names by absolute
    path: ``~/.cache/uvbuild/bake/<key16>/`` (stable, so the file works after uvbuild
    exits, and outside the user's tree)."""
    from uvbuild.flow.inputs import user_cache_dir

    return user_cache_dir() / "bake" / key[:16]


@dataclass(frozen=True, slots=True)
class BakeResult:
    file: Path
    inputs: Path
    base_tag: str
    base_action: str  # "build" (target:uvbuild-base) or "reuse" (docker-image://)
    document: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema": BAKE_SCHEMA,
            "file": str(self.file),
            "inputs": str(self.inputs),
            "base": {"tag": self.base_tag, "action": self.base_action},
            "targets": sorted(self.document["target"]),
        }


def write(builder: Builder, output: Path, report: Reporter) -> BakeResult:
    """Write the bake file of ``builder``'s plan and options to ``output``.

    The base is a target (tagged with its base tag, so the bake leaves it behind) when it
    does not exist in the engine (nor in its registry, for a registry base repo); the app
    reads it as ``target:uvbuild-base`` then, as ``docker-image://<tag>`` otherwise.
    """
    plan, options, engine = builder.plan, builder.options, builder.engine
    for name, message in BAKE_REFUSED.items():
        if getattr(options, name):
            raise ConfigError(f"bake {message}")
    info = engine.check()
    if info.driver != "docker":
        raise EngineUnavailable(
            f"builder {info.name!r} uses the {info.driver} driver, which cannot see images "
            f"in the local engine; {FIX_DRIVER}"
        )
    work = inputs_dir(plan.key)
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    if options.allow and not engine.bake_keeps("entitlements", list(options.allow), work):
        raise ConfigError(
            f"--allow {','.join(options.allow)}: this docker buildx drops the `entitlements` "
            "attribute of bake files (checked with `bake --print`); pass --allow to "
            "`docker buildx bake`, use `uvbuild build --allow ...`, or upgrade buildx"
        )
    if options.network and not engine.bake_keeps("network", options.network, work):
        raise ConfigError(
            f"--network {options.network}: this docker buildx drops the `network` attribute "
            "of bake files (checked with `bake --print`), so the bake would build differently; "
            "use `uvbuild build --network ...`, or upgrade buildx"
        )
    generated = builder.write_inputs(work)
    in_engine = exists = engine.image_exists(plan.tag)
    if not exists and names_registry(plan.base_repo):
        exists = engine.registry_image(plan.tag, plan.target.platform) is not None
    if exists and options.rebuild_base:
        exists = False
    load = options.load if options.load is not None else not options.pushes
    # --pull: not for an app that reads the base from the engine (buildx would look for it
    # in a registry); a base target or a registry base is fine
    pull = builder.app_pull(exists and in_engine)
    app = builder.app_request(work, generated, load, None, base_ref=plan.tag, pull=pull)
    base = None
    if not exists:
        base = replace(
            builder.base_request(work, generated, None),
            tags=(plan.tag,),
            push=options.push and names_registry(plan.base_repo),
            load=not (options.push and names_registry(plan.base_repo)),
        )
    bake = document(base, app, base_ref=plan.tag)
    output = output.resolve()
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(bake, indent=2) + "\n", encoding="utf-8")
    report.info(f"the bake file reads the generated Dockerfile and requirements in {work}")
    return BakeResult(output, work, plan.tag, "reuse" if exists else "build", bake)
