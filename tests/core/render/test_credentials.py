"""uvbuild.core.render.credentials: the index secrets, and the named indexes they come from."""

from __future__ import annotations

import pytest

from uvbuild.core import render
from uvbuild.core.config import Config
from uvbuild.core.render import credentials
from uvbuild.errors import ConfigError
from uvbuild.planner.project_files import read_project
from uvbuild.planner.resolve import credential_indexes


def test_index_env_name_follows_uv():
    assert credentials.index_env_name("synth") == "UV_INDEX_SYNTH"
    assert credentials.index_env_name("my-corp.index_2") == "UV_INDEX_MY_CORP_INDEX_2"


def test_index_secrets_and_flags_name_variables_only(private):
    secrets = credentials.index_secrets(private)
    assert [(s.id, s.env) for s in secrets] == [
        ("uv-index-pytorch-username", "UV_INDEX_PYTORCH_USERNAME"),
        ("uv-index-pytorch-password", "UV_INDEX_PYTORCH_PASSWORD"),
    ]
    env = {"UV_INDEX_PYTORCH_USERNAME": "me", "UV_INDEX_PYTORCH_PASSWORD": "hunter2"}
    flags = credentials.secret_flags(private, env)
    assert flags == (
        "id=uv-index-pytorch-username,env=UV_INDEX_PYTORCH_USERNAME",
        "id=uv-index-pytorch-password,env=UV_INDEX_PYTORCH_PASSWORD",
    )
    assert "hunter2" not in " ".join(flags)
    assert credentials.secret_flags(private, {}) == ()
    assert credentials.missing_credentials(private, {"UV_INDEX_PYTORCH_USERNAME": "me"}) == (
        "UV_INDEX_PYTORCH_PASSWORD",
    )
    assert credentials.secret_flags(private, {"UV_INDEX_PYTORCH_USERNAME": "me"}) == flags[:1]


def test_without_index_credentials_no_secret_is_mounted(two_indexes):
    text = render.dockerfile(two_indexes)
    assert "type=secret" not in text and "UV_INDEX_" not in text
    assert credentials.index_secrets(two_indexes) == ()


def test_index_credentials_resolve_to_named_indexes(tmp_path):
    (tmp_path / "pyproject.toml").write_text(
        '[project]\nname = "p"\nversion = "0"\n'
        '[[tool.uv.index]]\nname = "corp"\nurl = "https://pkgs.example/simple"\n'
        '[[tool.uv.index]]\nurl = "https://unnamed.example/simple"\n'
    )
    project = read_project(tmp_path)
    assert project.indexes == (("corp", "https://pkgs.example/simple"),)
    config = Config(index_credentials=("corp",))
    assert credential_indexes(project, config) == (("corp", "https://pkgs.example/simple"),)
    with pytest.raises(ConfigError, match=r"index-credentials: no \[\[tool.uv.index\]\] named 'x'"):
        credential_indexes(project, Config(index_credentials=("x",)))
