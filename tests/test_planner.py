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
    with pytest.raises(LockError, match=r"not UTF-8 text .* at offset 12"):
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
    with pytest.raises(ConfigError, match=r"pyproject\.toml: tool\.uvbuild\.layers\.GPU: "):
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


# -- the user's Dockerfile: seed mode and an explicit system stage ----------------------------

SEED_DOCKERFILE = """\
ARG BASE=debian:bookworm
FROM $BASE AS builder
ARG python_version=3.11
ARG APT=curl
COPY --from=ghcr.io/astral-sh/uv:0.5.2 /uv /usr/local/bin/uv
COPY scripts/setup.sh /tmp/setup.sh
RUN apt-get update && apt-get install -y $APT && sh /tmp/setup.sh
ENV UV_PYTHON="python$python_version" UV_PROJECT_ENVIRONMENT=/app UV_COMPILE_BYTECODE=1
WORKDIR /project
COPY pyproject.toml uv.lock /project/
ARG APP_VERSION=1
RUN --mount=type=cache,target=/root/.cache/uv uv sync --no-dev --no-install-project --frozen
COPY . /project
RUN uv sync --frozen --no-dev

FROM debian:bookworm-slim AS runtime
COPY --from=builder /app /app
CMD ["/app/bin/python"]
"""


@pytest.fixture
def seed_project(tmp_path: Path) -> Path:
    """two_indexes with a Dockerfile that does not mention uvbuild (and a script its
    system part copies)."""
    target = tmp_path / "proj"
    shutil.copytree(FIXTURES / "two_indexes", target)
    (target / "Dockerfile").write_text(SEED_DOCKERFILE)
    (target / "scripts").mkdir()
    (target / "scripts" / "setup.sh").write_text("echo set up\n")
    return target


def seed_plan(project: Path, build_args=None, flags=FLAGS):
    return planner.make_plan(
        project, flags, dockerfile=project / "Dockerfile", build_args=build_args
    )


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new))


def test_seed_plan_takes_the_syncs_settings(seed_project):
    plan = seed_plan(seed_project, flags={"platform": "linux/amd64", "python": "3.12"})
    assert plan.dockerfile.mode == "seed"
    assert plan.dockerfile.path == str(seed_project / "Dockerfile")
    assert plan.seed is not None and plan.system is plan.seed.system
    assert plan.config.venv == "/app"
    assert plan.config.compile_bytecode is True
    assert plan.target.python == "3.11"  # UV_PYTHON wins over --python
    assert plan.request.no_dev is True
    assert plan.dockerfile.context_digests[0][0] == "scripts/setup.sh"
    assert "context scripts/setup.sh sha256:" in plan.key_document


def test_seed_selection_replaces_the_config_selection(seed_project):
    pyproject = seed_project / "pyproject.toml"
    pyproject.write_text(pyproject.read_text() + '\n[tool.uvbuild]\nextras = ["gpu"]\n')
    plan = seed_plan(seed_project)
    assert plan.request.extras == () and plan.request.no_dev is True


@pytest.mark.parametrize(
    ("given", "flag"),
    [
        ({"extras": ("gpu",)}, "--extra"),
        ({"no_dev": True}, "--no-dev"),
        ({"package": "a"}, "--package"),
    ],
)
def test_a_selection_flag_with_a_dockerfile_built_as_it_is_is_an_error(seed_project, given, flag):
    with pytest.raises(ConfigError) as info:
        seed_plan(seed_project, flags={**FLAGS, **given})
    message = str(info.value)
    assert message.startswith(f"{flag}: {seed_project / 'Dockerfile'} is built as it is")
    assert "`uv sync` on line" in message


def test_the_projects_dockerfile_is_read_without_file(seed_project):
    plan = planner.make_plan(seed_project, FLAGS)
    assert plan.dockerfile.mode == "seed"
    assert plan.key == seed_plan(seed_project).key


def test_generated_ignores_the_projects_dockerfile(seed_project):
    pyproject = seed_project / "pyproject.toml"
    pyproject.write_text(pyproject.read_text() + '\n[tool.uvbuild]\ndockerfile = "generated"\n')
    plan = planner.make_plan(seed_project, FLAGS)
    assert plan.dockerfile.mode == "generated" and plan.system is None


def test_seed_refusal_reaches_make_plan(seed_project):
    edit(seed_project / "Dockerfile", "--no-dev --no-install-project", "--no-sources")
    with pytest.raises(ConfigError, match=rf"^{seed_project / 'Dockerfile'}:12: `uv sync "):
        seed_plan(seed_project)


def test_malformed_dockerfile_names_the_file(seed_project):
    (seed_project / "Dockerfile").write_text("FROM debian\nENV A\n")
    with pytest.raises(ConfigError) as info:
        seed_plan(seed_project)
    assert str(info.value).startswith(f"{seed_project / 'Dockerfile'}: not a Dockerfile")


def test_missing_file_names_the_flag(tmp_path, seed_project):
    with pytest.raises(ConfigError, match=r"^--file: .* does not exist"):
        planner.make_plan(seed_project, FLAGS, dockerfile=tmp_path / "nope")


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("apt-get install -y $APT", "apt-get install -y $APT wget"),  # a system RUN
        ("ENV UV_PYTHON", "ENV LANG=C.UTF-8\nENV UV_PYTHON"),  # a system ENV
        ("ARG BASE=debian:bookworm", "ARG BASE=debian:trixie"),  # the FROM image
        ("uv:0.5.2", "uv:0.5.3"),  # an image the system part copies from
    ],
)
def test_an_edit_of_the_system_part_moves_the_key(seed_project, old, new):
    before = seed_plan(seed_project)
    edit(seed_project / "Dockerfile", old, new)
    after = seed_plan(seed_project)
    assert after.key != before.key
    assert all(a.key != b.key for a, b in zip(after.layers, before.layers, strict=True))


def test_an_edit_of_a_copied_file_moves_the_key(seed_project):
    before = seed_plan(seed_project)
    (seed_project / "scripts" / "setup.sh").write_text("echo set up again\n")
    assert seed_plan(seed_project).key != before.key


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("COPY pyproject.toml uv.lock /project/", "COPY pyproject.toml uv.lock README* /project/"),
        ("ARG APP_VERSION=1", "ARG APP_VERSION=2"),  # an ARG of the prelude
        ("COPY . /project\n", "COPY . /project\nRUN echo more\n"),  # the rest
        ('CMD ["/app/bin/python"]', 'CMD ["/app/bin/python", "-m", "app"]'),  # the runtime
    ],
)
def test_an_edit_after_the_system_part_keeps_the_key(seed_project, old, new):
    before = seed_plan(seed_project)
    edit(seed_project / "Dockerfile", old, new)
    assert seed_plan(seed_project).key == before.key


def test_a_light_bump_keeps_the_key(seed_project):
    before = seed_plan(seed_project)
    edit(seed_project / "uv.lock", 'version = "1.17.0"', 'version = "1.17.1"')
    after = seed_plan(seed_project)
    assert [s.version for s in after.light] == ["1.17.1"]
    assert after.key == before.key


def test_an_edit_of_a_project_file_outside_the_system_part_keeps_the_key(seed_project):
    before = seed_plan(seed_project)
    (seed_project / "app.py").write_text("print('hi')\n")
    assert seed_plan(seed_project).key == before.key


@pytest.mark.parametrize(
    ("build_args", "moves"),
    [
        ({"APT": "wget"}, True),  # an ARG the system RUN sees
        ({"BASE": "debian:trixie"}, True),  # the global ARG of the FROM
        ({"python_version": "3.12"}, True),
        ({"APT": "curl"}, False),  # the default, given
        ({"APP_VERSION": "2"}, False),  # an ARG of the prelude
        ({"UNUSED": "x"}, False),
    ],
)
def test_build_args_move_the_key_when_the_system_part_uses_them(seed_project, build_args, moves):
    before = seed_plan(seed_project)
    after = seed_plan(seed_project, build_args)
    assert (after.key != before.key) is moves


def test_build_arg_python_version_reaches_the_target(seed_project):
    assert seed_plan(seed_project, {"python_version": "3.12"}).target.python == "3.12"


EXPLICIT_DOCKERFILE = """\
FROM debian:bookworm AS uvbuild-system
COPY apt.txt /tmp/apt.txt
RUN apt-get update && xargs apt-get install -y < /tmp/apt.txt

FROM uvbuild-base
WORKDIR /app
COPY . .
"""


def test_explicit_system_stage(seed_project):
    (seed_project / "Dockerfile").write_text(EXPLICIT_DOCKERFILE)
    (seed_project / "apt.txt").write_text("curl\n")
    plan = seed_plan(seed_project)
    assert plan.dockerfile.mode == "base"
    assert plan.seed is None and plan.system is not None
    assert plan.system.system_from == "FROM debian:bookworm AS uvbuild-system"
    assert plan.dockerfile.context_digests[0][0] == "apt.txt"
    before = plan.key
    (seed_project / "apt.txt").write_text("curl wget\n")
    assert seed_plan(seed_project).key != before


def test_base_dockerfile_without_a_system_stage(seed_project):
    (seed_project / "Dockerfile").write_text("FROM uvbuild-base\nCOPY . /app\n")
    plan = seed_plan(seed_project)
    assert plan.dockerfile.mode == "base" and plan.system is None
    generated = planner.make_plan(seed_project, {**FLAGS, "dockerfile": "generated"})
    assert plan.key == generated.key


# -- build-context digests ---------------------------------------------------------------------


def test_context_digests(tmp_path):
    (tmp_path / "a.txt").write_text("a")
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "x").write_text("x")
    (tmp_path / "d" / "y").write_text("y")
    sources = ("a.txt", "/a.txt", "d/", "*.txt", "nope", "no*")
    digests = dict(planner._context_digests(tmp_path, sources))
    assert digests["a.txt"] == digests["/a.txt"] == digests["*.txt"] != "missing"
    assert digests["d/"] != digests["a.txt"]
    assert digests["nope"] == digests["no*"] == "missing"
    before = digests["d/"]
    (tmp_path / "d" / "y").write_text("changed")
    assert dict(planner._context_digests(tmp_path, ("d/",)))["d/"] != before
    # a renamed file with the same bytes is another context
    (tmp_path / "d" / "y").rename(tmp_path / "d" / "z")
    assert dict(planner._context_digests(tmp_path, ("d/",)))["d/"] != before


def test_seed_selection_is_the_syncs_only(seed_project):
    pyproject = seed_project / "pyproject.toml"
    pyproject.write_text(pyproject.read_text() + '\n[tool.uvbuild]\ngroups = ["lint"]\n')
    edit(seed_project / "Dockerfile", "--no-dev --no-install-project", "--no-install-project")
    plan = seed_plan(seed_project)
    assert plan.request.groups == () and not plan.request.no_dev
    assert not plan.request.all_extras


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


@pytest.mark.parametrize(
    ("tool_uv", "env", "compiles", "downloads"),
    [
        ("compile-bytecode = true\npython-downloads = 'never'\n", "", True, "never"),
        ("compile-bytecode = true\n", "ENV UV_COMPILE_BYTECODE=0\n", False, "automatic"),
        ("", "", False, "automatic"),
    ],
)
def test_seed_reads_tool_uv_below_the_environment(seed_project, tool_uv, env, compiles, downloads):
    pyproject = seed_project / "pyproject.toml"
    pyproject.write_text(pyproject.read_text() + f"\n[tool.uv]\n{tool_uv}")
    (seed_project / "Dockerfile").write_text(
        f"FROM debian:bookworm\n{env}WORKDIR /app\nCOPY pyproject.toml uv.lock ./\n"
        "RUN uv sync --frozen --no-install-project\n"
    )
    plan = seed_plan(seed_project)
    assert plan.config.compile_bytecode is compiles
    assert plan.seed.python_downloads == downloads


# -- light layers (pool-threshold) -------------------------------------------------------------


def test_digests_rekey_the_light_layers_too():
    flags = {"platform": "linux/amd64", "pool_threshold": "10kB"}
    plain = planner.make_plan(FIXTURES / "two_indexes", flags)
    digests = {i.ref: "sha256:" + str(n) * 64 for n, i in enumerate(plain.image_refs)}
    made = planner.make_plan(FIXTURES / "two_indexes", flags, digests=digests)
    assert [g.name for g in made.light_layers] == ["light-six"]
    assert made.light_layers[0].key != plain.light_layers[0].key
    assert planner.with_digests(plain, digests) == made


def test_pool_threshold_flag_and_key(tmp_path):
    project = tmp_path / "proj"
    shutil.copytree(FIXTURES / "two_indexes", project)
    assert planner.make_plan(project, FLAGS).light_layers == ()  # six is 11 kB
    edit(
        project / "pyproject.toml",
        "[project]",
        '[tool.uvbuild]\npool-threshold = "10kB"\n\n[project]',
    )
    assert [g.name for g in planner.make_plan(project, FLAGS).light_layers] == ["light-six"]
    off = planner.make_plan(project, {**FLAGS, "pool_threshold": "0"})
    assert off.light_layers == () and [s.name for s in off.pool] == ["six"]


def test_a_base_dockerfile_keeps_every_light_package_in_its_own_sync(seed_project):
    (seed_project / "Dockerfile").write_text("FROM uvbuild-base\nCOPY . /app\n")
    plan = seed_plan(seed_project, flags={**FLAGS, "pool_threshold": "10kB"})
    assert plan.dockerfile.mode == "base" and plan.light_layers == ()


def test_a_seed_dockerfile_gets_the_light_layers(seed_project):
    plan = seed_plan(seed_project, flags={**FLAGS, "pool_threshold": "10kB"})
    assert plan.seed is not None and [g.name for g in plan.light_layers] == ["light-six"]
