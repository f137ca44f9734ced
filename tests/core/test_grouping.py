"""Heavy/light split: patterns, threshold, exclusions, and what may live in the base."""

from __future__ import annotations

import re

import pytest

from tests.paths import CORPUS
from uvbuild import planner
from uvbuild.core import grouping
from uvbuild.core.model import Artifact, LockedPackage, SelectedPackage, Source

PYPI = Source("registry", "https://pypi.org/simple")
MB = 1_000_000


def pkg(name, *, size=2 * MB, source=PYPI, wheel=True, version="1.0"):
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
        "flash-attn-3",
        "flashinfer-python",
        "flashinfer-cubin",
        "flashinfer-jit-cache",
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


# -- heavy-min-size: a name pattern takes a package only when its wheel is large -----------

KB = 1000
PYTORCH_TEST = Source("registry", "https://download.pytorch.org/whl/test/cu128")


def test_name_patterns_leave_small_wheels_light():
    selected = [
        pkg("nvidia-ml-py", size=50 * KB),
        pkg("cuda-toolkit", size=2 * KB),
        pkg("nvidia-cudnn-frontend", size=700 * KB),
        pkg("nvidia-cutlass-dsl", size=400 * KB),
        pkg("nvidia-cublas-cu12", size=594 * MB),
        pkg("torch", size=None, source=PYTORCH_TEST),
    ]
    split, notes = grouping.split(selected, patterns=grouping.heavy_patterns())
    assert names(split.heavy) == ["nvidia-cublas-cu12", "torch"]
    assert [s.name for s in split.light] == [
        "cuda-toolkit",
        "nvidia-cudnn-frontend",
        "nvidia-cutlass-dsl",
        "nvidia-ml-py",
    ]
    (note,) = [n for n in notes if "heavy-min-size" in n]
    assert note.startswith("cuda-toolkit, nvidia-cudnn-frontend, nvidia-cutlass-dsl, nvidia-ml-py")
    assert "1,000,000 bytes" in note and "`heavy`" in note


def test_heavy_reason_names_the_pattern_and_the_size():
    selected = [pkg("nvidia-cublas-cu12", size=594 * MB), pkg("torch", size=None)]
    split, _ = grouping.split(selected, patterns=grouping.heavy_patterns())
    reasons = {c.selected.name: c.reason for c in split.heavy}
    assert reasons["nvidia-cublas-cu12"] == "matches nvidia-*"
    assert reasons["torch"] == "matches torch, size unknown"


def test_heavy_min_size_is_inclusive_and_zero_turns_it_off():
    selected = [pkg("nvidia-a", size=MB), pkg("nvidia-b", size=MB - 1), pkg("nvidia-c", size=0)]
    split, _ = grouping.split(selected, patterns=grouping.heavy_patterns())
    assert names(split.heavy) == ["nvidia-a"]
    split, notes = grouping.split(selected, patterns=grouping.heavy_patterns(), min_size=0)
    assert names(split.heavy) == ["nvidia-a", "nvidia-b", "nvidia-c"]
    assert not any("heavy-min-size" in n for n in notes)


def test_threshold_still_applies_when_heavy_min_size_is_above_it():
    selected = [pkg("nvidia-big", size=60 * MB), pkg("nvidia-mid", size=20 * MB)]
    split, _ = grouping.split(
        selected, patterns=grouping.heavy_patterns(), min_size=100 * MB, threshold=50 * MB
    )
    assert names(split.heavy) == ["nvidia-big"]
    assert "threshold" in split.heavy[0].reason


def test_user_names_force_heavy_at_any_size_and_user_globs_obey_the_size():
    named = grouping.named_packages(["Tiny_Pkg", "my-models-*"], only=None)
    assert named == {"tiny-pkg": "heavy"}
    assert grouping.named_packages([], only=["torch", "nvidia-*"]) == {"torch": "heavy-only"}
    selected = [pkg("tiny-pkg", size=3 * KB), pkg("my-models-small", size=3 * KB), pkg("x")]
    patterns = grouping.heavy_patterns(["Tiny_Pkg", "my-models-*"])
    split, _ = grouping.split(selected, patterns=patterns, named=named)
    assert names(split.heavy) == ["tiny-pkg"]
    assert split.heavy[0].reason == "named in heavy"
    # exclusion still wins
    split, _ = grouping.split(selected, patterns=patterns, named=named, exclude=["tiny-pkg"])
    assert names(split.heavy) == []


def test_a_default_exact_name_is_a_pattern_not_a_forced_name():
    # cuda-toolkit is a default entry without glob characters: it obeys heavy-min-size.
    assert grouping.named_packages() == {}
    split, _ = grouping.split([pkg("cuda-toolkit", size=2 * KB)])
    assert names(split.heavy) == []


def test_light_wheel_of_unknown_size_from_another_index_gets_a_note():
    selected = [
        pkg("flash-attn-3", size=None, source=PYTORCH_TEST, version="3.0.0b1"),
        pkg("mystery", size=None, source=PYTORCH_TEST),
        pkg("pypi-nosize", size=None),  # the default index: no note
        pkg("from-sdist", source=PYTORCH_TEST, wheel=False),  # no wheel at all: no note
        pkg("hidden", size=None, source=PYTORCH_TEST),
    ]
    split, notes = grouping.split(selected, patterns=grouping.heavy_patterns(), exclude=["hidden"])
    assert names(split.heavy) == ["flash-attn-3"]  # flash-attn* of unknown size: heavy
    unknown = [n for n in notes if "size unknown" in n]
    assert unknown == [
        "mystery (from https://download.pytorch.org/whl/test/cu128) is light, size unknown: "
        "add it to `heavy` if it is large"
    ]
    # an index that is the project's default one is not "another index"
    _, notes = grouping.split(selected, default_index=PYTORCH_TEST.location + "/")
    assert [n.split(" ")[0] for n in notes if "size unknown" in n] == ["pypi-nosize"]


def test_many_light_wheels_of_unknown_size_are_cut_to_a_few_notes():
    selected = [pkg(f"private-{i}", size=None, source=PYTORCH_TEST) for i in range(8)]
    _, notes = grouping.split(selected)
    assert len(notes) == 6
    assert notes[-1].startswith("and 3 more light packages of unknown size")


def test_flash_attention_and_flashinfer_go_to_the_frameworks_layer():
    selected = [
        pkg("torch", size=800 * MB),
        pkg("nvidia-cublas-cu12", size=600 * MB),
        pkg("flash-attn-3", size=None),
        pkg("flashinfer-cubin", size=None),
    ]
    split, _ = grouping.split(selected)
    groups, _ = grouping.layer_groups(split.heavy)
    assert layout(groups) == [
        ("cuda", ["nvidia-cublas-cu12"]),
        ("frameworks", ["flash-attn-3", "flashinfer-cubin", "torch"]),
    ]


# -- the corpus: real locks, every torch/CUDA stack -------------------------------------------

# (project, plan flags) pairs: the default selection of each project, and both torch
# stacks of the project whose CUDA build is an extra
SELECTIONS = [(name, {}) for name in sorted(p.name for p in CORPUS.glob("*") if p.is_dir())] + [
    ("karpathy__nanochat", {"extras": ("gpu",)}),
    ("karpathy__nanochat", {"extras": ("cpu",)}),
]
TORCH_OR_CUDA = re.compile(
    r"^(nvidia-.*|cuda-.*|torch|torchvision|torchaudio|triton|pytorch-triton.*|xformers|"
    r"flash-attn.*|flashinfer.*|jax-cuda.*|jaxlib)$"
)


@pytest.mark.skipif(not CORPUS.is_dir(), reason=f"no uv.lock corpus at {CORPUS}")
@pytest.mark.parametrize(
    ("name", "flags"),
    SELECTIONS,
    ids=[f"{n}-{'-'.join(f.get('extras', ())) or 'default'}" for n, f in SELECTIONS],
)
def test_corpus_heavy_is_large_and_every_large_gpu_wheel_is_heavy(name, flags):
    plan = planner.make_plan(CORPUS / name, {"platform": "linux/amd64", **flags})
    small = [(c.selected.name, c.selected.size) for c in plan.grouping.heavy]
    small = [(n, size) for n, size in small if size is not None and size < MB]
    assert small == [], f"under 1 MB in the base: {small}"
    for group in plan.layers:
        assert all((c.selected.size or MB) >= MB for c in group.packages), group.name
    left_light = [
        s.name
        for s in plan.light
        if TORCH_OR_CUDA.match(s.name)
        and s.wheel is not None
        and s.package.source.kind == "registry"
        and (s.size is None or s.size >= MB)
    ]
    assert left_light == [], f"torch/CUDA wheels of 1 MB or more left light: {left_light}"


# -- layer groups ---------------------------------------------------------------------------


def heavy(*packages):
    return tuple(grouping.HeavyChoice(p, "test") for p in packages)


def layout(groups):
    return [(g.name, names(g.packages)) for g in groups]


GPU = heavy(
    pkg("torch", size=800 * MB),
    pkg("nvidia-cublas-cu12", size=600 * MB),
    pkg("triton", size=150 * MB),
    pkg("nvidia-cudnn-cu12", size=700 * MB),
    pkg("cuda-bindings", size=10 * MB),
    pkg("opencv-python-headless", size=50 * MB),
)


def test_default_layout_separates_cuda_from_the_frameworks():
    groups, notes = grouping.layer_groups(GPU)
    assert layout(groups) == [
        ("cuda", ["cuda-bindings", "nvidia-cublas-cu12", "nvidia-cudnn-cu12"]),
        ("frameworks", ["torch", "triton"]),
        ("other", ["opencv-python-headless"]),
    ]
    assert groups[0].patterns == grouping.DEFAULT_LAYERS[0][1]
    assert groups[-1].patterns == ()
    assert groups[0].size == 1310 * MB
    assert notes == ()


@pytest.mark.parametrize(
    "name",
    ["nvidia-nccl-cu12", "cuda-toolkit", "cuda-pathfinder", "tensorrt-cu12-libs"],
)
def test_default_cuda_group(name):
    groups, _ = grouping.layer_groups(heavy(pkg(name), pkg("torch")))
    assert layout(groups)[0] == ("cuda", [name])


@pytest.mark.parametrize(
    "name",
    ["torchvision", "pytorch-triton-rocm", "xformers", "jax-cuda12-plugin", "jaxlib",
     "tensorflow", "cupy-cuda12x", "torch-tensorrt", "vllm", "flash-attn", "flash-attn-3",
     "flashinfer-python"],
)  # fmt: skip
def test_default_frameworks_group(name):
    groups, _ = grouping.layer_groups(heavy(pkg(name), pkg("nvidia-cublas-cu12")))
    assert layout(groups)[1] == ("frameworks", [name])


def test_configured_layout_first_match_wins_and_order_is_the_tables():
    table = [("torch", ["torch*", "triton"]), ("cuda", ["nvidia-*", "cuda_*", "torch"])]
    groups, _ = grouping.layer_groups(GPU, layout=table)
    assert layout(groups) == [
        ("torch", ["torch", "triton"]),
        ("cuda", ["cuda-bindings", "nvidia-cublas-cu12", "nvidia-cudnn-cu12"]),
        ("other", ["opencv-python-headless"]),
    ]


def test_empty_groups_are_left_out():
    table = [("jax", ["jax*"]), ("cuda", ["nvidia-*", "cuda-*"]), ("rest", ["*"])]
    groups, _ = grouping.layer_groups(GPU, layout=table)
    assert [g.name for g in groups] == ["cuda", "rest"]


def test_one_group_or_single_mode_is_one_layer():
    assert grouping.layer_groups(GPU, mode="single") == ((), ())
    assert grouping.layer_groups(heavy(pkg("torch"), pkg("triton"))) == ((), ())
    assert grouping.layer_groups(()) == ((), ())
    groups, _ = grouping.layer_groups(GPU, layout=[("all", ["*"])])
    assert groups == ()


def test_groups_mode_notes_a_group_over_the_limit():
    groups, notes = grouping.layer_groups(GPU, limit=1000 * MB)
    assert len(groups) == 3
    assert len(notes) == 1
    assert notes[0].startswith("layer cuda holds 1,310,000,000 bytes")
    assert "auto" in notes[0]


def test_auto_splits_groups_over_the_limit_in_name_order():
    groups, notes = grouping.layer_groups(GPU, mode="auto", limit=1000 * MB)
    assert layout(groups) == [
        ("cuda-1", ["cuda-bindings", "nvidia-cublas-cu12"]),
        ("cuda-2", ["nvidia-cudnn-cu12"]),
        ("frameworks", ["torch", "triton"]),
        ("other", ["opencv-python-headless"]),
    ]
    assert [g.part for g in groups] == [1, 2, None, None]
    assert all(g.size <= 1000 * MB for g in groups)
    assert notes == ()


def test_auto_gives_a_package_over_the_limit_its_own_layer():
    groups, notes = grouping.layer_groups(GPU, mode="auto", limit=700 * MB)
    assert layout(groups) == [
        ("cuda-1", ["cuda-bindings", "nvidia-cublas-cu12"]),
        ("cuda-2", ["nvidia-cudnn-cu12"]),
        ("frameworks-1", ["torch"]),
        ("frameworks-2", ["triton"]),
        ("other", ["opencv-python-headless"]),
    ]
    assert notes == (
        "torch alone is 800,000,000 bytes, more than the layer-limit 700,000,000: "
        "it gets a layer of its own",
    )


def test_auto_puts_a_package_of_unknown_size_alone():
    packages = heavy(pkg("nvidia-a", size=MB), pkg("nvidia-b", size=None), pkg("nvidia-c"))
    groups, notes = grouping.layer_groups(packages, mode="auto")
    assert layout(groups) == [
        ("cuda-1", ["nvidia-a"]),
        ("cuda-2", ["nvidia-b"]),
        ("cuda-3", ["nvidia-c"]),
    ]
    assert notes == (
        "size unknown for 1 heavy package(s): in auto mode each gets a layer of its own",
    )


def test_auto_part_names_avoid_configured_names():
    table = [("cuda", ["nvidia-*"]), ("cuda-1", ["torch"])]
    packages = heavy(pkg("nvidia-a", size=600 * MB), pkg("nvidia-b", size=600 * MB), pkg("torch"))
    groups, _ = grouping.layer_groups(packages, mode="auto", layout=table, limit=1000 * MB)
    assert [g.name for g in groups] == ["cuda-part1", "cuda-2", "cuda-1"]


def test_auto_is_stable_when_one_package_grows():
    sizes = {"nvidia-a": 400, "nvidia-b": 400, "nvidia-c": 400, "nvidia-d": 400, "nvidia-e": 400}

    def parts(**grown):
        packages = heavy(
            *(pkg(n, size=grown.get(n.replace("-", "_"), s) * MB) for n, s in sizes.items())
        )
        groups, _ = grouping.layer_groups(packages, mode="auto", limit=1000 * MB)
        return layout(groups)

    before = parts()
    assert before == [
        ("cuda-1", ["nvidia-a", "nvidia-b"]),
        ("cuda-2", ["nvidia-c", "nvidia-d"]),
        ("cuda-3", ["nvidia-e"]),
    ]
    # nvidia-e growing moves nothing before it
    assert parts(nvidia_e=900)[:2] == before[:2]


def test_layer_groups_are_deterministic():
    shuffled = tuple(reversed(GPU))
    assert grouping.layer_groups(shuffled) == grouping.layer_groups(GPU)
    auto = grouping.layer_groups(shuffled, mode="auto", limit=MB)
    assert auto == grouping.layer_groups(GPU, mode="auto", limit=MB)
