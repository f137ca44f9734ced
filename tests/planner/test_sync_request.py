"""uvbuild.planner.sync_request: under a seed Dockerfile its `uv sync` alone selects."""

from __future__ import annotations

import pytest

from tests.planner.projects import FLAGS, edit, seed_plan
from uvbuild.errors import ConfigError


def test_seed_selection_replaces_the_config_selection(seed_project):
    pyproject = seed_project / "pyproject.toml"
    pyproject.write_text(pyproject.read_text() + '\n[tool.uvbuild]\nextras = ["gpu"]\n')
    plan = seed_plan(seed_project)
    assert plan.request.extras == () and plan.request.no_dev is True


@pytest.mark.parametrize(
    ("given", "flag"),
    [
        ({"extras": ("gpu",)}, "--extra"),
        ({"no_dev": True}, "--no-dev"),
        ({"package": "a"}, "--package"),
    ],
)
def test_a_selection_flag_with_a_dockerfile_built_as_it_is_is_an_error(seed_project, given, flag):
    with pytest.raises(ConfigError) as info:
        seed_plan(seed_project, flags={**FLAGS, **given})
    message = str(info.value)
    assert message.startswith(f"{flag}: {seed_project / 'Dockerfile'} is built as it is")
    assert "`uv sync` on line" in message


def test_seed_selection_is_the_syncs_only(seed_project):
    pyproject = seed_project / "pyproject.toml"
    pyproject.write_text(pyproject.read_text() + '\n[tool.uvbuild]\ngroups = ["lint"]\n')
    edit(seed_project / "Dockerfile", "--no-dev --no-install-project", "--no-install-project")
    plan = seed_plan(seed_project)
    assert plan.request.groups == () and not plan.request.no_dev
    assert not plan.request.all_extras
