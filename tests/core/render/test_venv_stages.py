"""uvbuild.core.render.venv_stages: a seed build's stages set no ENV; the uvbuild-python stage."""

from __future__ import annotations

import pytest

from tests.core.plans import SEED, seed_plan
from tests.core.render.stages import stage
from uvbuild.core import render
from uvbuild.core.render import venv_stages


def test_seed_keyed_stages_add_no_env(tmp_path):
    text = render.dockerfile(seed_plan(tmp_path, SEED))
    base = text[text.index("FROM uvbuild-python AS uvbuild-base") :]
    base = base[: base.index("\nFROM ", 1)]
    assert not any(line.startswith("ENV ") for line in base.splitlines())
    for name in ("uvbuild-python", "uvbuild-layer-cuda", "uvbuild-layer-frameworks"):
        assert "\nENV " not in stage(text, name)
        assert "\nARG python_version=3.11\n" in stage(text, name)
    # uv's settings are the sync's, in each RUN's own shell
    assert (
        'export PATH="/tmp/uvbuild-uv:$PATH" UV_LINK_MODE="copy" UV_PYTHON="python3.11" '
        'UV_PROJECT_ENVIRONMENT="/app" VIRTUAL_ENV="/app"'
    ) in base
    assert "cp /tmp/uvbuild-uv/uv" not in text  # no uv copied into the user's image
    assert "{ [ -e /app/pyvenv.cfg ] || uv venv --prompt gpuapp /app; }" in base


def test_seed_without_layer_groups_has_no_env_either(tmp_path):
    text = render.dockerfile(seed_plan(tmp_path, SEED, layer_mode="single"))
    start = text.index("FROM uvbuild-python AS uvbuild-base")
    base = text[start : text.index("\nFROM ", start + 1)]
    assert "\nENV " not in base and "uv pip install --python /app" in base


@pytest.mark.parametrize(
    ("change", "python_stage"),
    [
        ((), True),  # uv may download Python and nothing installs one
        (("ENV UV_PYTHON=", "ENV UV_PYTHON_DOWNLOADS=never UV_PYTHON="), False),
        (("apt-get install -y curl", "apt-get install -y curl && uv python install 3.11"), False),
    ],
)
def test_python_stage_only_when_the_sync_would_download_python(tmp_path, change, python_stage):
    text = SEED.replace(*change) if change else SEED
    plan = seed_plan(tmp_path, text)
    rendered = render.dockerfile(plan)
    assert venv_stages.python_stage_needed(plan) is python_stage
    assert ("AS uvbuild-python" in rendered) is python_stage
    below = "uvbuild-python" if python_stage else "uvbuild-system"
    assert f"FROM {below} AS uvbuild-base\n" in rendered
    if python_stage:
        python = stage(rendered, "uvbuild-python")
        assert (
            "{ uv python find python3.11 >/dev/null 2>&1 || "
            "UV_PYTHON_DOWNLOADS=automatic uv python install python3.11; }"
        ) in python
