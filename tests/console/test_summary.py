"""uvbuild.console.summary: each image layer named by what it holds; a layer group described
by its packages."""

from __future__ import annotations

import re
from types import SimpleNamespace

from tests.console.fakes import FakeResult
from tests.paths import FIXTURES
from uvbuild import planner
from uvbuild.console.summary import describe_packages, layer_names
from uvbuild.console.terminal import Terminal
from uvbuild.core.render import app_stages, heavy_stages

# -- layer names in the build summary -----------------------------------------------------


def fixture_plan(**flags):
    return planner.make_plan(
        FIXTURES / "two_indexes", {"platform": "linux/amd64", "python": "3.11", **flags}
    )


def history_of(stage: str) -> list[str]:
    """What BuildKit records as "created by" for each layer-making instruction of a
    rendered stage: ``RUN /bin/sh -c <command>`` without its mounts, ``COPY <src> <dst>
    # buildkit`` without --link/--from."""
    steps = []
    for instruction in re.sub(r"\\\n\s*", " ", stage).splitlines():
        word, _, rest = instruction.partition(" ")
        flags = r"^(?:--\S+\s+)*"
        if word == "RUN":
            steps.append("RUN /bin/sh -c " + re.sub(flags, "", rest))
        elif word in ("COPY", "WORKDIR"):
            steps.append(f"{word} {re.sub(flags, '', rest)} # buildkit")
    return steps


def image_history(plan) -> list[tuple[str, bool]]:
    base = ["ADD rootfs.tar.xz / # buildkit", "RUN /bin/sh -c apt-get update # buildkit"]
    base += history_of(heavy_stages.base_stage(plan))
    app = history_of(app_stages.deps_stage(plan) + "\n" + app_stages.app_stage(plan))
    return [(step, True) for step in base] + [(step, False) for step in app]


def test_layer_names_with_layer_groups():
    plan = fixture_plan()
    assert [g.name for g in plan.layers] == ["cuda", "frameworks"]
    assert layer_names(plan, image_history(plan)) == [
        "base image",
        "base image",
        "uv",
        "python 3.11, where the image has none",
        "venv",
        "cuda: nvidia-cublas-cu12 12.8.4.1",
        "frameworks: torch 2.7.1+cu128",
        "WORKDIR /app",
        "deps: pyproject.toml, uv.lock",
        "deps: 1 light packages",
        "app: source",
        "app: gpuapp",
    ]


def test_layer_names_with_light_layers():
    plan = fixture_plan(pool_threshold="10kB")
    assert layer_names(plan, image_history(plan))[5:] == [
        "cuda: nvidia-cublas-cu12 12.8.4.1",
        "frameworks: torch 2.7.1+cu128",
        "light-six: six 1.17.0",
        "WORKDIR /app",
        "deps: pyproject.toml, uv.lock",
        "deps: 0 light packages",
        "app: source",
        "app: gpuapp",
    ]


def test_layer_names_with_one_heavy_layer():
    plan = fixture_plan(layer_mode="single")
    names = layer_names(plan, image_history(plan))
    assert names[:5] == [
        "base image",
        "base image",
        "uv",
        "python 3.11, where the image has none",
        "venv + heavy: nvidia-cublas-cu12 12.8.4.1 +1",
    ]


def test_layer_names_of_a_users_dockerfile_are_its_instructions():
    plan = fixture_plan()
    layers = [(step, True) for step in history_of(heavy_stages.base_stage(plan))]
    layers += [("RUN /bin/sh -c apt-get install -y git # buildkit", False), ("", False)]
    assert layer_names(plan, layers)[-2:] == ["RUN apt-get install -y git", ""]


def choices(*packages):
    return [
        SimpleNamespace(selected=SimpleNamespace(name=n, version=v, size=s)) for n, v, s in packages
    ]


def test_describe_packages():
    cuda = choices(*((f"nvidia-lib{i}-cu12", "12.1", 242_000_000) for i in range(12)))
    assert describe_packages(cuda, "cuda") == "cuda: 12 packages, 2.9 GB"
    frameworks = choices(
        ("torch", "2.5.1", 800_000_000),
        ("triton", "3.1", 200_000_000),
        ("a", "1", 1),
        ("b", "1", 1),
    )
    assert describe_packages(frameworks, "frameworks") == "frameworks: torch 2.5.1 +3"
    unknown = choices(("torch", "2.5.1", None), ("triton", "3.1", None))
    assert (
        describe_packages(unknown, "frameworks")
        == "frameworks: 2 packages, 0 B + 2 of unknown size"
    )
    assert describe_packages([], "other") == "other"


def test_summary_names_layers_by_what_they_hold(capsys):
    plan = fixture_plan()
    layers = tuple(
        SimpleNamespace(diff_id=f"sha256:{i:064x}", size=1000, shared=shared, created_by=step)
        for i, (step, shared) in enumerate(image_history(plan))
    )
    Terminal().build_summary(FakeResult(layers=layers), plan)
    out, err = capsys.readouterr()
    assert out == "app:dev\n"
    for name in ("base image", "uv", "venv", "cuda: nvidia-cublas-cu12", "app: gpuapp"):
        assert name in err
    assert "SOURCE_DATE_EPOCH" not in err and "uvbuild-layer" not in err
