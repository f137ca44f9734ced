"""uvbuild.core.selection against real uv: `uv sync --dry-run` and `uv export` on the
corpus and the fixtures must install exactly what select() picks (runs uv: slow)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest
import tomllib
from packaging.markers import Marker
from packaging.specifiers import SpecifierSet

from tests.core.locks import corpus, names
from tests.paths import CORPUS, FIXTURES
from uvbuild.core.model import Request, Target
from uvbuild.core.selection import select
from uvbuild.core.selection.markers import marker_environment
from uvbuild.errors import ConfigError, LockError

UV = shutil.which("uv")
HERE_PYTHON = f"{sys.version_info.major}.{sys.version_info.minor}"

# (corpus case, project name, uv flags, Request): default groups follow each pyproject.
UV_CASES = [
    ("karpathy__nanochat", "nanochat", ["--extra", "cpu"], Request(extras=("cpu",))),
    ("karpathy__nanochat", "nanochat", ["--extra", "gpu"], Request(extras=("gpu",))),
    ("karpathy__nanochat", "nanochat", ["--group", "dev"], Request(groups=("dev",))),
    ("Physical-Intelligence__openpi", "openpi", [], Request()),
    ("Physical-Intelligence__openpi", "openpi", ["--all-packages"], Request(all_packages=True)),
    (
        "Physical-Intelligence__openpi",
        "openpi",
        ["--package", "openpi-client"],
        Request(package="openpi-client"),
    ),
    ("OpenPipe__ART", "openpipe-art", ["--all-extras"], Request(all_extras=True)),
    ("OpenPipe__ART", "openpipe-art", ["--no-dev"], Request(no_dev=True)),
    ("Zyphra__Zonos", "zonos", ["--all-extras"], Request(all_extras=True)),
    ("nari-labs__dia", "nari-tts", [], Request()),
    # uv's other selection flags
    ("karpathy__nanochat", "nanochat", ["--all-extras"], Request(all_extras=True)),
    (
        "karpathy__nanochat",
        "nanochat",
        ["--all-extras", "--no-extra", "gpu"],
        Request(all_extras=True, no_extras=("gpu",)),
    ),
    (
        "karpathy__nanochat",
        "nanochat",
        ["--extra", "cpu", "--no-extra", "cpu"],
        Request(extras=("cpu",), no_extras=("cpu",)),
    ),
    (
        "karpathy__nanochat",
        "nanochat",
        ["--all-groups", "--extra", "gpu"],
        Request(all_groups=True, extras=("gpu",)),
    ),
    ("karpathy__nanochat", "nanochat", ["--dev"], Request(dev=True)),
    ("Physical-Intelligence__openpi", "openpi", ["--no-group", "dev"], Request(no_groups=("dev",))),
    ("Physical-Intelligence__openpi", "openpi", ["--all-groups"], Request(all_groups=True)),
    (
        "Physical-Intelligence__openpi",
        "openpi",
        ["--all-groups", "--no-group", "rlds"],
        Request(all_groups=True, no_groups=("rlds",)),
    ),
    ("Physical-Intelligence__openpi", "openpi", ["--only-dev"], Request(only_dev=True)),
    (
        "Physical-Intelligence__openpi",
        "openpi",
        ["--no-default-groups"],
        Request(no_default_groups=True),
    ),
    (
        "Physical-Intelligence__openpi",
        "openpi",
        ["--no-default-groups", "--dev"],
        Request(no_default_groups=True, dev=True),
    ),
    (
        "Physical-Intelligence__openpi",
        "openpi",
        ["--group", "rlds", "--no-group", "rlds"],
        Request(groups=("rlds",), no_groups=("rlds",)),
    ),
    (
        "Physical-Intelligence__openpi",
        "openpi",
        ["--package", "openpi-client", "--package", "openpi"],
        Request(package="openpi-client", packages=("openpi-client", "openpi")),
    ),
    (
        "Physical-Intelligence__openpi",
        "openpi",
        ["--all-packages", "--no-dev"],
        Request(all_packages=True, no_dev=True),
    ),
    (
        "OpenPipe__ART",
        "openpipe-art",
        ["--all-extras", "--no-extra", "swebench"],
        Request(all_extras=True, no_extras=("swebench",)),
    ),
    ("nari-labs__dia", "nari-tts", ["--only-dev"], Request(only_dev=True)),
    ("nari-labs__dia", "nari-tts", ["--no-group", "dev"], Request(no_groups=("dev",))),
]


def _default_groups(project_dir: Path) -> tuple[str, ...]:
    pyproject = tomllib.loads((project_dir / "pyproject.toml").read_text())
    return tuple(pyproject.get("tool", {}).get("uv", {}).get("default-groups", ["dev"]))


def _uv_sync_dry_run(project_dir: Path, flags: list[str], arch: str, tmp_path: Path):
    copy = tmp_path / project_dir.name
    shutil.copytree(project_dir, copy)
    env = {**os.environ, "UV_PYTHON_DOWNLOADS": "never", "UV_NO_CONFIG": "1"}
    result = subprocess.run(
        [
            *(UV, "sync", "--frozen", "--dry-run", "--offline", "--no-progress"),
            *("--color", "never", "--python-platform", f"{arch}-manylinux_2_35"),
            *("--python", sys.executable, *flags),
        ],
        cwd=copy,
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    if result.returncode != 0:
        return None
    installed = {}
    for line in (result.stdout + result.stderr).splitlines():
        match = re.match(r"^ \+ ([A-Za-z0-9._-]+)(?:==(\S+)| @ )", line)
        if match:
            installed[match.group(1)] = match.group(2)
    return installed


@pytest.mark.skipif(UV is None, reason="uv is not on PATH")
@pytest.mark.parametrize("arch", ["x86_64", "aarch64"])
@pytest.mark.parametrize(
    ("case", "project", "flags", "request_"), UV_CASES, ids=lambda v: str(v) if v else "default"
)
def test_matches_uv_sync_dry_run(
    case: str, project: str, flags: list[str], request_: Request, arch: str, tmp_path: Path
) -> None:
    lock = corpus(case)
    if lock.requires_python and not SpecifierSet(lock.requires_python).contains(
        f"{HERE_PYTHON}.99"
    ):
        pytest.skip(f"{case} does not support this interpreter ({HERE_PYTHON})")
    project_dir = CORPUS / case
    request_ = replace(request_, default_groups=_default_groups(project_dir))
    target = Target(
        platform="linux/amd64" if arch == "x86_64" else "linux/arm64",
        python=".".join(map(str, sys.version_info[:3])),
        glibc=(2, 35),
    )
    expected = _uv_sync_dry_run(project_dir, flags, arch, tmp_path)
    if expected is None:
        # uv cannot install this on the target: we must say so, by error or by package.
        try:
            selection = select(lock, request_, target, project)
        except (LockError, ConfigError):
            return
        assert any(s.unavailable for s in selection)
        return
    selection = select(lock, request_, target, project)
    ours = {s.name: (s.version if s.package.source.kind == "registry" else None) for s in selection}
    assert ours == expected


@pytest.mark.skipif(UV is None, reason="uv is not on PATH")
def test_fastapi_matches_uv_export(tmp_path: Path) -> None:
    """No Python 3.14 here for a dry run: evaluate `uv export`'s markers for the target."""
    lock = corpus("fastapi__full-stack-fastapi-template")
    copy = tmp_path / "fastapi"
    shutil.copytree(CORPUS / "fastapi__full-stack-fastapi-template", copy)
    result = subprocess.run(
        [UV, "export", "--frozen", "--no-hashes", "--format", "requirements.txt", "--offline"],
        cwd=copy,
        capture_output=True,
        text=True,
        env={**os.environ, "UV_PYTHON_DOWNLOADS": "never", "UV_NO_CONFIG": "1"},
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    target = Target(python="3.14")
    env = marker_environment(target)
    expected = {}
    for line in result.stdout.splitlines():
        line = line.strip()
        if not line or line.startswith(("#", "-e")):
            continue
        requirement, _, marker = line.partition(" ; ")
        if marker and not Marker(marker).evaluate(env, context="lock_file"):
            continue
        name, _, version = requirement.partition("==")
        expected[name] = version
    ours = names(select(lock, Request(), target, None))
    assert ours.pop("app") == "0.1.0"
    assert ours == expected


# The same flags to `uv sync` and to `uvbuild plan`, on the fixtures that uv locked: every
# selection flag, default-groups in its list and "all" forms, and the refusals.
FIXTURE_UV_CASES = [
    ("default_groups_all", []),
    ("default_groups_all", ["--no-default-groups"]),
    ("default_groups_all", ["--no-group", "lint"]),
    ("default_groups_all", ["--no-dev"]),
    ("default_groups_all", ["--dev", "--no-default-groups"]),
    ("default_groups_all", ["--only-dev"]),
    ("default_groups_all", ["--only-group", "lint"]),
    ("default_groups_all", ["--all-groups", "--no-group", "docs"]),
    ("default_groups_all", ["--group", "lint", "--no-group", "lint"]),
    ("default_groups_all", ["--extra", "x"]),
    ("default_groups_all", ["--extra", "x", "--no-extra", "x"]),
    ("default_groups_all", ["--all-extras", "--no-extra", "x"]),
    ("default_groups_all", ["--package", "m"]),
    ("default_groups_all", ["--package", "m", "--package", "app"]),
    ("default_groups_all", ["--all-packages"]),
    ("default_groups_all", ["--all-packages", "--extra", "x"]),
    ("default_groups_all", ["--no-extra", "nope"]),
    ("default_groups_all", ["--no-group", "nope"]),
    ("default_groups_all", ["--package", "nope"]),
    ("default_groups_all", ["--extra", "x", "--all-extras"]),
    ("default_groups_all", ["--extra", "x", "--only-group", "lint"]),
    ("default_groups_all", ["--group", "lint", "--only-group", "lint"]),
    ("default_groups_all", ["--only-dev", "--group", "lint"]),
    ("default_groups_all", ["--only-dev", "--all-groups"]),
    ("default_groups_all", ["--no-dev", "--only-dev"]),
    ("default_groups_all", ["--all-groups", "--only-group", "lint"]),
    ("default_groups_all", ["--dev", "--only-group", "lint"]),
    ("default_groups_all", ["--package", "m", "--all-packages"]),
    ("cross_member_conflict", []),
    ("cross_member_conflict", ["--extra", "y"]),
    ("cross_member_conflict", ["--extra", "withb"]),
    ("cross_member_conflict", ["--extra", "y", "--extra", "withb"]),
    ("cross_member_conflict", ["--all-extras"]),
    ("cross_member_conflict", ["--all-extras", "--no-extra", "y"]),
    ("cross_member_conflict", ["--group", "g"]),
    ("cross_member_conflict", ["--group", "g", "--extra", "withb"]),
    ("cross_member_conflict", ["--group", "hasb"]),
    ("cross_member_conflict", ["--group", "hasb", "--extra", "y"]),
    ("cross_member_conflict", ["--all-groups"]),
    ("cross_member_conflict", ["--package", "b", "--extra", "y"]),
    ("cross_member_conflict", ["--package", "b", "--group", "g"]),
    ("cross_member_conflict", ["--all-packages", "--extra", "y"]),
    ("cross_member_conflict", ["--all-packages", "--group", "g"]),
    ("virtual_workspace", ["--no-group", "dev"]),
    ("virtual_workspace", ["--all-groups"]),
    ("virtual_workspace", ["--only-dev"]),
    ("virtual_workspace", ["--no-default-groups"]),
    ("virtual_workspace", ["--package", "a", "--package", "b"]),
    ("virtual_workspace", ["--package", "a", "--package", "a"]),
    ("virtual_workspace", ["--package", "a"]),
    ("empty_extra", ["--all-extras", "--no-extra", "e"]),
    ("empty_extra", ["--all-groups"]),
]


@pytest.mark.skipif(UV is None, reason="uv is not on PATH")
@pytest.mark.parametrize("arch", ["x86_64", "aarch64"])
@pytest.mark.parametrize(
    ("case", "flags"),
    FIXTURE_UV_CASES,
    ids=lambda v: v if isinstance(v, str) else " ".join(v) or "default",
)
def test_fixture_matches_uv_sync_dry_run(
    case: str, flags: list[str], arch: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from uvbuild import cli

    expected = _uv_sync_dry_run(FIXTURES / case, flags, arch, tmp_path)
    platform = "linux/amd64" if arch == "x86_64" else "linux/arm64"
    args = [
        *("plan", "--json", "--platform", platform, "--glibc", "2.35"),
        *("--python", ".".join(map(str, sys.version_info[:3]))),
        *("--lock", str(FIXTURES / case / "uv.lock"), *flags, str(FIXTURES / case)),
    ]
    with pytest.raises(SystemExit) as info:
        cli.main(args)
    out, err = capsys.readouterr()
    if expected is None:
        # uv refuses this selection: so do we, with exit 2 and one line.
        assert info.value.code == 2, out
        assert len(err.strip().splitlines()) == 1 and "Traceback" not in err, err
        return
    assert info.value.code in (0, None), err
    document = json.loads(out)
    ours = {
        entry["name"]: entry["version"] if entry["source-kind"] == "registry" else None
        for entry in document["heavy"] + document["light"]
    }
    assert ours == expected
