"""uvbuild.core.lock: uv.lock mapping -> model.Lock."""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any

import pytest
import tomllib

from tests.paths import CORPUS, FIXTURES
from uvbuild.core.lock import parse_lock
from uvbuild.core.lock.lock_sources import parse_git_url
from uvbuild.core.model import SOURCE_KINDS, ConflictItem, Lock, Source
from uvbuild.errors import LockError

CORPUS_LOCKS = sorted(CORPUS.glob("*/uv.lock")) if CORPUS.is_dir() else []


def load(case: str) -> dict[str, Any]:
    with open(FIXTURES / case / "uv.lock", "rb") as f:
        return tomllib.load(f)


def parse(case: str) -> Lock:
    return parse_lock(load(case), f"{case}/uv.lock")


def one(lock: Lock, name: str):
    (package,) = lock.by_name(name)
    return package


# -- sources -----------------------------------------------------------------------------------


def test_every_source_kind() -> None:
    lock = parse("sources")
    kinds = {p.source.kind for p in lock.packages}
    assert kinds == set(SOURCE_KINDS)
    assert one(lock, "demo-project").source == Source("editable", ".")
    assert one(lock, "member").source == Source("virtual", "packages/member")
    assert one(lock, "from-dir").source == Source("directory", "tools/from-dir")
    assert one(lock, "from-path").source.kind == "path"
    assert one(lock, "pure").source == Source("registry", "https://pypi.org/simple")
    assert one(lock, "local-registry").source == Source("registry", "wheels")


def test_git_source_query_and_fragment() -> None:
    lock = parse("sources")
    git = one(lock, "from-git").source
    assert git == Source(
        kind="git",
        location="https://github.com/example/mono",
        commit="0123456789abcdef0123456789abcdef01234567",
        subdirectory="pkgs/gitpkg",
        rev="main",
    )
    tagged = one(lock, "tagged").source
    assert (tagged.location, tagged.tag, tagged.branch, tagged.rev) == (
        "https://github.com/example/tagged.git",
        "v1.0.0",
        None,
        None,
    )
    assert one(lock, "branched").source.branch == "dev"
    assert git.describe() == (
        "git+https://github.com/example/mono@0123456789abcdef0123456789abcdef01234567#pkgs/gitpkg"
    )


def test_git_url_without_query() -> None:
    source = parse_git_url(
        "https://github.com/corbt/panza.git#df0a6be44d5e023620e7fcfdbb3ec87c74a2540a"
    )
    assert source.location == "https://github.com/corbt/panza.git"
    assert source.commit == "df0a6be44d5e023620e7fcfdbb3ec87c74a2540a"
    assert (source.subdirectory, source.rev, source.tag, source.branch) == (None, None, None, None)


def test_url_source_with_subdirectory_and_bare_sdist() -> None:
    package = one(parse("sources"), "from-url")
    assert package.source == Source(
        "url", "https://example.org/archive/from_url-0.3.0.tar.gz", subdirectory="python"
    )
    # uv records a direct-URL sdist as just a hash: the file name comes from the source URL.
    assert package.sdist is not None
    assert package.sdist.filename == "from_url-0.3.0.tar.gz"
    assert (package.sdist.url, package.sdist.size) == (None, 1234)


# -- artifacts ---------------------------------------------------------------------------------


def test_artifacts_filename_url_path() -> None:
    lock = parse("sources")
    pure = one(lock, "pure")
    assert pure.sdist is not None and pure.sdist.filename == "pure-1.0.0.tar.gz"
    assert pure.sdist.upload_time == "2025-01-01T00:00:00Z"
    (wheel,) = pure.wheels
    assert wheel.filename == "pure-1.0.0-py3-none-any.whl"
    assert (wheel.size, wheel.hash) == (50, "sha256:" + "0" * 64)
    assert one(lock, "from-path").wheels[0].filename == "from_path-0.4.0-py3-none-any.whl"
    local = one(lock, "local-registry").wheels[0]
    assert (local.filename, local.path, local.url) == (
        "local_registry-1.0.0-py3-none-any.whl",
        "wheels/local_registry-1.0.0-py3-none-any.whl",
        None,
    )


def test_percent_encoded_filename_is_decoded() -> None:
    torch = next(p for p in parse("sources").by_name("torch") if p.version == "2.9.1+cpu")
    assert torch.wheels[0].filename == "torch-2.9.1+cpu-cp311-cp311-manylinux_2_28_x86_64.whl"
    assert "%2B" in (torch.wheels[0].url or "")
    assert torch.wheels[0].size is None


@pytest.mark.parametrize(
    ("case", "revision", "upload_time"),
    [
        ("no_revision", 0, None),
        ("revision2", 2, "2025-01-01T00:00:01Z"),
        ("sources", 3, "2025-01-01T00:00:01Z"),
        ("virtual_workspace", 5, "2024-04-18T23:46:50Z"),
    ],
)
def test_revisions_and_upload_time_spellings(
    case: str, revision: int, upload_time: str | None
) -> None:
    lock = parse(case)
    assert (lock.version, lock.revision) == (1, revision)
    if case == "virtual_workspace":
        return
    assert one(lock, "pure").wheels[0].upload_time == upload_time


def test_revision_1() -> None:
    data = load("revision2")
    data["revision"] = 1
    assert parse_lock(data).revision == 1


# -- dependencies, extras, groups, markers -------------------------------------------------------


def test_dependencies_extras_and_groups() -> None:
    lock = parse("sources")
    root = one(lock, "demo-project")
    names = [d.name for d in root.dependencies]
    assert names == ["from-git", "from-url", "torch", "torch", "pure"]
    pure_dep = root.dependencies[-1]
    assert pure_dep.extras == ("fast-mode",)
    cpu = root.dependencies[2]
    assert cpu.version == "2.9.1+cpu"
    assert cpu.source == Source("registry", "https://download.pytorch.org/whl/cpu")
    assert cpu.marker == "sys_platform == 'linux'"
    assert [d.name for d in root.extra("docs")] == ["from-path"]
    assert [d.name for d in root.group("dev")] == ["from-dir"]
    assert [d.name for d in one(lock, "pure").extra("fast-mode")] == ["from-dir"]


def test_metadata_only_contributes_empty_extra_and_group_names() -> None:
    root = one(parse("sources"), "demo-project")
    assert [name for name, _ in root.optional_dependencies] == ["docs", "nothing-here"]
    assert root.extra("nothing-here") == ()
    assert [name for name, _ in root.dev_dependencies] == ["dev", "empty"]


def test_several_entries_with_one_name_are_kept() -> None:
    lock = parse("sources")
    torches = lock.by_name("torch")
    assert [t.version for t in torches] == ["2.9.1", "2.9.1+cpu"]
    assert torches[0].resolution_markers == ("sys_platform != 'linux'",)
    assert len({t.id for t in torches}) == 2


def test_same_version_from_two_sources_kept() -> None:
    data = load("revision2")
    twin = copy.deepcopy(data["package"][0])
    twin["source"] = {"registry": "https://mirror.example.org/simple"}
    data["package"].append(twin)
    lock = parse_lock(data)
    assert len(lock.by_name("pure")) == 2
    assert len({p.id for p in lock.packages}) == 2


def test_top_level_tables() -> None:
    lock = parse("sources")
    assert lock.requires_python == ">=3.10"
    assert lock.supported_markers == ("sys_platform == 'linux'",)
    assert lock.options == (
        ("exclude-newer", "2025-01-01T00:00:00Z"),
        ("exclude-newer-package.torch", "2025-06-01T00:00:00Z"),
        ("resolution-mode", "lowest-direct"),
    )
    manifest = lock.manifest
    assert manifest.members == ("demo-project", "member")
    (req,) = manifest.requirements
    assert (req.name, req.specifier, req.marker, req.extras) == (
        "req-only",
        ">=1",
        "sys_platform == 'linux'",
        ("x",),
    )
    assert manifest.constraints[0].specifier == "<2"
    assert manifest.build_constraints[0].name == "setuptools"
    assert manifest.overrides[0].source == "index=https://example.org/simple"
    assert [(g, [r.name for r in reqs]) for g, reqs in manifest.dependency_groups] == [
        ("ci", ["pure"])
    ]


def test_conflicts_and_resolution_markers() -> None:
    lock = parse_lock(
        {
            "version": 1,
            "revision": 3,
            "resolution-markers": ["sys_platform == 'linux'"],
            "conflicts": [
                [
                    {"package": "Nano_Chat", "extra": "cpu"},
                    {"package": "nano-chat", "extra": "gpu"},
                ],
                [{"package": "x", "group": "a"}, {"package": "x", "group": "b"}],
            ],
        }
    )
    assert lock.packages == ()
    assert lock.resolution_markers == ("sys_platform == 'linux'",)
    assert lock.conflicts == (
        (ConflictItem("nano-chat", extra="cpu"), ConflictItem("nano-chat", extra="gpu")),
        (ConflictItem("x", group="a"), ConflictItem("x", group="b")),
    )


def test_unknown_keys_ignored() -> None:
    data = load("revision2")
    data["brand-new"] = {"x": 1}
    data["package"][0]["wheels"][0]["new-key"] = [1, 2]
    data["package"][0]["newfield"] = "x"
    assert parse_lock(data).packages[0].name == "pure"


def test_names_are_normalised() -> None:
    lock = parse("sources")
    assert lock.by_name("demo-project")
    assert not lock.by_name("Demo_Project")


# -- errors --------------------------------------------------------------------------------------


def test_too_new_version() -> None:
    data = load("revision2")
    data["version"] = 2
    with pytest.raises(LockError) as info:
        parse_lock(data, "proj/uv.lock")
    message = str(info.value)
    assert message.startswith("proj/uv.lock:")
    assert "upgrade uvbuild" in message
    assert "\n" not in message


@pytest.mark.parametrize("version", [None, "1", 0, True, 1.0])
def test_missing_or_invalid_version(version: Any) -> None:
    data = load("revision2")
    if version is None:
        del data["version"]
    else:
        data["version"] = version
    with pytest.raises(LockError, match=r"^uv\.lock: 'version'"):
        parse_lock(data)


def _broken(mutate, match: str) -> None:
    data = load("sources")
    mutate(data)
    with pytest.raises(LockError, match=match) as info:
        parse_lock(data)
    assert "\n" not in str(info.value)


def _torch(data: dict[str, Any]) -> dict[str, Any]:
    return next(p for p in data["package"] if p["version"] == "2.9.1+cpu")


@pytest.mark.parametrize(
    ("mutate", "match"),
    [
        (lambda d: d["package"][0].pop("name"), r"^uv\.lock: package #1: 'name' is missing"),
        (
            lambda d: _torch(d).update(wheels={"url": "x"}),
            r"^uv\.lock: package #11 \('torch'\): 'wheels' must be an array",
        ),
        (lambda d: _torch(d).pop("source"), r"package #11 \('torch'\): 'source' is missing"),
        (lambda d: _torch(d).update(source={"foo": "x"}), r"'source' must name exactly one"),
        (lambda d: _torch(d).update(version=2), r"'version' must be a string"),
        (lambda d: _torch(d)["wheels"][0].pop("url"), r"wheels\[0\] needs one of"),
        (lambda d: _torch(d)["wheels"][0].update(size="big"), r"wheels\[0\]\.size must be"),
        (lambda d: d["package"][0]["dependencies"][0].pop("name"), r"dependencies\[0\] has no"),
        (lambda d: d["package"][0].update(dependencies="pure"), r"'dependencies' must be an array"),
        (lambda d: d.update(package={"name": "x"}), r"'package' must be an array"),
        (lambda d: d["manifest"].update(members="x"), r"'members' must be an array of strings"),
        (lambda d: d.update(conflicts=[[{"extra": "x"}]]), r"conflicts\[0\]\[0\]: 'package'"),
        (lambda d: d.update(revision="3"), r"'revision' must be a non-negative integer"),
    ],
)
def test_broken_fields(mutate, match: str) -> None:
    _broken(mutate, match)


# -- the corpus ----------------------------------------------------------------------------------


def _source_count(lock_path: Path) -> int:
    text = (lock_path.parent / "SOURCE").read_text()
    return int(re.search(r"^packages: (\d+)", text, re.M).group(1))


needs_corpus = pytest.mark.skipif(
    not CORPUS_LOCKS, reason=f"no uv.lock corpus at {CORPUS} (set UVBUILD_CORPUS)"
)


@needs_corpus
@pytest.mark.parametrize("lock_path", CORPUS_LOCKS, ids=lambda p: p.parent.name)
def test_corpus(lock_path: Path) -> None:
    text = lock_path.read_text()
    data = tomllib.loads(text)
    lock = parse_lock(data, str(lock_path))
    assert len(lock.packages) == _source_count(lock_path)
    assert len(lock.packages) == len(re.findall(r"^\[\[package\]\]$", text, re.M))
    assert lock.version == 1
    assert lock.revision == data.get("revision", 0)
    ids = [p.id for p in lock.packages]
    assert len(ids) == len(set(ids)), "name+version+source must identify an entry"
    names = {p.name for p in lock.packages}
    wheel_count = 0
    for package in lock.packages:
        for dep in package.dependencies + tuple(
            d for _, deps in package.optional_dependencies + package.dev_dependencies for d in deps
        ):
            assert dep.name in names, f"{package.name} -> {dep.name}"
            if len(lock.by_name(dep.name)) > 1:
                assert dep.version is not None or dep.source is not None
        for wheel in package.wheels:
            wheel_count += 1
            assert wheel.filename.endswith(".whl")
            assert "%" not in wheel.filename
            assert wheel.hash is None or wheel.hash.startswith("sha256:")
        if package.sdist is not None:
            assert package.sdist.filename
    assert wheel_count == len(re.findall(r"\.whl\"", text)) - text.count('.whl", marker')
    assert set(lock.manifest.members) <= names
    for group in lock.conflicts:
        assert all(item.package in names for item in group)


@needs_corpus
def test_corpus_specifics() -> None:
    def get(case: str) -> Lock:
        path = CORPUS / case / "uv.lock"
        return parse_lock(tomllib.loads(path.read_text()), str(path))

    nanochat = get("karpathy__nanochat")
    assert sorted(p.version for p in nanochat.by_name("torch")) == [
        "2.9.1",
        "2.9.1",
        "2.9.1+cpu",
        "2.9.1+cu128",
    ]
    assert nanochat.conflicts == (
        (ConflictItem("nanochat", extra="cpu"), ConflictItem("nanochat", extra="gpu")),
    )
    assert dict(nanochat.options)["exclude-newer-span"] == "P7D"
    openpi = get("Physical-Intelligence__openpi")
    assert openpi.manifest.members == ("openpi", "openpi-client")
    lerobot = one(openpi, "lerobot").source
    assert lerobot.kind == "git" and lerobot.rev == lerobot.commit
    fastapi = get("fastapi__full-stack-fastapi-template")
    assert [g for g, _ in fastapi.manifest.dependency_groups] == ["dev", "github-actions"]
    dia = get("nari-labs__dia")
    assert any("+cu126-" in w.filename for p in dia.by_name("torch") for w in p.wheels)
    assert all(w.upload_time for p in dia.by_name("numpy") for w in p.wheels)
    zonos = get("Zyphra__Zonos")
    assert zonos.revision == 0
    assert one(zonos, "zonos").source.kind == "virtual"
