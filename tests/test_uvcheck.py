"""The lock check asks the real uv, offline: fresh, stale, or honestly unchecked."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from uvbuild.uvcheck import check_lock, start_lock_check

UV = shutil.which("uv")
needs_uv = pytest.mark.skipif(UV is None, reason="uv is not on PATH")

PYPROJECT = """\
[project]
name = "x"
version = "0.1.0"
requires-python = ">=3.8"
dependencies = [{deps}]
"""


@pytest.fixture
def project(tmp_path):
    (tmp_path / "pyproject.toml").write_text(PYPROJECT.format(deps=""))
    subprocess.run([UV, "lock", "--offline", "-q"], cwd=tmp_path, check=True)
    return tmp_path


@needs_uv
def test_fresh_lock(project):
    assert check_lock(project).status == "fresh"


@needs_uv
def test_stale_lock_says_run_uv_lock(project):
    pyproject = project / "pyproject.toml"
    pyproject.write_text(pyproject.read_text().replace("0.1.0", "0.2.0"))
    verdict = check_lock(project)
    assert verdict.status == "stale"
    assert "run `uv lock`" in verdict.detail


@needs_uv
def test_a_check_that_needs_the_network_is_unchecked_not_stale(project):
    (project / "pyproject.toml").write_text(PYPROJECT.format(deps='"surely-not-cached-pkg"'))
    verdict = check_lock(project)
    assert verdict.status == "unchecked"
    assert "could not decide" in verdict.detail


def test_without_uv_nothing_is_checked(tmp_path, monkeypatch):
    monkeypatch.setattr(shutil, "which", lambda _name: None)
    verdict = start_lock_check(tmp_path)()
    assert verdict.status == "unchecked"
    assert "not on PATH" in verdict.detail
