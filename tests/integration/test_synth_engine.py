"""The plumbing works: the plain recipe builds the synthetic project on the real engine."""

from __future__ import annotations

import subprocess

import pytest

from tests import synth


def test_plain_recipe_builds_synthetic_project(
    synth_project, base_images, image_cleanup, record_property: pytest.RecordProperty
) -> None:
    project = synth_project(tool_uvbuild={"heavy": synth.HEAVY_PATTERNS})
    tag = image_cleanup.tag("plain")

    result = synth.plain_build(project.path, tag, base_images)
    record_property("plain_build_seconds", round(result.seconds, 1))

    assert synth.installed_distributions(tag) == synth.expected_distributions(project.path)
    out = subprocess.run(
        [
            "docker",
            "run",
            "--rm",
            "--network",
            "none",
            tag,
            "/opt/venv/bin/python",
            "-c",
            "import fake_torch, synthapp; synthapp.main()",
        ],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    ).stdout
    assert out.split() == ["synthapp", "0.1.0", "fake_torch", synth.TORCH_VERSIONS[0]]
