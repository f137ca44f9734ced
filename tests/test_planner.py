"""uvbuild.planner: reading the two files and resolving what the config leaves open."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.paths import FIXTURES
from uvbuild import planner
from uvbuild.errors import ConfigError, LockError


def _project(tmp_path: Path, **kwargs) -> planner.Project:
    values = {
        "dir": tmp_path,
        "name": "app",
        "tool_uvbuild": None,
        "default_groups": ("dev",),
        "python_version_file": None,
    }
    values.update(kwargs)
    return planner.Project(**values)


@pytest.fixture
def project_copy(tmp_path: Path) -> Path:
    target = tmp_path / "proj"
    shutil.copytree(FIXTURES / "empty_extra", target)
    return target


# -- Python version ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("requires", "expected"),
    [
        (None, "3.11"),
        ("", "3.11"),
        (">=3.10", "3.11"),
        (">=3.8", "3.11"),
        (">=3.12", "3.12"),
        (">=3.12.4", "3.12"),
        (">=3.13,<3.14", "3.13"),
        (">=3.8,<3.10", "3.8"),
        ("==3.9.*", "3.9"),
        ("not a specifier", "3.11"),
    ],
)
def test_default_python(requires, expected):
    assert planner.default_python(requires) == expected


def test_default_python_from_requires_python(tmp_path):
    config = planner.resolve_config(_project(tmp_path), None, ">=3.12")
    assert config.python == "3.12"


def test_python_version_file_wins_over_the_default(tmp_path):
    project = _project(tmp_path, python_version_file="3.13")
    assert planner.resolve_config(project, None, ">=3.12").python == "3.13"


@pytest.mark.parametrize(
    ("text", "expected"),
    [("3.12.4", "3.12"), ("cpython-3.10.14-linux-x86_64-gnu", "3.10"), ("pypy3.10", "3.11")],
)
def test_python_version_file_forms(tmp_path, text, expected):
    project = _project(tmp_path, python_version_file=text)
    assert planner.resolve_config(project, None, None).python == expected


def test_config_python_wins_over_file_and_default(tmp_path):
    project = _project(tmp_path, tool_uvbuild={"python": "3.10"}, python_version_file="3.13")
    assert planner.resolve_config(project, None, ">=3.10").python == "3.10"


def test_flag_python_wins_over_everything(tmp_path):
    project = _project(tmp_path, tool_uvbuild={"python": "3.10"}, python_version_file="3.13")
    assert planner.resolve_config(project, {"python": "3.12"}, ">=3.10").python == "3.12"


def test_read_project_reads_the_first_line_of_python_version(project_copy):
    (project_copy / ".python-version").write_text("3.12\n3.11\n")
    project = planner.read_project(project_copy)
    assert project.python_version_file == "3.12"
    assert planner.make_plan(project_copy, {"platform": "linux/amd64"}).target.python == "3.12"


# -- platform ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("machine", "expected"),
    [
        ("x86_64", "linux/amd64"),
        ("AMD64", "linux/amd64"),
        ("aarch64", "linux/arm64"),
        ("arm64", "linux/arm64"),
    ],
)
def test_host_platform(monkeypatch, machine, expected):
    monkeypatch.setattr(planner.host, "machine", lambda: machine)
    assert planner.host_platform() == expected


def test_platform_defaults_to_the_host(monkeypatch, tmp_path):
    monkeypatch.setattr(planner.host, "machine", lambda: "aarch64")
    assert planner.resolve_config(_project(tmp_path), None).platform == "linux/arm64"
    explicit = planner.resolve_config(_project(tmp_path), {"platform": "linux/amd64"})
    assert explicit.platform == "linux/amd64"


# -- project and lock files -------------------------------------------------------------------


def test_workspace_members():
    lock = planner.read_lock(FIXTURES / "virtual_workspace" / "uv.lock")
    assert planner.workspace_members(lock, FIXTURES / "virtual_workspace") == ("a", "b")


def test_no_members_for_a_single_project():
    lock = planner.read_lock(FIXTURES / "empty_extra" / "uv.lock")
    assert planner.workspace_members(lock, FIXTURES / "empty_extra") == ()


def test_read_lock_missing(tmp_path):
    with pytest.raises(LockError, match=r"not found; run `uv lock`"):
        planner.read_lock(tmp_path / "uv.lock")


def test_read_lock_empty(tmp_path):
    (tmp_path / "uv.lock").write_text("")
    with pytest.raises(LockError, match="empty"):
        planner.read_lock(tmp_path / "uv.lock")


def test_read_lock_malformed(tmp_path):
    (tmp_path / "uv.lock").write_text("version = 1\n[[package]\n")
    with pytest.raises(LockError) as info:
        planner.read_lock(tmp_path / "uv.lock")
    assert str(info.value).startswith(f"{tmp_path / 'uv.lock'}: not valid TOML")


def test_read_lock_too_new(tmp_path):
    (tmp_path / "uv.lock").write_text('version = 2\nrequires-python = ">=3.10"\n')
    with pytest.raises(LockError, match="newer than uvbuild understands"):
        planner.read_lock(tmp_path / "uv.lock")


def test_read_lock_not_utf8(tmp_path):
    (tmp_path / "uv.lock").write_bytes(b"version = 1\n\xff\xfe")
    with pytest.raises(LockError, match="cannot read it"):
        planner.read_lock(tmp_path / "uv.lock")


def test_read_project_missing_pyproject(tmp_path):
    with pytest.raises(ConfigError, match=r"pyproject\.toml: not found"):
        planner.read_project(tmp_path)


def test_read_project_missing_directory(tmp_path):
    with pytest.raises(ConfigError, match="no such directory"):
        planner.read_project(tmp_path / "nope")


def test_read_project_malformed_pyproject(tmp_path):
    (tmp_path / "pyproject.toml").write_text("[project\nname = 'x'\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        planner.read_project(tmp_path)


@pytest.mark.parametrize(
    ("value", "expected"),
    [('["dev", "lint"]', ("dev", "lint")), ('"all"', None), ("[]", ())],
)
def test_read_project_default_groups(tmp_path, value, expected):
    (tmp_path / "pyproject.toml").write_text(f"[tool.uv]\ndefault-groups = {value}\n")
    assert planner.read_project(tmp_path).default_groups == expected


def test_read_project_bad_default_groups(tmp_path):
    (tmp_path / "pyproject.toml").write_text("[tool.uv]\ndefault-groups = 3\n")
    with pytest.raises(ConfigError, match=r"tool\.uv\.default-groups"):
        planner.read_project(tmp_path)


def test_lock_flag_reads_another_lock(project_copy, tmp_path):
    other = tmp_path / "elsewhere.lock"
    shutil.move(project_copy / "uv.lock", other)
    plan = planner.make_plan(project_copy, {"platform": "linux/amd64"}, lock_path=other)
    assert plan.lock_path == str(other.resolve())


# -- base repository --------------------------------------------------------------------------


def test_base_repo_defaults_to_the_project_name():
    plan = planner.make_plan(FIXTURES / "empty_extra", {"platform": "linux/amd64"})
    assert plan.project_name == "proj"
    assert plan.base_repo == "proj-uvbuild-base"
    assert plan.tag == f"proj-uvbuild-base:{plan.key[:16]}"


def test_base_repo_from_config():
    plan = planner.make_plan(
        FIXTURES / "empty_extra", {"platform": "linux/amd64", "base_repo": "reg:5000/team/base"}
    )
    assert plan.tag == f"reg:5000/team/base:{plan.key[:16]}"


def test_virtual_workspace_root_uses_the_directory_name():
    plan = planner.make_plan(FIXTURES / "virtual_workspace", {"platform": "linux/amd64"})
    assert plan.project_name is None
    assert plan.base_repo == "virtual-workspace-uvbuild-base"
    assert plan.members == ("a", "b")


def test_plan_is_deterministic():
    flags = {"platform": "linux/amd64", "python": "3.11"}
    first = planner.make_plan(FIXTURES / "two_indexes", flags)
    second = planner.make_plan(FIXTURES / "two_indexes", flags)
    assert first == second
    assert [s.name for s in first.heavy] == ["nvidia-cublas-cu12", "torch"]
    assert [s.name for s in first.light] == ["six"]


# -- layer groups -------------------------------------------------------------------------------

FLAGS = {"platform": "linux/amd64", "python": "3.11"}


def test_default_layout_gives_two_layer_groups_with_keys():
    plan = planner.make_plan(FIXTURES / "two_indexes", FLAGS)
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
    grouped = planner.make_plan(FIXTURES / "two_indexes", FLAGS)
    single = planner.make_plan(FIXTURES / "two_indexes", {**FLAGS, "layer_mode": "single"})
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
    plan = planner.make_plan(target, FLAGS)
    assert [g.name for g in plan.layers] == ["torch", "nv"]
    assert plan.config.layers == (("torch", ("torch",)), ("nv", ("nvidia-*",)))


def test_bad_layer_group_in_pyproject_names_the_key(tmp_path):
    target = tmp_path / "proj"
    shutil.copytree(FIXTURES / "two_indexes", target)
    pyproject = target / "pyproject.toml"
    pyproject.write_text(pyproject.read_text() + '\n[tool.uvbuild.layers]\nGPU = ["nvidia-*"]\n')
    with pytest.raises(ConfigError, match=r"^tool\.uvbuild\.layers\.GPU: "):
        planner.make_plan(target, FLAGS)


def test_single_mode_says_the_layers_table_is_unused(tmp_path):
    target = tmp_path / "proj"
    shutil.copytree(FIXTURES / "two_indexes", target)
    pyproject = target / "pyproject.toml"
    pyproject.write_text(pyproject.read_text() + '\n[tool.uvbuild.layers]\nnv = ["nvidia-*"]\n')
    plan = planner.make_plan(target, {**FLAGS, "layer_mode": "single"})
    assert 'layer-mode is "single": tool.uvbuild.layers is not used' in plan.notes


def test_a_torch_bump_keeps_the_cuda_group_key(tmp_path):
    target = tmp_path / "proj"
    shutil.copytree(FIXTURES / "two_indexes", target)
    before = planner.make_plan(target, FLAGS)
    lock = target / "uv.lock"
    lock.write_text(lock.read_text().replace('version = "2.7.1+cu128"', 'version = "2.7.2+cu128"'))
    after = planner.make_plan(target, FLAGS)
    assert after.layers[0].key == before.layers[0].key
    assert after.layers[1].key != before.layers[1].key
    assert after.key != before.key


# -- heavy-min-size and the default index ------------------------------------------------------


@pytest.mark.parametrize(
    ("uv", "expected"),
    [
        ("", "https://pypi.org/simple"),
        (
            '[[tool.uv.index]]\nname = "a"\nurl = "https://a.example/simple"\n'
            '[[tool.uv.index]]\nname = "b"\nurl = "https://b.example/simple"\ndefault = true\n',
            "https://b.example/simple",
        ),
        (
            '[tool.uv]\nindex-url = "https://mirror.example/simple"\n',
            "https://mirror.example/simple",
        ),
    ],
    ids=["pypi", "default-true", "legacy-index-url"],
)
def test_read_project_default_index(tmp_path, uv, expected):
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "x"\n' + uv)
    assert planner.read_project(tmp_path).default_index == expected


def test_light_package_of_unknown_size_from_another_index_gets_a_plan_note():
    # torch comes from the explicit PyTorch index without a size; heavy-only leaves it light.
    plan = planner.make_plan(
        FIXTURES / "two_indexes", {"platform": "linux/amd64", "heavy_only": ("nvidia-*",)}
    )
    assert [c.selected.name for c in plan.grouping.heavy] == ["nvidia-cublas-cu12"]
    assert (
        "torch (from https://download.pytorch.org/whl/cu128) is light, size unknown: "
        "add it to `heavy` if it is large"
    ) in plan.notes


def test_heavy_min_size_flag_and_key_reach_the_split():
    flags = {"platform": "linux/amd64", "heavy_min_size": "1GB", "heavy_threshold": "2GB"}
    plan = planner.make_plan(FIXTURES / "two_indexes", flags)
    # nvidia-cublas-cu12 (594 MB) is under both now; torch's size is unknown, so it stays.
    assert [c.selected.name for c in plan.grouping.heavy] == ["torch"]
    assert any("nvidia-cublas-cu12 matches a heavy pattern" in n for n in plan.notes)
    assert plan.to_dict()["heavy"][0]["reason"] == ("matches torch, size unknown")


def test_image_refs_are_the_base_image_and_uv_image_each_once():
    plan = planner.make_plan(FIXTURES / "two_indexes", {"platform": "linux/amd64"})
    assert [(i.ref, i.setting) for i in plan.image_refs] == [
        ("python:3.11-slim", "--base-image (tool.uvbuild.base-image)"),
        ("ghcr.io/astral-sh/uv:0.13.9", "--uv-image (tool.uvbuild.uv-image)"),
    ]
    same = planner.make_plan(
        FIXTURES / "two_indexes",
        {"platform": "linux/amd64", "base_image": "x:1", "uv_image": "x:1"},
    )
    assert [i.ref for i in same.image_refs] == ["x:1"]


def test_digests_move_every_key_and_with_digests_rekeys_without_reading_files():
    flags = {"platform": "linux/amd64"}
    plain = planner.make_plan(FIXTURES / "two_indexes", flags)
    digests = {i.ref: "sha256:" + str(n) * 64 for n, i in enumerate(plain.image_refs)}
    made = planner.make_plan(FIXTURES / "two_indexes", flags, digests=digests)
    assert made.key != plain.key and made.digests == tuple(sorted(digests.items()))
    assert all(a.key != b.key for a, b in zip(made.layers, plain.layers, strict=True))
    rekeyed = planner.with_digests(plain, {**digests, "unrelated:1": "sha256:x"})
    assert rekeyed == made
    with pytest.raises(ValueError, match=r"no digest for python:3\.11-slim"):
        planner.with_digests(plain, {"ghcr.io/astral-sh/uv:0.13.9": "sha256:u"})


def test_pinned_digest():
    from uvbuild.core.model import pinned_digest

    assert pinned_digest("python:3.11@sha256:" + "a" * 64) == "sha256:" + "a" * 64
    assert pinned_digest("python:3.11") is None
    assert pinned_digest("host:5000/x") is None
