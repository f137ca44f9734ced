"""uvbuild.planner.project_files: reading pyproject.toml, .python-version and uv.lock."""

from __future__ import annotations

import pytest

from tests.paths import FIXTURES
from uvbuild.errors import ConfigError, LockError
from uvbuild.planner.plan import make_plan
from uvbuild.planner.project_files import read_lock, read_project, workspace_members


def test_read_project_reads_the_first_line_of_python_version(project_copy):
    (project_copy / ".python-version").write_text("3.12\n3.11\n")
    project = read_project(project_copy)
    assert project.python_version_file == "3.12"
    assert make_plan(project_copy, {"platform": "linux/amd64"}).target.python == "3.12"


def test_workspace_members():
    lock = read_lock(FIXTURES / "virtual_workspace" / "uv.lock")
    assert workspace_members(lock, FIXTURES / "virtual_workspace") == ("a", "b")


def test_no_members_for_a_single_project():
    lock = read_lock(FIXTURES / "empty_extra" / "uv.lock")
    assert workspace_members(lock, FIXTURES / "empty_extra") == ()


def test_read_lock_missing(tmp_path):
    with pytest.raises(LockError, match=r"not found; run `uv lock`"):
        read_lock(tmp_path / "uv.lock")


def test_read_lock_empty(tmp_path):
    (tmp_path / "uv.lock").write_text("")
    with pytest.raises(LockError, match="empty"):
        read_lock(tmp_path / "uv.lock")


def test_read_lock_malformed(tmp_path):
    (tmp_path / "uv.lock").write_text("version = 1\n[[package]\n")
    with pytest.raises(LockError) as info:
        read_lock(tmp_path / "uv.lock")
    assert str(info.value).startswith(f"{tmp_path / 'uv.lock'}: not valid TOML")


def test_read_lock_too_new(tmp_path):
    (tmp_path / "uv.lock").write_text('version = 2\nrequires-python = ">=3.10"\n')
    with pytest.raises(LockError, match="newer than uvbuild understands"):
        read_lock(tmp_path / "uv.lock")


def test_read_lock_not_utf8(tmp_path):
    (tmp_path / "uv.lock").write_bytes(b"version = 1\n\xff\xfe")
    with pytest.raises(LockError, match=r"not UTF-8 text .* at offset 12"):
        read_lock(tmp_path / "uv.lock")


def test_read_project_missing_pyproject(tmp_path):
    with pytest.raises(ConfigError, match=r"pyproject\.toml: not found"):
        read_project(tmp_path)


def test_read_project_missing_directory(tmp_path):
    with pytest.raises(ConfigError, match="no such directory"):
        read_project(tmp_path / "nope")


def test_read_project_malformed_pyproject(tmp_path):
    (tmp_path / "pyproject.toml").write_text("[project\nname = 'x'\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        read_project(tmp_path)


@pytest.mark.parametrize(
    ("value", "expected"),
    [('["dev", "lint"]', ("dev", "lint")), ('"all"', None), ("[]", ())],
)
def test_read_project_default_groups(tmp_path, value, expected):
    (tmp_path / "pyproject.toml").write_text(f"[tool.uv]\ndefault-groups = {value}\n")
    assert read_project(tmp_path).default_groups == expected


def test_read_project_bad_default_groups(tmp_path):
    (tmp_path / "pyproject.toml").write_text("[tool.uv]\ndefault-groups = 3\n")
    with pytest.raises(ConfigError, match=r"tool\.uv\.default-groups"):
        read_project(tmp_path)


@pytest.mark.parametrize(
    ("uv", "expected"),
    [
        ("", "https://pypi.org/simple"),
        (
            '[[tool.uv.index]]\nname = "a"\nurl = "https://a.example/simple"\n'
            '[[tool.uv.index]]\nname = "b"\nurl = "https://b.example/simple"\ndefault = true\n',
            "https://b.example/simple",
        ),
        (
            '[tool.uv]\nindex-url = "https://mirror.example/simple"\n',
            "https://mirror.example/simple",
        ),
    ],
    ids=["pypi", "default-true", "legacy-index-url"],
)
def test_read_project_default_index(tmp_path, uv, expected):
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "x"\n' + uv)
    assert read_project(tmp_path).default_index == expected
