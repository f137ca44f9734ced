"""uvbuild.core.selection: what `uv sync --frozen` installs on a target."""

from __future__ import annotations

from dataclasses import replace

import pytest

from tests.core.locks import AMD64, by_name, corpus, fixture, names
from tests.paths import FIXTURES
from uvbuild.core.model import Request, Target
from uvbuild.core.selection import select
from uvbuild.errors import ConfigError, LockError


def test_default_selection() -> None:
    selection = select(fixture("workspace"), Request(), AMD64, "proj")
    assert names(selection) == {
        "dual": "2.0.0",
        "lib": "0.2.0",
        "native": "1.0.0",
        "proj": "0.1.0",
        "pure": "1.0.0",
        "tester": "1.0.0",
        "x86-only": "1.0.0",
    }
    assert [s.name for s in selection] == sorted(s.name for s in selection)
    for local in ("proj", "lib"):
        chosen = by_name(selection, local)
        assert (chosen.wheel, chosen.from_sdist) == (None, False)
    native = by_name(selection, "native")
    assert native.wheel is not None
    assert native.wheel.filename == "native-1.0.0-cp311-cp311-manylinux_2_28_x86_64.whl"
    assert native.size == 10


def test_project_found_without_name() -> None:
    lock = fixture("workspace")
    assert select(lock, Request(), AMD64) == select(lock, Request(), AMD64, "proj")


def test_no_dev_and_groups() -> None:
    lock = fixture("workspace")
    assert "tester" not in names(select(lock, Request(no_dev=True), AMD64, "proj"))
    with_lint = names(select(lock, Request(groups=("lint",)), AMD64, "proj"))
    assert {"tester", "linter"} <= set(with_lint)
    no_defaults = names(select(lock, Request(default_groups=()), AMD64, "proj"))
    assert "tester" not in no_defaults


def test_only_group() -> None:
    selection = select(fixture("workspace"), Request(only_groups=("lint",)), AMD64, "proj")
    assert names(selection) == {"linter": "1.0.0"}


def test_extras_follow_edge_extras() -> None:
    lock = fixture("workspace")
    fast = names(select(lock, Request(extras=("fast",)), AMD64, "proj"))
    assert {"speedup", "turbolib"} <= set(fast)
    assert "sdist-only" not in fast
    everything = select(lock, Request(all_extras=True), AMD64, "proj")
    sdist = by_name(everything, "sdist-only")
    assert (sdist.wheel, sdist.from_sdist) == (None, True)


def test_package_and_all_packages() -> None:
    lock = fixture("workspace")
    only_lib = names(select(lock, Request(package="lib"), AMD64, "proj"))
    assert only_lib == {"lib": "0.2.0", "lib-tester": "1.0.0", "pure": "1.0.0"}
    everything = names(select(lock, Request(all_packages=True), AMD64, "proj"))
    assert {"proj", "lib", "tester", "lib-tester", "native"} <= set(everything)


def test_unknown_extra_group_package() -> None:
    lock = fixture("workspace")
    with pytest.raises(ConfigError) as info:
        select(lock, Request(extras=("fastt",)), AMD64, "proj")
    assert str(info.value) == "--extra fastt: 'proj' has no extra 'fastt' (it has: docs, fast)"
    with pytest.raises(ConfigError, match=r"^--group typo: 'proj' has no dependency group"):
        select(lock, Request(groups=("typo",)), AMD64, "proj")
    with pytest.raises(ConfigError, match=r"^--only-group typo:"):
        select(lock, Request(only_groups=("typo",)), AMD64, "proj")
    with pytest.raises(ConfigError, match=r"^--package nope: not a workspace member"):
        select(lock, Request(package="nope"), AMD64, "proj")
    # A missing *default* group is fine, as in uv.
    select(lock, Request(default_groups=("dev", "absent")), AMD64, "proj")


def test_python_version_picks_wheel_and_entry() -> None:
    lock = fixture("workspace")
    py310 = select(lock, Request(), replace(AMD64, python="3.10"), "proj")
    assert by_name(py310, "native").wheel.filename.startswith("native-1.0.0-cp310-cp310-")
    assert names(py310)["dual"] == "1.0.0"
    py312 = select(lock, Request(), replace(AMD64, python="3.12"), "proj")
    native = by_name(py312, "native")
    assert (native.wheel, native.from_sdist) == (None, True)


def test_virtual_workspace_root_installs_all_members() -> None:
    # Recorded from `uv sync --frozen --dry-run` (uv 0.13.9) in that workspace.
    lock = fixture("virtual_workspace")
    assert names(select(lock, Request(), AMD64, None)) == {
        "a": "0.1.0",
        "b": "0.1.0",
        "idna": "3.20",
        "packaging": "26.4",
        "pluggy": "1.7.0",
        "six": "1.17.0",
    }
    assert set(names(select(lock, Request(no_dev=True), AMD64, None))) == {"a", "b", "idna", "six"}
    assert set(names(select(lock, Request(package="a"), AMD64, None))) == {"a", "pluggy", "six"}
    lint = select(lock, Request(only_groups=("lint",)), AMD64, None)
    assert set(names(lint)) == {"iniconfig"}
    all_packages = select(lock, Request(all_packages=True), AMD64, None)
    assert names(all_packages) == names(select(lock, Request(), AMD64, None))


def test_empty_extra_and_group_are_known() -> None:
    lock = fixture("empty_extra")
    selection = select(lock, Request(extras=("e",), groups=("g",)), AMD64, "proj")
    # The project is virtual: uv does not install it.
    assert names(selection) == {"iniconfig": "2.3.1", "six": "1.17.0"}
    with pytest.raises(
        ConfigError, match=r"^--extra zz: 'proj' has no extra 'zz' \(it has: e, f\)"
    ):
        select(lock, Request(extras=("zz",)), AMD64, "proj")


# -- uv's selection flags ------------------------------------------------------------------------


def test_no_group_beats_group_all_groups_and_defaults() -> None:
    lock = fixture("workspace")
    assert "tester" not in names(select(lock, Request(no_groups=("dev",)), AMD64, "proj"))
    both = names(select(lock, Request(groups=("lint",), no_groups=("lint",)), AMD64, "proj"))
    assert "linter" not in both and "tester" in both
    every = names(select(lock, Request(all_groups=True, no_groups=("dev",)), AMD64, "proj"))
    assert "linter" in every and "tester" not in every


def test_all_groups_and_no_default_groups() -> None:
    lock = fixture("workspace")
    every = names(select(lock, Request(all_groups=True, default_groups=()), AMD64, "proj"))
    assert {"tester", "linter"} <= set(every)
    bare = names(select(lock, Request(no_default_groups=True), AMD64, "proj"))
    assert "tester" not in bare and "proj" in bare
    # --dev names the dev group explicitly: it counts even without the defaults.
    dev = names(select(lock, Request(no_default_groups=True, dev=True), AMD64, "proj"))
    assert "tester" in dev


def test_only_dev_and_the_dev_flags_order() -> None:
    lock = fixture("workspace")
    only = names(select(lock, Request(only_dev=True), AMD64, "proj"))
    assert only == {"tester": "1.0.0"}
    # uv: --only-dev > --no-dev > --dev
    assert names(select(lock, Request(only_dev=True, dev=True), AMD64, "proj")) == only
    assert "tester" not in names(select(lock, Request(no_dev=True, dev=True), AMD64, "proj"))


def test_no_extra_beats_all_extras_and_extra() -> None:
    lock = fixture("workspace")
    most = names(select(lock, Request(all_extras=True, no_extras=("docs",)), AMD64, "proj"))
    assert "speedup" in most and "sdist-only" not in most
    none = names(select(lock, Request(extras=("fast",), no_extras=("fast",)), AMD64, "proj"))
    assert "speedup" not in none
    with pytest.raises(ConfigError, match=r"^--no-extra nope: 'proj' has no extra 'nope'"):
        select(lock, Request(no_extras=("nope",)), AMD64, "proj")
    with pytest.raises(ConfigError, match=r"^--no-group nope: 'proj' has no dependency group"):
        select(lock, Request(no_groups=("nope",)), AMD64, "proj")


def test_repeated_package() -> None:
    lock = fixture("virtual_workspace")
    both = names(select(lock, Request(packages=("a", "b")), AMD64, None))
    # several --package keep the virtual root's groups, as --all-packages does (uv 0.13.9)
    assert both == names(select(lock, Request(all_packages=True), AMD64, None))
    assert set(names(select(lock, Request(package="a", packages=("a",)), AMD64, None))) == {
        "a",
        "pluggy",
        "six",
    }


@pytest.mark.parametrize(
    ("request_", "flags"),
    [
        (Request(extras=("fast",), all_extras=True), ("--extra", "--all-extras")),
        (Request(extras=("fast",), only_groups=("lint",)), ("--extra", "--only-group")),
        (Request(all_extras=True, only_groups=("lint",)), ("--all-extras", "--only-group")),
        (Request(dev=True, only_groups=("lint",)), ("--dev", "--only-group")),
        (Request(no_dev=True, only_dev=True), ("--no-dev", "--only-dev")),
        (Request(groups=("lint",), only_dev=True), ("--group", "--only-dev")),
        (Request(all_groups=True, only_dev=True), ("--all-groups", "--only-dev")),
        (Request(groups=("lint",), only_groups=("lint",)), ("--group", "--only-group")),
        (Request(all_groups=True, only_groups=("lint",)), ("--all-groups", "--only-group")),
        (Request(package="lib", all_packages=True), ("--package", "--all-packages")),
    ],
)
def test_flags_uv_refuses_together(request_: Request, flags: tuple[str, str]) -> None:
    with pytest.raises(ConfigError) as info:
        select(fixture("workspace"), request_, AMD64, "proj")
    message = str(info.value)
    assert message.startswith(f"{flags[0]} and {flags[1]} cannot be used together")
    assert "\n" not in message


def test_default_groups_all_fixture() -> None:
    """[tool.uv] default-groups = "all" crashed the planner (TypeError in make_request)."""
    from uvbuild import planner

    plan = planner.make_plan(FIXTURES / "default_groups_all", {"python": "3.11"})
    assert plan.request.default_groups == ("dev", "docs", "lint")
    assert set(names(plan.selected)) == {"app", "core", "devtool", "docstool", "linttool", "m"}
    member = planner.make_plan(FIXTURES / "default_groups_all", {"package": "m"})
    assert set(names(member.selected)) == {"m", "mdev"}  # "all" covers the member's groups
    bare = planner.make_plan(FIXTURES / "default_groups_all", {"no_default_groups": True})
    assert set(names(bare.selected)) == {"app", "core", "m"}


def test_extra_conflict_across_workspace_members() -> None:
    """uv applies --extra y to member b installed through app[withb]: app[y] and b[y]
    conflict, and `uv sync --frozen --extra y --extra withb` fails."""
    lock = fixture("cross_member_conflict")
    assert set(names(select(lock, Request(extras=("y",)), AMD64, "app"))) == {"app", "appy"}
    with_b = names(select(lock, Request(extras=("withb",)), AMD64, "app"))
    assert set(with_b) == {"app", "b", "bplain"}
    for request_ in (
        Request(extras=("y", "withb")),
        Request(all_extras=True),
        Request(extras=("y",), groups=("hasb",)),
    ):
        with pytest.raises(ConfigError) as info:
            select(lock, request_, AMD64, "app")
        assert str(info.value).startswith("extra 'y' of 'app' and extra 'y' of 'b' are both")
    for request_ in (Request(groups=("g",), extras=("withb",)), Request(all_groups=True)):
        with pytest.raises(ConfigError, match=r"^group 'g' of 'app' and group 'g' of 'b'"):
            select(lock, request_, AMD64, "app")
    # Only b: its own extra and group are fine, and --no-extra y lifts the conflict.
    assert "by" in names(select(lock, Request(package="b", extras=("y",)), AMD64, "app"))
    assert "bg" in names(select(lock, Request(package="b", groups=("g",)), AMD64, "app"))
    lifted = names(select(lock, Request(all_extras=True, no_extras=("y",)), AMD64, "app"))
    assert set(lifted) == {"app", "b", "bplain"}


def test_long_member_lists_are_cut() -> None:
    lock = fixture("virtual_workspace")
    many = tuple(f"member-{i:02d}" for i in range(90))
    lock = replace(lock, manifest=replace(lock.manifest, members=many))
    with pytest.raises(ConfigError) as info:
        select(lock, Request(package="nope"), AMD64, None)
    message = str(info.value)
    assert message == (
        "--package nope: not a workspace member (members: member-00, member-01, member-02, "
        "member-03, member-04 and 85 more)"
    )


def test_project_missing_from_the_lock_names_the_file() -> None:
    with pytest.raises(LockError) as info:
        select(fixture("workspace"), Request(), AMD64, "other", lock_file="/p/uv.lock")
    message = str(info.value)
    assert message.startswith("/p/uv.lock: the project 'other' ")
    assert "0 times" not in message and "run `uv lock`" in message


# -- the corpus -----------------------------------------------------------------------------------


def test_nanochat_cpu_gpu_and_default_torch() -> None:
    lock = corpus("karpathy__nanochat")
    base = Request(default_groups=())
    cpu = select(lock, replace(base, extras=("cpu",)), AMD64, "nanochat")
    torch = by_name(cpu, "torch")
    assert torch.version == "2.9.1+cpu"
    assert torch.package.source.location == "https://download.pytorch.org/whl/cpu"
    assert torch.wheel is not None and "x86_64" in torch.wheel.filename
    assert not any(s.name.startswith("nvidia-") for s in cpu)

    gpu = select(lock, replace(base, extras=("gpu",)), AMD64, "nanochat")
    assert by_name(gpu, "torch").version == "2.9.1+cu128"
    assert {"nvidia-cublas-cu12", "nvidia-cudnn-cu12", "nvidia-nccl-cu12"} <= set(names(gpu))

    plain = by_name(select(lock, base, AMD64, "nanochat"), "torch")
    assert (plain.version, plain.package.source.location) == ("2.9.1", "https://pypi.org/simple")
    assert "nanochat" not in names(cpu)  # virtual root


def test_nanochat_both_extras_and_unknown_extra() -> None:
    lock = corpus("karpathy__nanochat")
    with pytest.raises(ConfigError, match="conflicting"):
        select(lock, Request(extras=("cpu", "gpu")), AMD64, "nanochat")
    with pytest.raises(ConfigError) as info:
        select(lock, Request(extras=("gpuu",)), AMD64, "nanochat")
    assert str(info.value) == "--extra gpuu: 'nanochat' has no extra 'gpuu' (it has: cpu, gpu)"


def test_openpi_gpu_stack() -> None:
    lock = corpus("Physical-Intelligence__openpi")
    target = replace(AMD64, glibc=(2, 35))  # rerun-sdk only ships manylinux_2_31 wheels
    amd = select(lock, Request(), target, "openpi")
    chosen = names(amd)
    assert chosen["torch"] == "2.7.1"
    assert {"jax-cuda12-plugin", "jax-cuda12-pjrt", "nvidia-cudnn-cu12", "nvidia-nccl-cu12"} <= set(
        chosen
    )
    assert {"openpi", "openpi-client"} <= set(chosen)
    assert by_name(amd, "lerobot").from_sdist  # a git source is built
    arm = select(lock, Request(), replace(target, platform="linux/arm64"), "openpi")
    for selected in arm:
        if selected.wheel is not None:
            assert "x86_64" not in selected.wheel.filename, selected.wheel.filename
    assert "nvidia-cusparselt-cu12" in chosen and "nvidia-cusparselt-cu12" not in names(arm)
    rerun = by_name(select(lock, Request(), AMD64, "openpi"), "rerun-sdk")
    assert rerun.wheel is None
    assert "its wheels need glibc 2.31" in (rerun.unavailable or "")


def test_fastapi_virtual_root() -> None:
    lock = corpus("fastapi__full-stack-fastapi-template")
    selection = names(select(lock, Request(), Target(python="3.14"), None))
    assert {"app", "fastapi", "sqlmodel", "alembic", "prek", "zizmor"} <= set(selection)
    assert "torch" not in selection
    only_app = names(select(lock, Request(package="app"), Target(python="3.14"), None))
    assert "prek" not in only_app and "fastapi" in only_app


def test_zonos_sdist_only_packages() -> None:
    lock = corpus("Zyphra__Zonos")
    selection = select(lock, Request(all_extras=True), AMD64, "zonos")
    flash = by_name(selection, "flash-attn")
    assert (flash.wheel, flash.from_sdist) == (None, True)
    assert "zonos" not in names(selection)


# -- cross-checks against uv itself ---------------------------------------------------------------
