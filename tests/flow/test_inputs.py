"""uvbuild.flow.inputs: the disk a base build needs, and when the engine's storage is short."""

from __future__ import annotations

import pytest

from uvbuild.docker.facts.values import Storage
from uvbuild.flow.inputs import (
    CACHE_FACTOR,
    LAYER_FACTOR,
    UNKNOWN_WHEEL_BYTES,
    base_disk_estimate,
    disk_shortfall,
    plan_disk_estimate,
)

# -- disk -------------------------------------------------------------------------------------


FACTOR = LAYER_FACTOR + CACHE_FACTOR


def test_disk_estimate_of_known_sizes():
    estimate = base_disk_estimate([1_000_000_000, 500_000_000])
    assert estimate.wheel_bytes == 1_500_000_000
    assert estimate.unknown == 0
    assert estimate.expected == round(1_500_000_000 * FACTOR)
    assert "1.5 GB of heavy wheels" in estimate.describe()


def test_disk_estimate_counts_unknown_sizes():
    estimate = base_disk_estimate([100, None, None])
    assert estimate.unknown == 2
    assert estimate.wheel_bytes == 100
    assert estimate.expected == round((100 + 2 * UNKNOWN_WHEEL_BYTES) * FACTOR)
    assert "2 of unknown size" in estimate.describe()


def test_disk_estimate_of_nothing():
    assert base_disk_estimate([]).expected == 0


def test_plan_disk_estimate_uses_the_heavy_wheels(plan):
    estimate = plan_disk_estimate(plan)
    sizes = [selected.size for selected in plan.heavy]
    assert estimate == base_disk_estimate(sizes)
    # torch comes from the PyTorch index, which records no size.
    assert estimate.unknown == sum(1 for size in sizes if size is None) >= 1


@pytest.mark.parametrize(
    ("free", "short"),
    [(None, False), (10**15, False), (0, True), (round(1000 * FACTOR) - 1, True)],
)
def test_disk_shortfall(free, short):
    estimate = base_disk_estimate([1000])
    warning = disk_shortfall(estimate, Storage("/var/lib/docker", free, "remote"))
    assert (warning is not None) is short
    if short:
        assert "/var/lib/docker has" in warning and "docker builder prune" in warning
