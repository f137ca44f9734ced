"""The projects the CLI tests run on (a copy of a fixture, the uv.lock corpus), and an engine
factory that must not be called."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from tests.paths import FIXTURES, REPO


def copy_project(tmp_path: Path) -> Path:
    target = tmp_path / "proj"
    shutil.copytree(FIXTURES / "empty_extra", target)
    return target


def append_config(project: Path, text: str) -> None:
    with (project / "pyproject.toml").open("a", encoding="utf-8") as fh:
        fh.write(f"\n[tool.uvbuild]\n{text}\n")


def no_lock(p: Path) -> None:
    (p / "uv.lock").unlink()


def no_engine(**_settings):
    raise AssertionError("docker was called")


def corpus_dir() -> Path:
    return Path(os.environ.get("UVBUILD_CORPUS") or REPO.parent / "shared" / "corpus")
