"""Where the tests find the repository, the fixture projects, the golden files and the corpus."""

from __future__ import annotations

import os
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
FIXTURES = REPO / "tests" / "fixtures"
GOLDEN = REPO / "tests" / "golden"
# Real uv.lock files from public projects, beside the repository (../shared/corpus) or where
# UVBUILD_CORPUS points.
CORPUS = Path(os.environ.get("UVBUILD_CORPUS") or REPO.parent / "shared" / "corpus")
