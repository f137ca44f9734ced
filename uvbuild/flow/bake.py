"""BuildRequests -> a docker-bake JSON document.

``uvbuild build`` runs two ``docker buildx build`` requests (the base, then the app);
``uvbuild bake`` writes the same two requests as bake targets, so CI can run
``docker buildx bake``. Both start from the same BuildRequest objects, so the bake file
cannot drift from what ``build`` does.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from uvbuild.docker.requests import bake_document
from uvbuild.errors import ConfigError
from uvbuild.flow import decide, requests
from uvbuild.flow.inputs import user_cache_dir

if TYPE_CHECKING:
    from uvbuild.flow.build import BuildFlow
    from uvbuild.flow.run import Reporter


# BuildOptions a bake file cannot carry, and what to do instead.
BAKE_REFUSED = {
    "iidfile": "--iidfile: a bake file has no image-id file; run `uvbuild build --iidfile`",
    "metadata_file": "--metadata-file: a bake file has no metadata file; pass it to "
    "`docker buildx bake --metadata-file FILE -f BAKEFILE`",
    "call": "--call/--check: pass them to `docker buildx bake` (buildx 0.15+), or run "
    "`uvbuild build --check`",
}


# -- `uvbuild bake`: the bake file of a BuildFlow's two requests -----------------------------

BAKE_SCHEMA = "uvbuild.bake/1"


def inputs_dir(key: str) -> Path:
    """Where ``uvbuild bake`` keeps the generated inputs its bake file names by absolute
    path: ``~/.cache/uvbuild/bake/<key16>/`` (stable, so the file works after uvbuild
    exits, and outside the user's tree)."""
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


def write(flow: BuildFlow, output: Path, report: Reporter) -> BakeResult:
    """Write the bake file of ``flow``'s plan and options to ``output``.

    The policy and the base step are ``build``'s (:mod:`uvbuild.flow.decide`): the base is a
    target (tagged with its base tag, so the bake leaves it behind; pushed by a builder
    outside the engine, or with ``--push`` and a registry base repo) when it must be built;
    the app reads it as ``target:uvbuild-base`` then, as ``docker-image://<tag>`` otherwise.
    """
    plan, options = flow.plan, flow.options
    for name, message in BAKE_REFUSED.items():
        if getattr(options, name):
            raise ConfigError(f"bake {message}")
    the_policy = flow.policy()
    flow.key_images(the_policy)
    plan = flow.plan
    work = inputs_dir(plan.key)
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    _check_bake_keeps(flow, work)
    requests.write_inputs(plan, options, work)
    lookup, _image = flow.locate(the_policy)
    step = decide.base_step(the_policy, lookup, options.rebuild_base, bake=True)
    base = None
    if step.action == "build":
        if step.warning:
            report.warn(step.warning)
        base = requests.base_request(plan, options, work, the_policy, None, bake=True)
    # the app reads a base target from the bake, not from the engine's store
    app_step = decide.app_step(
        the_policy, base_from_engine=base is None and lookup.found == "engine"
    )
    app = requests.app_request(
        plan, options, work, app_step, None, dockerfile=flow.user_dockerfile, base_ref=plan.tag
    )
    bake = bake_document(base, app, base_ref=plan.tag)
    output = output.resolve()
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(bake, indent=2) + "\n", encoding="utf-8")
    report.info(f"the bake file reads the generated Dockerfile and requirements in {work}")
    return BakeResult(output, work, plan.tag, step.action, bake)


def _check_bake_keeps(flow: BuildFlow, work: Path) -> None:
    """Refuse the flags whose bake attributes this buildx drops (``bake --print``)."""
    options, engine = flow.options, flow.engine
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
