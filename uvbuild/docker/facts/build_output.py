"""What a build's plain progress output says: the step that failed and why, a full disk,
and heavy packages the app build installed again."""

from __future__ import annotations

import itertools
import re
from collections.abc import Sequence

from uvbuild.docker.facts.faults import shorten


def last_line(lines: Sequence[str], code: int) -> str:
    meaningful = [line.strip() for line in lines if line.strip()]
    return shorten(meaningful[-1], 200) if meaningful else f"exit {code}"


_FAILED_STEP = re.compile(r"^\s*> \[(?P<label>[^\]]+)\] (?P<command>.*):\s*$")


# ENOSPC as BuildKit, the kernel and uv ("No space left on device (os error 28)") word it
_NO_SPACE = "no space left on device"
_PROGRESS_PREFIX = re.compile(r"^#\d+ \d+(\.\d+)? ")  # plain progress: "#8 0.411 cp: ..."


def disk_full(lines: Sequence[str]) -> str | None:
    """What the first line of a build's output that says the engine's disk ran out of
    space says, up to those words (its end when it is long), else None."""
    for line in lines:
        end = line.lower().find(_NO_SPACE)
        if end >= 0:
            text = _PROGRESS_PREFIX.sub("", line[: end + len(_NO_SPACE)].strip())
            text = " ".join(text.split()).removeprefix("ERROR: ")
            return text if len(text) <= 140 else "…" + text[-139:]
    return None


def failing_step(lines: Sequence[str]) -> str | None:
    """What failed, from plain progress output: BuildKit's step label (``[app 2/3] RUN
    false``), the first error line the step printed, and the solver's verdict."""
    step = error = verdict = None
    for index, line in enumerate(lines):
        text = line.strip()
        match = _FAILED_STEP.match(line)
        if match:
            step = f"[{match['label']}] {shorten(match['command'])}"
            block = itertools.takewhile(lambda x: x.strip() != "------", lines[index + 1 :])
            error = next((shorten(x.strip(": ")) for x in block if "error" in x.lower()), None)
        elif text.startswith("ERROR: failed to solve:"):
            verdict = text.removeprefix("ERROR: failed to solve:").strip()
            verdict = shorten(verdict.split("did not complete successfully: ")[-1])
    if step:
        return f"{step}: {error or verdict or 'failed'}"
    if verdict:
        return verdict
    for line in reversed(lines):
        if " ERROR:" in line or line.startswith("ERROR"):
            return shorten(line.strip())
    return None


_UV_CHANGE = re.compile(r"(?:^|\s)([+-]) ([A-Za-z0-9._-]+)==(\S+)")


_STEP = re.compile(r"^#(\d+) ")
_LAYER_STEP = re.compile(r"^#(\d+) \[uvbuild-layers?-")


def outside_layer_stages(lines: Sequence[str]) -> list[str]:
    """The build log without the steps of the ``uvbuild-layer-*`` stages (BuildKit's plain
    progress names a step's stage on its first line, ``#12 [uvbuild-layer-x 3/3] RUN``,
    and prefixes its output with ``#12``): those install a layer into a venv of their own."""
    layer_steps = {m.group(1) for line in lines if (m := _LAYER_STEP.match(line))}
    return [line for line in lines if not ((m := _STEP.match(line)) and m.group(1) in layer_steps)]


def wasted_base(lines: Sequence[str], heavy: Sequence[str], venv: str) -> list[str]:
    """Warnings when the app build reinstalled heavy packages (or light-layer ones) or
    recreated the venv; the layer stages' own installs do not count."""
    heavy_names = set(heavy)
    warnings = []
    reinstalled: dict[str, str] = {}
    recreated = False
    for line in outside_layer_stages(lines):
        if "Removed virtual environment" in line or (
            "Creating virtual environment" in line and venv in line
        ):
            recreated = True
        match = _UV_CHANGE.search(line)
        if match and match.group(2).lower().replace("_", "-") in heavy_names:
            name = match.group(2).lower().replace("_", "-")
            reinstalled.setdefault(name, f"{match.group(1)} {name}=={match.group(3)}")
    if recreated:
        warnings.append(
            f"uv recreated the virtual environment {venv} after the base, so every heavy "
            "package was installed again: the base image's Python differs from the one uv "
            "picks in the app stages (check tool.uvbuild.python and .python-version)"
        )
    elif reinstalled:
        names = ", ".join(sorted(reinstalled))
        warnings.append(
            f"the app build reinstalled heavy package(s) from the base: {names}; the base "
            "holds another version or build of them than uv.lock selects for this target "
            "(check --platform, --python and the base image's glibc)"
        )
    return warnings
