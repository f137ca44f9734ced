"""The rendered Dockerfile and ``plan --json`` of every corpus project stay byte-identical.

The digests in ``tests/golden/corpus_outputs.json`` were captured before the package was
restructured (issue 10); a refactoring that changes any byte of a generated Dockerfile or
plan document fails here. A deliberate change of the output rewrites them:
``UVBUILD_UPDATE_GOLDEN=1 python -m pytest tests/test_outputs_stable.py``.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import pytest

from tests.paths import CORPUS, GOLDEN
from uvbuild import __version__, planner
from uvbuild.core import render

DIGESTS = GOLDEN / "corpus_outputs.json"
BASE_FLAGS = {
    "platform": "linux/amd64",
    "base_image": "python:3.11-slim-bookworm",
    "uv_image": "ghcr.io/astral-sh/uv:0.13.9",
}
VARIANTS = {
    "default": {},
    "auto": {"layer_mode": "auto", "layer_limit": "1GB"},
    "single": {"layer_mode": "single", "compile_bytecode": False},
    "arm64": {"platform": "linux/arm64", "glibc": "2.36"},
}
PROJECTS = sorted(p.name for p in CORPUS.glob("*") if (p / "uv.lock").is_file())


def outputs(project: Path, flags: dict[str, object]) -> dict[str, str]:
    """The two outputs of one plan, with what differs between machines taken out."""
    plan = planner.make_plan(project, {**BASE_FLAGS, **flags})
    text = json.dumps(plan.to_dict(), indent=2, sort_keys=False)
    text = text.replace(str(project.resolve()), "<project>")
    dockerfile = render.dockerfile(plan).replace(f"uvbuild {__version__} ", "uvbuild <version> ")
    # a project without a name (a virtual workspace root) is named by its directory
    dockerfile = dockerfile.replace(str(project.resolve()), "<project>")
    return {"plan": text, "dockerfile": dockerfile}


def digests(project: Path, flags: dict[str, object]) -> dict[str, str]:
    return {
        name: hashlib.sha256(text.encode()).hexdigest()
        for name, text in outputs(project, flags).items()
    }


def _recorded() -> dict[str, dict[str, str]]:
    return json.loads(DIGESTS.read_text()) if DIGESTS.is_file() else {}


def test_update_digests():
    """With UVBUILD_UPDATE_GOLDEN=1 (re)write the digests of every project and variant."""
    if os.environ.get("UVBUILD_UPDATE_GOLDEN") != "1":
        pytest.skip("writes the digests only with UVBUILD_UPDATE_GOLDEN=1")
    if not PROJECTS:
        pytest.fail(f"no corpus at {CORPUS}")
    document = {
        f"{name}/{variant}": digests(CORPUS / name, flags)
        for name in PROJECTS
        for variant, flags in VARIANTS.items()
    }
    DIGESTS.write_text(json.dumps(document, indent=1, sort_keys=True) + "\n")


@pytest.mark.skipif(not PROJECTS, reason=f"no uv.lock corpus at {CORPUS} (set UVBUILD_CORPUS)")
@pytest.mark.parametrize("variant", sorted(VARIANTS))
@pytest.mark.parametrize("name", PROJECTS)
def test_outputs_unchanged(name, variant):
    if os.environ.get("UVBUILD_UPDATE_GOLDEN") == "1":
        pytest.skip("digests are being rewritten")
    expected = _recorded().get(f"{name}/{variant}")
    assert expected is not None, f"no digest for {name}/{variant}; UVBUILD_UPDATE_GOLDEN=1"
    assert digests(CORPUS / name, VARIANTS[variant]) == expected
