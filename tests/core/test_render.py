"""uvbuild.core.render: the generated Dockerfile (golden file), heavy requirement files, helpers.

Update the golden files with ``UVBUILD_UPDATE_GOLDEN=1 python -m pytest tests/core/test_render.py``.
"""

from __future__ import annotations

import os
import subprocess
from dataclasses import replace
from pathlib import Path

import pytest

from tests.paths import FIXTURES, GOLDEN
from uvbuild import __version__, planner
from uvbuild.core import credentials, ignore, render, requirements
from uvbuild.core.config import Config
from uvbuild.core.model import (
    Artifact,
    Grouping,
    HeavyChoice,
    LockedPackage,
    Request,
    SelectedPackage,
    Source,
)
from uvbuild.errors import ConfigError

PYPI = "https://pypi.org/simple"
TORCH_INDEX = "https://download.pytorch.org/whl/cu128"

FLAGS = {
    "platform": "linux/amd64",
    "python": "3.11",
    "base_image": "python:3.11-slim-bookworm",
    "uv_image": "ghcr.io/astral-sh/uv:0.13.9",
}


def assert_golden(name: str, text: str) -> None:
    # The version is in the header comment; keep the golden file stable across releases.
    text = text.replace(f"uvbuild {__version__} ", "uvbuild <version> ")
    path = GOLDEN / name
    if os.environ.get("UVBUILD_UPDATE_GOLDEN") == "1":
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        return
    assert path.is_file(), f"{path} is missing; run with UVBUILD_UPDATE_GOLDEN=1 to write it"
    expected = path.read_text(encoding="utf-8")
    assert text == expected, f"{name} differs; UVBUILD_UPDATE_GOLDEN=1 rewrites it"


@pytest.fixture(scope="module")
def layered():
    """torch from the PyTorch index (no hashes), nvidia-cublas-cu12 from PyPI (hashed):
    the default layout puts them in two layer groups, cuda and frameworks."""
    return planner.make_plan(FIXTURES / "two_indexes", FLAGS)


@pytest.fixture(scope="module")
def two_indexes():
    """The same lock with layer-mode "single": one heavy layer, one file per index."""
    return planner.make_plan(FIXTURES / "two_indexes", {**FLAGS, "layer_mode": "single"})


@pytest.fixture(scope="module")
def workspace():
    return planner.make_plan(FIXTURES / "virtual_workspace", FLAGS)


def _selected(name: str, version: str, index: str, hash_: str | None) -> SelectedPackage:
    package = LockedPackage(name=name, version=version, source=Source("registry", index))
    wheel = Artifact(filename=f"{name}-{version}-py3-none-any.whl", hash=hash_, size=10)
    return SelectedPackage(package=package, wheel=wheel)


def _with_heavy(plan, *selected: SelectedPackage):
    choices = tuple(HeavyChoice(s, "test") for s in selected)
    return replace(plan, grouping=Grouping(heavy=choices, light=()))


def test_golden_dockerfile(layered):
    assert_golden("two_indexes.Dockerfile", render.dockerfile(layered))


def test_golden_dockerfile_single_layer(two_indexes):
    assert_golden("two_indexes_single.Dockerfile", render.dockerfile(two_indexes))


def test_stages(two_indexes):
    text = render.dockerfile(two_indexes)
    assert "FROM python:3.11-slim-bookworm AS uvbuild-base\n" in text
    assert "FROM uvbuild-base AS uvbuild-deps\n" in text
    assert "FROM uvbuild-deps AS uvbuild-app\n" in text
    assert "--mount=type=bind,from=ghcr.io/astral-sh/uv:0.13.9,target=/tmp/uvbuild-uv" in text
    assert "cp /tmp/uvbuild-uv/uv /tmp/uvbuild-uv/uvx /bin/" in text
    assert "--mount=type=bind,from=uvbuild-heavy,target=/tmp/uvbuild-heavy" in text
    assert text.endswith("\n")


def test_heavy_files_one_per_index(two_indexes):
    files = requirements.heavy_files(two_indexes)
    assert [(f.name, f.index, f.hashed) for f in files] == [
        ("heavy-1.txt", TORCH_INDEX, False),
        ("heavy-2.txt", PYPI, True),
    ]
    assert files[0].text == "torch==2.7.1+cu128\n"
    assert files[1].text == ("nvidia-cublas-cu12==12.8.4.1 --hash=sha256:" + "2" * 64 + "\n")


def test_require_hashes_only_for_a_hashed_file(two_indexes):
    text = render.dockerfile(two_indexes)
    install = [line for line in text.splitlines() if "uv pip install" in line]
    assert len(install) == 2
    torch_line, pypi_line = install
    assert "--require-hashes" not in torch_line and f"--index-url {TORCH_INDEX}" in torch_line
    assert "--require-hashes" in pypi_line and f"--index-url {PYPI}" in pypi_line
    assert all("--no-deps" in line for line in install)


def test_heavy_files_sorted_and_pinned(two_indexes):
    plan = _with_heavy(
        two_indexes,
        _selected("zeta", "2.0", PYPI, "sha256:bb"),
        _selected("alpha", "1.0", PYPI, "sha256:aa"),
    )
    (only,) = requirements.heavy_files(plan)
    assert only.hashed
    assert only.text == "alpha==1.0 --hash=sha256:aa\nzeta==2.0 --hash=sha256:bb\n"


def test_one_missing_hash_drops_hashes_for_the_whole_file(two_indexes):
    plan = _with_heavy(
        two_indexes,
        _selected("alpha", "1.0", PYPI, "sha256:aa"),
        _selected("beta", "1.0", PYPI, None),
        _selected("gamma", "3.0", TORCH_INDEX, "sha256:cc"),
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


def test_sync_flags_empty_request():
    assert render.sync_flags(Request()) == []


def test_sync_flags_map_the_request():
    request = Request(
        package="member",
        all_packages=True,
        extras=("a", "b"),
        all_extras=True,
        groups=("g",),
        only_groups=("o",),
        no_dev=True,
    )
    assert render.sync_flags(request) == [
        "--package",
        "member",
        "--all-packages",
        "--all-extras",
        "--extra",
        "a",
        "--extra",
        "b",
        "--group",
        "g",
        "--only-group",
        "o",
        "--no-dev",
    ]


def test_sync_flags_reach_both_sync_commands(two_indexes):
    plan = replace(two_indexes, request=Request(extras=("gpu",), no_dev=True))
    text = render.dockerfile(plan)
    assert "uv sync --frozen --no-install-project --extra gpu --no-dev" in text
    assert "uv sync --frozen --no-editable --extra gpu --no-dev" in text


def test_no_syntax_line_by_default(two_indexes):
    text = render.dockerfile(two_indexes)
    assert not any(line.startswith("# syntax=") for line in text.splitlines())
    assert text.startswith("# Generated by uvbuild ")


def test_syntax_line_comes_first(two_indexes):
    text = render.dockerfile(two_indexes, syntax="docker/dockerfile:1.7")
    assert text.splitlines()[0] == "# syntax=docker/dockerfile:1.7"
    assert text.count("# syntax=") == 1


def test_workspace_members_and_no_install_workspace(workspace):
    assert workspace.members == ("a", "b")
    text = render.dockerfile(workspace)
    assert "COPY pyproject.toml uv.lock ./\n" in text
    assert "COPY a/pyproject.toml a/pyproject.toml\n" in text
    assert "COPY b/pyproject.toml b/pyproject.toml\n" in text
    assert "uv sync --frozen --no-install-workspace" in text
    assert "--no-install-project" not in text


def test_single_project_uses_no_install_project(two_indexes):
    text = render.dockerfile(two_indexes)
    assert "uv sync --frozen --no-install-project" in text
    assert "--no-install-workspace" not in text
    assert text.count("COPY pyproject.toml uv.lock ./") == 1


def test_base_environment_and_labels(two_indexes):
    plan = replace(two_indexes, config=replace(two_indexes.config, compile_bytecode=False))
    text = render.dockerfile(plan)
    assert "UV_COMPILE_BYTECODE=0" in text
    assert "UV_PROJECT_ENVIRONMENT=/opt/venv" in text
    labels = render.base_labels(two_indexes)
    assert labels["io.uvbuild.key"] == two_indexes.key
    assert labels["io.uvbuild.packages"] == "nvidia-cublas-cu12==12.8.4.1 torch==2.7.1+cu128"


@pytest.mark.parametrize(
    "text",
    [
        "FROM uvbuild-base\n",
        "FROM uvbuild-base AS app\nRUN true\n",
        "from uvbuild-base as app\n",
        "FROM --platform=$BUILDPLATFORM uvbuild-base AS x\n",
        "FROM python:3.11\nCOPY --from=uvbuild-base /opt/venv /opt/venv\n",
        "FROM python:3.11\nCOPY --link --from=uvbuild-base /opt/venv /opt/venv\n",
        "# syntax=docker/dockerfile:1\nFROM uvbuild-base",
    ],
)
def test_uses_base(text):
    assert render.uses_base(text)


@pytest.mark.parametrize(
    "text",
    [
        "FROM uvbuild-base-old\n",
        "FROM python:3.11 AS uvbuild-base-2\n",
        "FROM python:3.11\nCOPY --from=uvbuild-base-old /a /b\n",
        "# FROM uvbuild-base\nFROM python:3.11\n",
        "  # FROM uvbuild-base\nFROM python:3.11\n",
        "FROM python:3.11\n# COPY --from=uvbuild-base /opt/venv /opt/venv\n",
        "FROM python:3.11\n",
        "",
    ],
)
def test_does_not_use_base(text):
    assert not render.uses_base(text)


def test_dockerignore_user_rules_then_defaults():
    text = ignore.dockerignore("node_modules\n*.log\n")
    lines = text.splitlines()
    assert lines[:3] == ["node_modules", "*.log", "# added by uvbuild"]
    assert lines[3:] == list(ignore.DEFAULT_IGNORES)
    assert ".venv" in lines
    assert text.endswith("\n")


def test_dockerignore_without_user_rules():
    assert ignore.dockerignore(None).splitlines() == ["# added by uvbuild", *ignore.DEFAULT_IGNORES]
    assert ignore.dockerignore("") == ignore.dockerignore(None)


@pytest.mark.parametrize(
    ("line", "uses"),
    [
        ("COPY --link --from=uvbuild-base /opt/venv /opt/venv", True),
        ("RUN --mount=type=cache,target=/c --mount=type=bind,from=uvbuild-base,target=/b ls", True),
        ("RUN echo --from=uvbuild-base", False),
        ("COPY ./--from=uvbuild-base /x", False),
    ],
)
def test_uses_base_reads_flags_not_arguments(line, uses):
    assert render.uses_base(f"FROM python:3.11\n{line}\n") is uses


# -- layer groups --------------------------------------------------------------------------


def stage(text: str, name: str) -> str:
    """The lines of one stage (from its FROM line to the next stage's comment or FROM)."""
    start = text.index(f" AS {name}\n")
    start = text.rindex("\n", 0, start) + 1
    end = text.find("\n\n", start)
    return text[start : end if end != -1 else None]


def test_layered_plan_has_two_groups(layered):
    assert [g.name for g in layered.layers] == ["cuda", "frameworks"]
    assert [c.selected.name for c in layered.layers[0].packages] == ["nvidia-cublas-cu12"]
    assert layered.layer_of("torch").name == "frameworks"
    assert all(len(g.key) == 64 for g in layered.layers)


def test_heavy_files_one_per_group_and_index(layered):
    files = requirements.heavy_files(layered)
    assert [(f.name, f.index, f.hashed, f.layer) for f in files] == [
        ("layer-cuda-1.txt", PYPI, True, "cuda"),
        ("layer-frameworks-1.txt", TORCH_INDEX, False, "frameworks"),
    ]


def test_layer_stages_come_first_and_install_only_their_group(layered):
    text = render.dockerfile(layered)
    order = [line.split(" AS ")[1] for line in text.splitlines() if line.startswith("FROM ")]
    assert order == [
        "uvbuild-layer-cuda",
        "uvbuild-layer-frameworks",
        "uvbuild-base",
        "uvbuild-deps",
        "uvbuild-app",
    ]
    cuda = stage(text, "uvbuild-layer-cuda")
    assert cuda.startswith("FROM python:3.11-slim-bookworm AS uvbuild-layer-cuda\n")
    # only its own requirements file reaches the stage, so another group's change
    # leaves this stage's cache key alone
    assert (
        "--mount=type=bind,from=uvbuild-heavy,source=layer-cuda-1.txt,"
        "target=/tmp/uvbuild-heavy/layer-cuda-1.txt" in cuda
    )
    assert "frameworks" not in cuda
    assert cuda.count("uv pip install") == 1 and "--require-hashes" in cuda
    assert "uv venv /opt/venv" in cuda and f"mkdir {render.LAYER_DIR}" in cuda
    frameworks = stage(text, "uvbuild-layer-frameworks")
    assert f"--index-url {TORCH_INDEX} -r /tmp/uvbuild-heavy/layer-frameworks-1.txt" in frameworks
    assert "--require-hashes" not in frameworks


def test_layered_base_copies_each_group_with_link(layered):
    base = stage(render.dockerfile(layered), "uvbuild-base")
    assert "uv pip install" not in base
    assert "uvbuild-heavy" not in base
    lines = base.splitlines()
    venv = lines.index("    uv venv /opt/venv && \\") + 2  # then the mtimes are set
    assert lines[venv + 1 : venv + 3] == [
        "COPY --link --from=uvbuild-layer-cuda /uvbuild-layer/ /opt/venv/",
        "COPY --link --from=uvbuild-layer-frameworks /uvbuild-layer/ /opt/venv/",
    ]
    labels = render.base_labels(layered)
    assert labels["io.uvbuild.layers"] == "cuda frameworks"
    for group in layered.layers:
        assert labels[f"io.uvbuild.layer.{group.name}.key"] == group.key
        assert f'io.uvbuild.layer.{group.name}.key="{group.key}"' in base
    assert labels["io.uvbuild.recipe"] == "uvbuild-base/3"


def test_single_layer_base_has_no_layer_labels(two_indexes):
    assert two_indexes.layers == ()
    labels = render.base_labels(two_indexes)
    assert not any(k.startswith("io.uvbuild.layer") for k in labels)
    assert "COPY --link" not in render.dockerfile(two_indexes)


def run_new_tops(tmp_path: Path, before: list[str], after: list[str]) -> set[str]:
    """Run the layer stage's gathering step on a fake venv in tmp_path."""
    import subprocess

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
    script = render._NEW_TOPS.replace(render.VENV_BEFORE, str(listing)).replace(
        render.LAYER_DIR, str(layer)
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


# -- reproducible bases ------------------------------------------------------------------


def _timed(selected: SelectedPackage, upload_time: str | None) -> SelectedPackage:
    assert selected.wheel is not None
    return replace(selected, wheel=replace(selected.wheel, upload_time=upload_time))


def test_upload_epoch_is_the_newest_upload_time_or_zero():
    a = _selected("a", "1", PYPI, "sha256:" + "1" * 64)
    b = _selected("b", "1", PYPI, "sha256:" + "2" * 64)
    assert requirements.upload_epoch([]) == 0
    older, newer = "2024-01-01T00:00:00.000000Z", "2024-01-02T00:00:01Z"
    assert requirements.upload_epoch([_timed(a, older), _timed(b, newer)]) == 1704153601
    assert requirements.upload_epoch([_timed(a, older)]) == 1704067200
    # one wheel without an upload time (the PyTorch index records none): 0, not a guess
    assert requirements.upload_epoch([_timed(a, newer), _timed(b, None)]) == 0
    assert requirements.upload_epoch([_timed(a, "yesterday")]) == 0


def test_every_base_and_layer_run_sets_the_epoch_and_clamps_mtimes(layered, two_indexes):
    for plan in (layered, two_indexes):
        text = render.dockerfile(plan)
        for name in [render.layer_stage_name(g) for g in plan.layers] + ["uvbuild-base"]:
            body = stage(text, name)
            runs = body.count("\nRUN ")
            assert runs >= 2  # uv, then the venv
            assert body.count("export SOURCE_DATE_EPOCH=") == runs
            assert body.count("find / -xdev") == runs
            assert "COPY --from=" not in body  # a COPY would date /bin with the build time
        # the app stages are the user's: no epoch there
        assert "SOURCE_DATE_EPOCH" not in stage(text, "uvbuild-deps")
        assert "SOURCE_DATE_EPOCH" not in stage(text, "uvbuild-app")
        assert "ENV SOURCE_DATE_EPOCH" not in text


def test_layer_epochs_come_from_their_own_group(layered):
    text = render.dockerfile(layered)
    for group in layered.layers:
        epoch = requirements.layer_epoch(group)
        assert f"export SOURCE_DATE_EPOCH={epoch} &&" in stage(text, render.layer_stage_name(group))
    # the base's own venv holds no package: epoch 0, whatever the groups hold
    base = stage(text, "uvbuild-base")
    assert "export SOURCE_DATE_EPOCH=0 &&" in base and base.count("SOURCE_DATE_EPOCH=") == 2
    assert requirements.source_date_epoch(layered) == requirements.upload_epoch(layered.heavy)


def test_clamp_leaves_mounts_and_engine_files_alone(two_indexes):
    base = stage(render.dockerfile(two_indexes), "uvbuild-base")
    clamp = next(line for line in base.splitlines() if "-newer" in line and "/opt/venv" in line)
    for path in ("/proc", "/sys", "/dev", "/etc/hosts", "/etc/resolv.conf", render.UV_CACHE):
        assert f"-path {path} " in clamp
    assert f"-path {render.HEAVY_MOUNT} " in clamp
    assert "-xdev" in clamp and f"-newer {render.RUN_START}" in clamp


def test_run_start_marker_clamps_what_the_run_wrote(tmp_path):
    """The find/touch of a RUN, run here on a scratch tree: new files get the epoch, older
    ones keep their time."""
    old = tmp_path / "old"
    old.write_text("x")
    os.utime(old, (1_000_000, 1_000_000))
    marker = tmp_path / "start"
    marker.write_text("")
    os.utime(marker, (2_000_000, 2_000_000))
    new = tmp_path / "dir" / "new"
    new.parent.mkdir()
    new.write_text("y")
    script = (
        f"find {tmp_path} \\( -path {marker} \\) -prune -o \\( -newer {marker} \\) "
        '-exec touch -h -d "@$SOURCE_DATE_EPOCH" {} +'
    )
    subprocess.run(["sh", "-c", script], check=True, env={**os.environ, "SOURCE_DATE_EPOCH": "5"})
    assert int(old.stat().st_mtime) == 1_000_000
    assert int(new.stat().st_mtime) == 5 and int(new.parent.stat().st_mtime) == 5


# -- private indexes ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def private():
    """two_indexes with the PyTorch index named "pytorch" in index-credentials."""
    base = planner.make_plan(FIXTURES / "two_indexes", {**FLAGS, "layer_mode": "single"})
    return replace(
        base,
        config=replace(base.config, index_credentials=("pytorch",)),
        credential_indexes=(("pytorch", TORCH_INDEX),),
    )


def test_index_env_name_follows_uv():
    assert credentials.index_env_name("synth") == "UV_INDEX_SYNTH"
    assert credentials.index_env_name("my-corp.index_2") == "UV_INDEX_MY_CORP_INDEX_2"


def test_index_secrets_and_flags_name_variables_only(private):
    secrets = credentials.index_secrets(private)
    assert [(s.id, s.env) for s in secrets] == [
        ("uv-index-pytorch-username", "UV_INDEX_PYTORCH_USERNAME"),
        ("uv-index-pytorch-password", "UV_INDEX_PYTORCH_PASSWORD"),
    ]
    env = {"UV_INDEX_PYTORCH_USERNAME": "me", "UV_INDEX_PYTORCH_PASSWORD": "hunter2"}
    flags = credentials.secret_flags(private, env)
    assert flags == (
        "id=uv-index-pytorch-username,env=UV_INDEX_PYTORCH_USERNAME",
        "id=uv-index-pytorch-password,env=UV_INDEX_PYTORCH_PASSWORD",
    )
    assert "hunter2" not in " ".join(flags)
    assert credentials.secret_flags(private, {}) == ()
    assert credentials.missing_credentials(private, {"UV_INDEX_PYTORCH_USERNAME": "me"}) == (
        "UV_INDEX_PYTORCH_PASSWORD",
    )
    assert credentials.secret_flags(private, {"UV_INDEX_PYTORCH_USERNAME": "me"}) == flags[:1]


def test_every_uv_run_mounts_the_secrets_and_exports_them_in_its_shell(private):
    text = render.dockerfile(private)
    assert "ENV UV_INDEX" not in text and "ARG" not in text
    for name in ("uvbuild-base", "uvbuild-deps", "uvbuild-app"):
        body = stage(text, name)
        run = body[body.rindex("\nRUN ") :]
        assert "--mount=type=secret,id=uv-index-pytorch-username \\" in run
        assert "--mount=type=secret,id=uv-index-pytorch-password \\" in run
        assert (
            "if [ -f /run/secrets/uv-index-pytorch-password ]; then export "
            'UV_INDEX_PYTORCH_PASSWORD="$(cat /run/secrets/uv-index-pytorch-password)"; fi'
        ) in run
        # the exports come before uv runs, in the same shell
        assert run.index("export UV_INDEX_PYTORCH_USERNAME") < run.index(" uv ")
    base = stage(text, "uvbuild-base")
    # the named index: uv matches the credentials by its name
    assert f"--default-index pytorch={TORCH_INDEX} -r" in base
    assert f"--index-url {PYPI} -r" in base  # the other index needs none
    assert "-path /run/secrets " in base  # never touched by the clamp


def test_without_index_credentials_no_secret_is_mounted(two_indexes):
    text = render.dockerfile(two_indexes)
    assert "type=secret" not in text and "UV_INDEX_" not in text
    assert credentials.index_secrets(two_indexes) == ()


def test_index_credentials_resolve_to_named_indexes(tmp_path):
    (tmp_path / "pyproject.toml").write_text(
        '[project]\nname = "p"\nversion = "0"\n'
        '[[tool.uv.index]]\nname = "corp"\nurl = "https://pkgs.example/simple"\n'
        '[[tool.uv.index]]\nurl = "https://unnamed.example/simple"\n'
    )
    project = planner.read_project(tmp_path)
    assert project.indexes == (("corp", "https://pkgs.example/simple"),)
    config = Config(index_credentials=("corp",))
    assert planner.credential_indexes(project, config) == (("corp", "https://pkgs.example/simple"),)
    with pytest.raises(ConfigError, match=r"index-credentials: no \[\[tool.uv.index\]\] named 'x'"):
        planner.credential_indexes(project, Config(index_credentials=("x",)))
