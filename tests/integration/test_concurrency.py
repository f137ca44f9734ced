"""Two `uvbuild build` runs of one project at once build its base once (issue #4).

The project has a loopback index of its own whose wheel downloads are held for a few
seconds (``IndexServer.file_delay``), so the base build is still running when the second
run arrives; a fresh index URL also means a fresh base key, never built before.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests import synth

REPO = Path(__file__).resolve().parents[2]
UVBUILD_BUILD = (sys.executable, "-m", "uvbuild", "build", "--network", "host", "--json")


@pytest.fixture
def slow_index() -> Iterator[synth.IndexServer]:
    with tempfile.TemporaryDirectory(prefix="uvbuild-concurrency-wheels-") as tmp:
        wheels = synth.populate_index(tmp, heavy_mb=16)
        with synth.IndexServer() as server:
            synth.add_to_index(server, wheels)
            yield server


def test_two_runs_at_once_build_the_base_once(
    slow_index: synth.IndexServer, base_images: dict[str, str], tmp_path: Path
) -> None:
    repo = f"uvbuild-test/synth-concurrency-{uuid.uuid4().hex[:8]}"
    project = synth.make_project(
        tmp_path / "app",
        slow_index.url,
        tool_uvbuild={
            "heavy": synth.HEAVY_PATTERNS,
            "base-image": base_images["python_image"],
            "uv-image": base_images["uv_image"],
            "base-repo": f"{repo}-base",
        },
        lock_now=True,
    )
    proc = subprocess.run(
        [sys.executable, "-m", "uvbuild", "plan", "--json", str(project.path)],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    )
    base_tag = json.loads(proc.stdout)["base"]["tag"]
    slow_index.file_delay = 4.0  # each heavy wheel download waits inside the base's RUN
    env = {**os.environ, "NO_COLOR": "1", "XDG_CACHE_HOME": str(tmp_path / "cache")}
    tags = [f"{repo}:run{i}" for i in (1, 2)]
    runs = [
        subprocess.Popen(
            [*UVBUILD_BUILD, "-t", tag, str(project.path)],
            cwd=REPO,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
            text=True,
        )
        for tag in tags
    ]
    try:
        outputs = [run.communicate(timeout=600) for run in runs]
        codes = [run.returncode for run in runs]
        assert codes == [0, 0], [err[-3000:] for _, err in outputs]
        summaries = [json.loads(out) for out, _ in outputs]
        actions = sorted(summary["base"]["action"] for summary in summaries)
        assert actions == ["built", "reused"], actions
        errs = [err for _, err in outputs]
        assert sum(err.count("==> building base") for err in errs) == 1
        assert sum(err.count("[uvbuild-base") > 0 for err in errs) == 1
        builder = next(i for i, s in enumerate(summaries) if s["base"]["action"] == "built")
        waiter = errs[1 - builder]
        assert f"waiting for pid {runs[builder].pid}" in waiter, waiter[-3000:]
        assert f"which is building base {base_tag}" in waiter
        assert f"reusing base {base_tag}" in waiter
        for summary in summaries:
            assert summary["base"]["tag"] == base_tag
        assert summaries[0]["image"]["layers"][0] == summaries[1]["image"]["layers"][0]
    finally:
        for run in runs:
            if run.poll() is None:
                run.kill()
                run.wait()
        subprocess.run(
            ["docker", "image", "rm", "-f", base_tag, *tags], capture_output=True, check=False
        )
