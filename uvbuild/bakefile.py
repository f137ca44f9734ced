"""BuildRequests -> a docker-bake JSON document.

``uvbuild build`` runs two ``docker buildx build`` requests (the base, then the app);
``uvbuild bake`` writes the same two requests as bake targets, so CI can run
``docker buildx bake``. Both start from the same BuildRequest objects, so the bake file
cannot drift from what ``build`` does.
"""

from __future__ import annotations

from typing import Any

from uvbuild.engine import BuildRequest

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
    outputs = list(request.outputs)
    if request.push:
        outputs.append("type=registry")
    elif request.load:
        outputs.append("type=docker")
    if outputs:
        out["output"] = outputs
    return out


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
