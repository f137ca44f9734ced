"""uvbuild.core.render.requirements: the heavy requirement files and the epochs of their layers."""

from __future__ import annotations

from dataclasses import replace

from tests.core.plans import PYPI, TORCH_INDEX, pooled_plan, registry_package, with_heavy
from uvbuild.core import render
from uvbuild.core.model import (
    SelectedPackage,
)
from uvbuild.core.render import requirements


def test_heavy_files_one_per_index(two_indexes):
    files = requirements.heavy_files(two_indexes)
    assert [(f.name, f.index, f.hashed) for f in files] == [
        ("heavy-1.txt", TORCH_INDEX, False),
        ("heavy-2.txt", PYPI, True),
    ]
    assert files[0].text == "torch==2.7.1+cu128\n"
    assert files[1].text == ("nvidia-cublas-cu12==12.8.4.1 --hash=sha256:" + "2" * 64 + "\n")


def test_heavy_files_sorted_and_pinned(two_indexes):
    plan = with_heavy(
        two_indexes,
        registry_package("zeta", "2.0", PYPI, "sha256:bb"),
        registry_package("alpha", "1.0", PYPI, "sha256:aa"),
    )
    (only,) = requirements.heavy_files(plan)
    assert only.hashed
    assert only.text == "alpha==1.0 --hash=sha256:aa\nzeta==2.0 --hash=sha256:bb\n"


def test_one_missing_hash_drops_hashes_for_the_whole_file(two_indexes):
    plan = with_heavy(
        two_indexes,
        registry_package("alpha", "1.0", PYPI, "sha256:aa"),
        registry_package("beta", "1.0", PYPI, None),
        registry_package("gamma", "3.0", TORCH_INDEX, "sha256:cc"),
    )
    files = requirements.heavy_files(plan)
    by_index = {f.index: f for f in files}
    assert not by_index[PYPI].hashed
    assert by_index[PYPI].text == "alpha==1.0\nbeta==1.0\n"
    assert by_index[TORCH_INDEX].hashed
    text = render.dockerfile(plan)
    assert text.count("--require-hashes") == 1


def test_no_heavy_packages_only_creates_the_venv(workspace):
    assert requirements.heavy_files(workspace) == ()
    text = render.dockerfile(workspace)
    assert "uv pip install" not in text
    assert "uv venv /opt/venv" in text


def test_heavy_files_one_per_group_and_index(layered):
    files = requirements.heavy_files(layered)
    assert [(f.name, f.index, f.hashed, f.layer) for f in files] == [
        ("layer-cuda-1.txt", PYPI, True, "cuda"),
        ("layer-frameworks-1.txt", TORCH_INDEX, False, "frameworks"),
    ]


def _timed(selected: SelectedPackage, upload_time: str | None) -> SelectedPackage:
    assert selected.wheel is not None
    return replace(selected, wheel=replace(selected.wheel, upload_time=upload_time))


def test_upload_epoch_is_the_newest_upload_time_or_zero():
    a = registry_package("a", "1", PYPI, "sha256:" + "1" * 64)
    b = registry_package("b", "1", PYPI, "sha256:" + "2" * 64)
    assert requirements.upload_epoch([]) == 0
    older, newer = "2024-01-01T00:00:00.000000Z", "2024-01-02T00:00:01Z"
    assert requirements.upload_epoch([_timed(a, older), _timed(b, newer)]) == 1704153601
    assert requirements.upload_epoch([_timed(a, older)]) == 1704067200
    # one wheel without an upload time (the PyTorch index records none): 0, not a guess
    assert requirements.upload_epoch([_timed(a, newer), _timed(b, None)]) == 0
    assert requirements.upload_epoch([_timed(a, "yesterday")]) == 0


def test_layer_files_are_a_groups_share_of_every_file(layered):
    """A layer stage reads its own group's files, the ones the build writes for it."""
    for plan in (layered, pooled_plan()):
        every = requirements.requirement_files(plan)
        for group in (*plan.layers, *plan.light_layers):
            assert requirements.layer_files(group) == tuple(
                f for f in every if f.layer == group.name
            )
    assert layered.layers and pooled_plan().light_layers  # neither loop is empty
