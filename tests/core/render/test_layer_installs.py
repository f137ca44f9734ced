"""uvbuild.core.render.layer_installs: a layer's ``uv pip install`` and the files it added."""

from __future__ import annotations

import subprocess
from pathlib import Path

from tests.core.plans import PYPI, TORCH_INDEX
from uvbuild.core import render
from uvbuild.core.render import layer_installs


def test_require_hashes_only_for_a_hashed_file(two_indexes):
    text = render.dockerfile(two_indexes)
    install = [line for line in text.splitlines() if "uv pip install" in line]
    assert len(install) == 2
    torch_line, pypi_line = install
    assert "--require-hashes" not in torch_line and f"--index-url {TORCH_INDEX}" in torch_line
    assert "--require-hashes" in pypi_line and f"--index-url {PYPI}" in pypi_line
    assert all("--no-deps" in line for line in install)


def run_new_tops(tmp_path: Path, before: list[str], after: list[str]) -> set[str]:
    """Run the layer stage's gathering step on a fake venv in tmp_path."""

    venv, layer = tmp_path / "venv", tmp_path / "layer"
    listing = tmp_path / "before"

    def make(paths):
        for rel in paths:
            path = venv / rel
            if rel.endswith("/"):
                path.mkdir(parents=True, exist_ok=True)
            else:
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(rel)

    make(before)
    subprocess.run(f"cd {venv} && find . > {listing}", shell=True, check=True)
    make(after)
    layer.mkdir()
    script = layer_installs.move_added_files(str(layer)).replace(
        layer_installs.VENV_BEFORE, str(listing)
    )
    subprocess.run(["sh", "-c", f"cd {venv} && {script}"], check=True)
    moved = {str(p.relative_to(layer)) for p in layer.rglob("*") if p.is_file()}
    kept = {str(p.relative_to(venv)) for p in venv.rglob("*") if p.is_file()}
    assert not moved & kept
    assert kept == {p for p in before if not p.endswith("/")}
    return moved


def test_layer_stage_gathers_exactly_what_the_install_added(tmp_path):
    site = "lib/python3.11/site-packages"
    before = ["pyvenv.cfg", "bin/python", "bin/activate", f"{site}/", ".gitignore"]
    added = [
        f"{site}/torch/__init__.py",
        f"{site}/torch/lib/libtorch.so",
        f"{site}/torch/__pycache__/__init__.cpython-311.pyc",
        f"{site}/torch-2.0.dist-info/RECORD",
        f"{site}/torch-x/a.py",  # sorts between torch and torch/ in C order
        f"{site}/__pycache__/six.cpython-311.pyc",
        f"{site}/nvidia/cublas/lib/libcublas.so",
        "bin/torchrun",
        "bin/name with space",
        "share/man/man1/torch.1",
    ]
    assert run_new_tops(tmp_path, before, added) == set(added)
