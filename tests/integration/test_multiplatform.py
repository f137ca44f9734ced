"""`--platform linux/amd64,linux/arm64` on this engine, whose builder has no arm64
emulation: a one-line error, exit 4, before anything is built."""

from __future__ import annotations

import json

from tests.integration.helpers import error_lines
from tests.integration.uvrun import uvbuild


def builder_platforms() -> list[str]:
    import subprocess

    proc = subprocess.run(
        ["docker", "buildx", "inspect"], capture_output=True, text=True, timeout=60, check=False
    )
    line = next((x for x in proc.stdout.splitlines() if x.startswith("Platforms:")), "")
    return [p.strip() for p in line.partition(":")[2].split(",") if p.strip()]


def test_a_platform_the_builder_cannot_build_exits_4(synth_project) -> None:
    import pytest

    if any(p.startswith("linux/arm64") for p in builder_platforms()):
        pytest.skip("this builder can build linux/arm64")
    project = synth_project()
    args = ["--platform", "linux/amd64,linux/arm64", "--base-repo", "127.0.0.1:5000/t/base"]
    plan = uvbuild("plan", "--json", *args, str(project.path))
    assert plan.returncode == 0, plan.stderr
    assert [p["target"]["platform"] for p in json.loads(plan.stdout)["plans"]] == [
        "linux/amd64",
        "linux/arm64",
    ]
    proc = uvbuild("build", *args, "--push", "-t", "127.0.0.1:5000/t/app:dev", str(project.path))
    assert proc.returncode == 4, proc.stderr
    (line,) = error_lines(proc.stderr)
    assert "cannot build for linux/arm64" in line and "binfmt" in line
    assert "Traceback" not in proc.stderr


def test_multi_platform_without_push_is_a_config_error(synth_project) -> None:
    project = synth_project()
    proc = uvbuild("build", "--platform", "linux/amd64,linux/arm64", str(project.path))
    assert proc.returncode == 2, proc.stderr
    (line,) = error_lines(proc.stderr)
    assert "--push" in line
