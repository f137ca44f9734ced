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
from uvbuild.docker.requests import bake_document
from uvbuild.errors import ConfigError, EngineUnavailable

if TYPE_CHECKING:
    from uvbuild.flow.build import Builder, Reporter







# BuildOptions a bake file cannot carry, and what to do instead.
BAKE_REFUSED = {
    "iidfile": "--iidfile: a bake file has no image-id file; run `uvbuild build --iidfile`",
    "metadata_file": "--metadata-file: a bake file has no metadata file; pass it to "
    "`docker buildx bake --metadata-file FILE -f BAKEFILE`",
    "call": "--call/--check: pass them to `docker buildx bake` (buildx 0.15+), or run "
    "`uvbuild build --check`",
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
    bake = bake_document(base, app, base_ref=plan.tag)
    output = output.resolve()
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(bake, indent=2) + "\n", encoding="utf-8")
    report.info(f"the bake file reads the generated Dockerfile and requirements in {work}")
    return BakeResult(output, work, plan.tag, "reuse" if exists else "build", bake)
