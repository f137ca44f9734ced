"""Heavy/light split: patterns, threshold, exclusions, and what may live in the base."""

from __future__ import annotations

import pytest

from uvbuild import grouping
from uvbuild.model import Artifact, LockedPackage, SelectedPackage, Source

PYPI = Source("registry", "https://pypi.org/simple")
MB = 1_000_000


def pkg(name, *, size=1000, source=PYPI, wheel=True, version="1.0"):
    package = LockedPackage(name=name, version=version, source=source)
    artifact = Artifact(f"{name.replace('-', '_')}-{version}-py3-none-any.whl", size=size)
    return SelectedPackage(package, artifact if wheel else None, from_sdist=not wheel)


def names(items):
    return [c.selected.name for c in items]


@pytest.mark.parametrize(
    "name",
    [
        "torch",
        "torchvision",
        "torchaudio",
        "triton",
        "pytorch-triton-rocm",
        "xformers",
        "flash-attn",
        "nvidia-cublas-cu12",
        "nvidia-cudnn-cu11",
        "nvidia-nccl-cu13",
        "nvidia-cublas",
        "nvidia-cuda-runtime",
        "cuda-toolkit",
        "cuda-bindings",
        "tensorrt",
        "tensorrt-cu12-libs",
        "torch-tensorrt",
        "jax-cuda12-plugin",
        "jax-cuda12-pjrt",
        "jaxlib",
        "tensorflow",
        "tensorflow-cpu",
        "onnxruntime-gpu",
        "cupy-cuda12x",
        "bitsandbytes",
        "deepspeed",
        "vllm",
        "opencv-python-headless",
    ],
)
def test_default_patterns_cover_the_gpu_stacks(name):
    patterns = grouping.heavy_patterns()
    assert grouping.matching_pattern(name, patterns) is not None


@pytest.mark.parametrize("name", ["filelock", "sympy", "jinja2", "numpy", "torchmetrics", "jax"])
def test_default_patterns_leave_ordinary_packages_light(name):
    assert grouping.matching_pattern(name, grouping.heavy_patterns()) is None


def test_heavy_extends_and_heavy_only_replaces():
    assert "my-big-model" in grouping.heavy_patterns(["My_Big.Model"])
    only = grouping.heavy_patterns(only=["torch"])
    assert only == ("torch",)
    assert grouping.heavy_patterns(["x"], only=["torch"]) == ("torch", "x")


def test_threshold_makes_large_wheels_heavy_and_unknown_sizes_do_not():
    selected = [pkg("big", size=60 * MB), pkg("small", size=49 * MB), pkg("nosize", size=None)]
    split, notes = grouping.split(selected, patterns=(), threshold=50 * MB)
    assert names(split.heavy) == ["big"]
    assert "threshold" in split.heavy[0].reason
    assert [s.name for s in split.light] == ["nosize", "small"]
    assert notes == ()


def test_exclude_wins_over_patterns_and_size():
    selected = [pkg("torch", size=900 * MB), pkg("nvidia-nccl-cu12", size=200 * MB)]
    split, _ = grouping.split(
        selected, patterns=grouping.heavy_patterns(), exclude=["nvidia-*"], threshold=50 * MB
    )
    assert names(split.heavy) == ["torch"]
    assert [s.name for s in split.light] == ["nvidia-nccl-cu12"]


def test_heavy_packages_are_taken_without_their_dependencies():
    selected = [pkg("torch", size=800 * MB), pkg("filelock"), pkg("sympy"), pkg("jinja2")]
    split, _ = grouping.split(selected, patterns=grouping.heavy_patterns())
    assert names(split.heavy) == ["torch"]
    assert sorted(s.name for s in split.light) == ["filelock", "jinja2", "sympy"]


def test_only_index_installs_can_live_in_the_base():
    git = Source("git", "https://github.com/x/flash-attention", commit="a" * 40)
    selected = [
        pkg("flash-attn", source=git, size=None),
        pkg("xformers", wheel=False),
        pkg("torch", size=800 * MB),
    ]
    split, notes = grouping.split(selected, patterns=grouping.heavy_patterns())
    assert names(split.heavy) == ["torch"]
    assert {s.name for s in split.light} == {"flash-attn", "xformers"}
    assert any("flash-attn" in n and "git source" in n for n in notes)
    assert any("xformers" in n and "sdist" in n for n in notes)


def test_split_is_sorted_and_stable():
    selected = [pkg("triton"), pkg("torch"), pkg("b"), pkg("a")]
    split, _ = grouping.split(list(reversed(selected)), patterns=grouping.heavy_patterns())
    assert names(split.heavy) == ["torch", "triton"]
    assert [s.name for s in split.light] == ["a", "b"]
