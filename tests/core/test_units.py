"""uvbuild.core.units: sizes as the plan shows them."""

from __future__ import annotations

import pytest

from uvbuild.core.units import size_total


@pytest.mark.parametrize(
    ("known", "unknown", "text"),
    [
        (3_100_000_000, 0, "3.1 GB"),
        (3_100_000_000, 4, "3.1 GB + 4 of unknown size"),
        (0, 2, "2 of unknown size"),
        (0, 0, "0 B"),
    ],
)
def test_size_total_counts_unknown_sizes_visibly(known, unknown, text):
    assert size_total(known, unknown) == text
