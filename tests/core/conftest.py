"""Plans of the fixture projects, shared by the render, requirements and credentials tests."""

from __future__ import annotations

from dataclasses import replace

import pytest

from tests.core.plans import FLAGS, TORCH_INDEX
from tests.paths import FIXTURES
from uvbuild import planner


@pytest.fixture(scope="module")
def layered():
    """torch from the PyTorch index (no hashes), nvidia-cublas-cu12 from PyPI (hashed):
    the default layout puts them in two layer groups, cuda and frameworks."""
    return planner.make_plan(FIXTURES / "two_indexes", FLAGS)


@pytest.fixture(scope="module")
def two_indexes():
    """The same lock with layer-mode "single": one heavy layer, one file per index."""
    return planner.make_plan(FIXTURES / "two_indexes", {**FLAGS, "layer_mode": "single"})


@pytest.fixture(scope="module")
def workspace():
    return planner.make_plan(FIXTURES / "virtual_workspace", FLAGS)


@pytest.fixture(scope="module")
def private():
    """two_indexes with the PyTorch index named "pytorch" in index-credentials."""
    base = planner.make_plan(FIXTURES / "two_indexes", {**FLAGS, "layer_mode": "single"})
    return replace(
        base,
        config=replace(base.config, index_credentials=("pytorch",)),
        credential_indexes=(("pytorch", TORCH_INDEX),),
    )
