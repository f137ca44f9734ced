"""The light stages built beside the base (stage uvbuild-layers-light, BuildKit's cache only):
they start from the system image, not from the base, so on a cold build their installs
overlap the base's instead of following it."""

from __future__ import annotations

import contextlib
import threading

from uvbuild.errors import UvbuildError
from uvbuild.flow import decide, requests
from uvbuild.flow.app import app_request
from uvbuild.flow.run import Run


def start_light_stages(run: Run) -> threading.Thread | None:
    """Start the light stages' build in a thread; None when there is nothing to start.
    Its output is not shown and a failure is left to the app build, which builds the
    same stages and says what failed; on an error of the base build it is not waited
    for (uvbuild's exit stops it)."""
    if not run.plan.light_stages or run.options.call is not None:
        return None
    step = decide.app_step(run.policy, base_from_engine=run.policy.base_in_engine)
    request = requests.light_warm_request(app_request(run, step, None, run.plan.tag))

    def build() -> None:
        with contextlib.suppress(UvbuildError):
            run.engine.build(request, lambda line: None, step="the light stages' build")

    thread = threading.Thread(target=build, name="uvbuild-light-stages", daemon=True)
    thread.start()
    return thread
