"""uvbuild.gc: which bases stay, which images are built on a base, which cache records
kept a removed image's layers alive (pure; no Docker)."""

from __future__ import annotations

import pytest

from uvbuild.docker.facts import CacheRecord, ImageInfo, parse_du
from uvbuild.gc import Base, built_on, records_to_prune, select


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
