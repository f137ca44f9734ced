"""uvbuild.gc: which bases stay, which images are built on a base, which cache records
kept a removed image's layers alive (pure), and ``collect`` on the fake engine (no Docker)."""

from __future__ import annotations

import pytest

from tests.fakes import FakeEngine, FakeReport
from tests.paths import FIXTURES
from uvbuild import keylock, planner
from uvbuild.docker.facts.answers import parse_du
from uvbuild.docker.facts.values import CacheRecord, ImageInfo
from uvbuild.gc import (
    BASE_LABEL,
    KEY_LABEL,
    PLATFORM_LABEL,
    PROJECT_LABEL,
    Base,
    built_on,
    collect,
    records_to_prune,
    select,
)


def base(name: str, when: str, platform: str = "linux/amd64", layers=("l1", "l2")) -> Base:
    return Base(f"sha256:{name}", (f"app-uvbuild-base:{name}",), name, platform, when, layers)


A = base("a", "2025-01-01T00:00:00Z")
B = base("b", "2025-01-02T00:00:00Z")
C = base("c", "2025-01-03T00:00:00Z")


def removed(decisions) -> list[str]:
    return [d.base.key for d in decisions if d.remove]


def test_keeps_the_n_newest():
    assert removed(select([A, C, B], keep=2)) == ["a"]
    assert removed(select([A, C, B], keep=1)) == ["b", "a"]
    assert removed(select([A, B, C], keep=0)) == ["c", "b", "a"]
    assert removed(select([A, B], keep=5)) == []


def test_protected_bases_stay_with_their_reason():
    decisions = select([A, B, C], keep=1, protected={"sha256:a": "used by container x"})
    assert removed(decisions) == ["b"]
    assert {d.base.key: d.reason for d in decisions} == {
        "c": "newest",
        "b": "old",
        "a": "used by container x",
    }


def test_each_platform_keeps_its_own_newest():
    arm_old = base("arm-old", "2025-01-05T00:00:00Z", "linux/arm64")
    arm_new = base("arm-new", "2025-01-06T00:00:00Z", "linux/arm64")
    assert sorted(removed(select([A, B, arm_old, arm_new], keep=1))) == ["a", "arm-old"]


def test_negative_keep_is_refused():
    with pytest.raises(ValueError):
        select([A], keep=-1)


def image(name: str, layers: tuple[str, ...], tags=()) -> ImageInfo:
    return ImageInfo(f"sha256:{name}", tuple(tags), (), "", None, layers, 0)


def test_an_image_whose_layers_start_with_the_base_is_built_on_it():
    images = [
        image("app", ("l1", "l2", "l3"), ["app:dev"]),
        image("other", ("l1", "x")),
        image("short", ("l1",)),
        image("a", ("l1", "l2")),  # the base itself
        image("twin", ("l1", "l2")),  # another base with the same layers, ignored
    ]
    assert built_on(A, images, ignore=["sha256:twin"]) == ["app:dev"]
    assert built_on(Base("sha256:z", (), "", "", "", ()), images) == []


def rec(rid, parent=None, shared=False, in_use=False, kind="regular", size=1):
    return CacheRecord(rid, parent, f"desc {rid}", size, shared, in_use, False, kind)


def test_records_that_stopped_being_shared_and_the_builds_on_them_go_children_first():
    # python image record p; base layers b1 <- b2; named-context record n (app's view of
    # the base) with app steps a1 <- a2; another project's build o on p; a cache mount.
    before = [
        rec("p", shared=True),
        rec("b1", "p", shared=True),
        rec("b2", "b1", shared=True),
        rec("n", "p", shared=True),
        rec("a1", "n"),
        rec("a2", "a1"),
        rec("o", "p"),
        rec("kept", "p", shared=True),
        rec("mount", kind="exec.cachemount", shared=True),
    ]
    after = [
        rec("p"),  # docker reports it unshared once the base is gone: flipped, never expanded
        rec("b1", "p"),
        rec("b2", "b1"),
        rec("n", "p"),
        rec("a1", "n"),
        rec("a2", "a1"),
        rec("o", "p"),
        rec("kept", "p", shared=True),
        rec("mount", kind="exec.cachemount"),
    ]
    order = records_to_prune(before, after)
    assert set(order) == {"p", "b1", "b2", "n", "a1", "a2"}
    assert order.index("a2") < order.index("a1") < order.index("n") < order.index("p")
    assert order.index("b2") < order.index("b1")


def test_records_in_use_stay():
    before = [rec("b", shared=True), rec("c", "b", shared=True)]
    after = [rec("b"), rec("c", "b", in_use=True)]
    assert records_to_prune(before, after) == ["b"]


DU = """ID:\t\tz0ugeon6uoxwrftcfco6ofwm1
Parent:\t\tp57qdohs074hge62tlgdoufn2
Created at:\t2026-11-25 17:13:43.223743832 +0000 UTC
Mutable:\tfalse
Reclaimable:\ttrue
Shared:\t\ttrue
Size:\t\t20.5MB
Description:\tmount / from exec /bin/sh -c head -c 20000000 /dev/urandom > /big
Usage count:\t1
Last used:\tLess than a second ago
Type:\t\tregular

ID:\t\tp57qdohs074hge62tlgdoufn2
Created at:\t2026-11-25 17:13:34.273940584 +0000 UTC
Mutable:\tfalse
Reclaimable:\ttrue
Shared:\t\tfalse
Size:\t\t0B
Description:\tfrom local
Usage count:\t4
Last used:\tLess than a second ago
Type:\t\tregular

Shared:\t\t20MB
Private:\t188B
Reclaimable:\t20MB
Total:\t\t20MB
"""


def test_parse_du_verbose():
    first, second = parse_du(DU)
    assert first == CacheRecord(
        "z0ugeon6uoxwrftcfco6ofwm1",
        "p57qdohs074hge62tlgdoufn2",
        "mount / from exec /bin/sh -c head -c 20000000 /dev/urandom > /big",
        20_500_000,
        True,
        False,
        False,
        "regular",
    )
    assert second.parent is None and second.size == 0 and not second.shared
    assert second.description == "from local"


def test_image_info_from_inspect():
    info = ImageInfo.from_inspect(
        {
            "Id": "sha256:x",
            "RepoTags": ["r:1"],
            "Config": {"Labels": {"io.uvbuild.base": "1"}},
            "Created": "2025-01-01T00:00:00Z",
            "Metadata": {"LastTagTime": "0001-01-01T00:00:00Z"},
            "RootFS": {"Layers": ["l1"]},
            "Size": 5,
        }
    )
    assert info.label("io.uvbuild.base") == "1"
    assert info.last_tagged is None and info.layers == ("l1",) and info.tags == ("r:1",)


# -- collect: the selection carried out on the fake engine ------------------------------------


class GcEngine(FakeEngine):
    """Holds ``bases`` (labelled uvbuild bases of the project); ``buildx du`` lists
    ``before`` until an image is untagged, ``after`` once one is; ``du -sb`` of the data
    root shrinks by 300 bytes per untagged image."""

    def __init__(self, bases: list[ImageInfo], before, after) -> None:
        super().__init__()
        self.bases, self.before, self.after = bases, before, after

    def images(self, filters=()):
        self.calls.append(("images", tuple(filters)))
        return list(self.bases)

    def cache_records(self):
        self.calls.append(("cache_records",))
        return self.after if self.named("untag") else self.before

    def data_root_bytes(self):
        self.calls.append(("data_root_bytes",))
        return 1000 - 300 * len(self.named("untag"))


def labelled_base(plan, name: str, when: str) -> ImageInfo:
    labels = {BASE_LABEL: "1", PROJECT_LABEL: plan.project_name, KEY_LABEL: name}
    labels[PLATFORM_LABEL] = "linux/amd64"
    tags = (f"{plan.base_repo}:{name}",)
    return ImageInfo(f"sha256:{name}", tags, tuple(sorted(labels.items())), when, None, (), 0)


@pytest.mark.parametrize("dry_run", [False, True])
def test_collect_removes_the_old_bases_and_their_cache_records(dry_run):
    plan = planner.make_plan(FIXTURES / "two_indexes", {"platform": "linux/amd64"})
    bases = [labelled_base(plan, n, f"2025-01-0{i}T00:00:00Z") for i, n in enumerate("abc", 1)]
    # the base's record b (on the python image's p) and an app build c on it
    before = [rec("p"), rec("b", "p", shared=True), rec("c", "b")]
    after = [rec("p"), rec("b", "p"), rec("c", "b")]
    engine = GcEngine(bases, before, after)
    result = collect(plan, engine, FakeReport(), keep=2, dry_run=dry_run)
    assert engine.named("check") == [("check",)]
    project = (f"label={BASE_LABEL}=1", f"label={PROJECT_LABEL}={plan.project_name}")
    assert ("images", project) in engine.calls
    assert [base.key for base in result.removed] == ["a"]
    if dry_run:
        assert engine.named("untag") == [] and engine.named("prune_record") == []
        assert result.bytes_freed is None
        return
    assert engine.named("untag") == [("untag", f"{plan.base_repo}:a")]
    assert engine.named("prune_record") == [("prune_record", "c"), ("prune_record", "b")]
    assert [record.id for record in result.records] == ["c", "b"]
    assert result.bytes_freed == 300 and result.errors == []
    assert result.to_dict()["measured"] == "du -sb /var/lib/docker"


@pytest.mark.parametrize("dry_run", [False, True])
def test_collect_keeps_a_base_a_running_build_uses(tmp_path, dry_run):
    plan = planner.make_plan(FIXTURES / "two_indexes", {"platform": "linux/amd64"})
    bases = [labelled_base(plan, n, f"2025-01-0{i}T00:00:00Z") for i, n in enumerate("abc", 1)]
    engine = GcEngine(bases, [rec("p")], [rec("p")])
    with keylock.use(tmp_path, "a"):  # a build of the base whose key is "a" runs
        result = collect(plan, engine, FakeReport(), keep=0, dry_run=dry_run, lock_dir=tmp_path)
    assert [base.key for base in result.removed] == ["c", "b"]
    kept = result.to_dict()["kept"]
    assert [(k["key"], k["reason"]) for k in kept] == [("a", "a running build uses it")]
    if not dry_run:
        assert ("untag", f"{plan.base_repo}:a") not in engine.calls
    with keylock.claim(tmp_path, "c") as claimed:
        assert claimed is True  # gc let go of the bases it removed
