"""uvbuild.planner.plan: the plan of a project, its base repository, layer groups, heavy
split and light layers."""

from __future__ import annotations

import shutil

import pytest

from tests.paths import FIXTURES
from tests.planner.projects import FLAGS, edit, seed_plan
from uvbuild.errors import ConfigError
from uvbuild.planner.plan import make_plan


def test_lock_flag_reads_another_lock(project_copy, tmp_path):
    other = tmp_path / "elsewhere.lock"
    shutil.move(project_copy / "uv.lock", other)
    plan = make_plan(project_copy, {"platform": "linux/amd64"}, lock_path=other)
    assert plan.lock_path == str(other.resolve())


def test_base_repo_defaults_to_the_project_name():
    plan = make_plan(FIXTURES / "empty_extra", {"platform": "linux/amd64"})
    assert plan.project_name == "proj"
    assert plan.base_repo == "proj-uvbuild-base"
    assert plan.tag == f"proj-uvbuild-base:{plan.key[:16]}"


def test_base_repo_from_config():
    plan = make_plan(
        FIXTURES / "empty_extra", {"platform": "linux/amd64", "base_repo": "reg:5000/team/base"}
    )
    assert plan.tag == f"reg:5000/team/base:{plan.key[:16]}"


def test_virtual_workspace_root_uses_the_directory_name():
    plan = make_plan(FIXTURES / "virtual_workspace", {"platform": "linux/amd64"})
    assert plan.project_name is None
    assert plan.base_repo == "virtual-workspace-uvbuild-base"
    assert plan.members == ("a", "b")


def test_plan_is_deterministic():
    flags = {"platform": "linux/amd64", "python": "3.11"}
    first = make_plan(FIXTURES / "two_indexes", flags)
    second = make_plan(FIXTURES / "two_indexes", flags)
    assert first == second
    assert [s.name for s in first.heavy] == ["nvidia-cublas-cu12", "torch"]
    assert [s.name for s in first.light] == ["six"]


def test_default_layout_gives_two_layer_groups_with_keys():
    plan = make_plan(FIXTURES / "two_indexes", FLAGS)
    assert plan.layer_mode == "groups"
    assert [g.name for g in plan.layers] == ["cuda", "frameworks"]
    document = plan.to_dict()
    assert document["base"]["layer-mode"] == "groups"
    layers = document["base"]["layers"]
    assert [(g["name"], g["packages"]) for g in layers] == [
        ("cuda", ["nvidia-cublas-cu12"]),
        ("frameworks", ["torch"]),
    ]
    assert layers[1]["unknown-size"] == 1 and layers[1]["bytes"] == 0
    assert layers[0]["bytes"] > 0 and layers[0]["patterns"][0] == "nvidia-*"
    assert document["base"]["inputs"]["layers"] == [
        {"name": g["name"], "key": g["key"]} for g in layers
    ]
    assert {h["name"]: h["layer"] for h in document["heavy"]} == {
        "nvidia-cublas-cu12": "cuda",
        "torch": "frameworks",
    }


def test_single_mode_has_no_layer_groups_and_another_key():
    grouped = make_plan(FIXTURES / "two_indexes", FLAGS)
    single = make_plan(FIXTURES / "two_indexes", {**FLAGS, "layer_mode": "single"})
    assert single.layers == ()
    assert single.key != grouped.key
    document = single.to_dict()
    assert document["base"]["layers"] == []
    assert {h["layer"] for h in document["heavy"]} == {None}


def test_layers_from_pyproject(tmp_path):
    target = tmp_path / "proj"
    shutil.copytree(FIXTURES / "two_indexes", target)
    pyproject = target / "pyproject.toml"
    pyproject.write_text(
        pyproject.read_text() + '\n[tool.uvbuild.layers]\ntorch = ["torch"]\nnv = ["nvidia-*"]\n'
    )
    plan = make_plan(target, FLAGS)
    assert [g.name for g in plan.layers] == ["torch", "nv"]
    assert plan.config.layers == (("torch", ("torch",)), ("nv", ("nvidia-*",)))


def test_bad_layer_group_in_pyproject_names_the_key(tmp_path):
    target = tmp_path / "proj"
    shutil.copytree(FIXTURES / "two_indexes", target)
    pyproject = target / "pyproject.toml"
    pyproject.write_text(pyproject.read_text() + '\n[tool.uvbuild.layers]\nGPU = ["nvidia-*"]\n')
    with pytest.raises(ConfigError, match=r"pyproject\.toml: tool\.uvbuild\.layers\.GPU: "):
        make_plan(target, FLAGS)


def test_single_mode_says_the_layers_table_is_unused(tmp_path):
    target = tmp_path / "proj"
    shutil.copytree(FIXTURES / "two_indexes", target)
    pyproject = target / "pyproject.toml"
    pyproject.write_text(pyproject.read_text() + '\n[tool.uvbuild.layers]\nnv = ["nvidia-*"]\n')
    plan = make_plan(target, {**FLAGS, "layer_mode": "single"})
    assert 'layer-mode is "single": tool.uvbuild.layers is not used' in plan.notes


def test_a_torch_bump_keeps_the_cuda_group_key(tmp_path):
    target = tmp_path / "proj"
    shutil.copytree(FIXTURES / "two_indexes", target)
    before = make_plan(target, FLAGS)
    lock = target / "uv.lock"
    lock.write_text(lock.read_text().replace('version = "2.7.1+cu128"', 'version = "2.7.2+cu128"'))
    after = make_plan(target, FLAGS)
    assert after.layers[0].key == before.layers[0].key
    assert after.layers[1].key != before.layers[1].key
    assert after.key != before.key


def test_light_package_of_unknown_size_from_another_index_gets_a_plan_note():
    # torch comes from the explicit PyTorch index without a size; heavy-only leaves it light.
    plan = make_plan(
        FIXTURES / "two_indexes", {"platform": "linux/amd64", "heavy_only": ("nvidia-*",)}
    )
    assert [c.selected.name for c in plan.grouping.heavy] == ["nvidia-cublas-cu12"]
    assert (
        "torch (from https://download.pytorch.org/whl/cu128) is light, size unknown: "
        "add it to `heavy` if it is large"
    ) in plan.notes


def test_heavy_min_size_flag_and_key_reach_the_split():
    flags = {"platform": "linux/amd64", "heavy_min_size": "1GB", "heavy_threshold": "2GB"}
    plan = make_plan(FIXTURES / "two_indexes", flags)
    # nvidia-cublas-cu12 (594 MB) is under both now; torch's size is unknown, so it stays.
    assert [c.selected.name for c in plan.grouping.heavy] == ["torch"]
    assert any("nvidia-cublas-cu12 matches a heavy pattern" in n for n in plan.notes)
    assert plan.to_dict()["heavy"][0]["reason"] == ("matches torch, size unknown")


def test_pool_threshold_flag_and_key(tmp_path):
    project = tmp_path / "proj"
    shutil.copytree(FIXTURES / "two_indexes", project)
    assert make_plan(project, FLAGS).light_layers == ()  # six is 11 kB
    edit(
        project / "pyproject.toml",
        "[project]",
        '[tool.uvbuild]\npool-threshold = "10kB"\n\n[project]',
    )
    assert [g.name for g in make_plan(project, FLAGS).light_layers] == ["light-six"]
    off = make_plan(project, {**FLAGS, "pool_threshold": "0"})
    assert off.light_layers == () and [s.name for s in off.pool] == ["six"]


def test_a_base_dockerfile_keeps_every_light_package_in_its_own_sync(seed_project):
    (seed_project / "Dockerfile").write_text("FROM uvbuild-base\nCOPY . /app\n")
    plan = seed_plan(seed_project, flags={**FLAGS, "pool_threshold": "10kB"})
    assert plan.dockerfile.mode == "base" and plan.light_layers == ()


def test_a_seed_dockerfile_gets_the_light_layers(seed_project):
    plan = seed_plan(seed_project, flags={**FLAGS, "pool_threshold": "10kB"})
    assert plan.seed is not None and [g.name for g in plan.light_layers] == ["light-six"]
