"""Locks and selections the selection tests share: the fixtures, the corpus, two targets."""

from __future__ import annotations

import pytest
import tomllib

from tests.paths import CORPUS, FIXTURES
from uvbuild.core.lock import parse_lock
from uvbuild.core.model import Lock, SelectedPackage, Target

AMD64 = Target(platform="linux/amd64", python="3.11", glibc=(2, 28))
ARM64 = Target(platform="linux/arm64", python="3.11", glibc=(2, 28))


def fixture(case: str) -> Lock:
    with open(FIXTURES / case / "uv.lock", "rb") as f:
        return parse_lock(tomllib.load(f))


def corpus(case: str) -> Lock:
    path = CORPUS / case / "uv.lock"
    if not path.exists():
        pytest.skip(f"no {case} in the uv.lock corpus at {CORPUS} (set UVBUILD_CORPUS)")
    return parse_lock(tomllib.loads(path.read_text()), str(path))


def names(selection: tuple[SelectedPackage, ...]) -> dict[str, str | None]:
    return {s.name: s.version for s in selection}


def by_name(selection: tuple[SelectedPackage, ...], name: str) -> SelectedPackage:
    (found,) = [s for s in selection if s.name == name]
    return found
