"""The light packages' keyed layers: who gets one, the cap and the bins, and stability."""

from __future__ import annotations

from uvbuild.core import grouping
from uvbuild.core.model import Artifact, LockedPackage, SelectedPackage, Source

PYPI = Source("registry", "https://pypi.org/simple")
MB = 1_000_000


def pkg(name, size=2 * MB, *, source=PYPI, wheel=True, version="1.0"):
    package = LockedPackage(name=name, version=version, source=source)
    artifact = Artifact(f"{name.replace('-', '_')}-{version}-py3-none-any.whl", size=size)
    return SelectedPackage(package, artifact if wheel else None, from_sdist=not wheel)


def layout(groups):
    return {g.name: [c.selected.name for c in g.packages] for g in groups}


def test_one_layer_per_package_at_or_above_the_threshold():
    light = [pkg("scipy", 40 * MB), pkg("idna", 70_000), pkg("six", MB), pkg("tiny", MB - 1)]
    groups, pool, notes = grouping.pool_layers(light, threshold=MB)
    assert layout(groups) == {"light-scipy": ["scipy"], "light-six": ["six"]}
    assert [s.name for s in pool] == ["idna", "tiny"]
    assert notes == ()
    assert groups[0].packages[0].reason == "wheel is 40,000,000 bytes (pool-threshold 1,000,000)"


def test_what_stays_in_the_pool_whatever_its_size():
    light = [
        pkg("from-git", 9 * MB, source=Source("git", "https://example.com/x.git", commit="a" * 40)),
        pkg("from-url", 9 * MB, source=Source("url", "https://example.com/x.whl")),
        pkg("member", 9 * MB, source=Source("editable", "member")),
        pkg("local", 9 * MB, source=Source("directory", "lib")),
        pkg("sdist-only", 9 * MB, wheel=False),
        pkg("big", 9 * MB),
    ]
    groups, pool, _ = grouping.pool_layers(light, threshold=MB)
    assert layout(groups) == {"light-big": ["big"]}
    assert [s.name for s in pool] == ["from-git", "from-url", "member", "local", "sdist-only"]


def test_unknown_size_gets_a_layer():
    groups, pool, _ = grouping.pool_layers([pkg("mystery", None)], threshold=MB)
    assert layout(groups) == {"light-mystery": ["mystery"]}
    assert groups[0].packages[0].reason == "size unknown"
    assert pool == ()


def test_zero_turns_it_off():
    light = [pkg("scipy", 40 * MB), pkg("idna", 70_000)]
    groups, pool, notes = grouping.pool_layers(light, threshold=0)
    assert groups == ()
    assert [s.name for s in pool] == ["scipy", "idna"]
    assert notes == ()


def test_names_never_clash_with_the_heavy_groups():
    groups, _, _ = grouping.pool_layers([pkg("x")], threshold=MB, taken=["light-x"])
    assert [g.name for g in groups] == ["light-x-x"]


def many(count, size=lambda i: (i + 2) * MB):
    return [pkg(f"pkg{i:02d}", size(i)) for i in range(count)]


def test_up_to_the_cap_each_package_alone():
    groups, _, notes = grouping.pool_layers(many(grouping.POOL_LAYER_CAP), threshold=MB)
    assert len(groups) == grouping.POOL_LAYER_CAP
    assert all(len(g.packages) == 1 for g in groups)
    assert notes == ()


def test_past_the_cap_the_largest_alone_and_the_rest_in_bins():
    light = many(40)
    groups, pool, notes = grouping.pool_layers(light, threshold=MB)
    assert pool == ()
    assert len(groups) <= grouping.POOL_LAYER_CAP
    solo = [g for g in groups if not g.name.startswith("light-bins-")]
    solo_names = sorted(g.packages[0].selected.name for g in solo)
    # the largest (pkg39 down to pkg24) each keep a layer
    assert solo_names == [f"pkg{i:02d}" for i in range(24, 40)]
    binned = sorted(c.selected.name for g in groups if g not in solo for c in g.packages)
    assert binned == [f"pkg{i:02d}" for i in range(24)]
    assert "share 8 layers by name hash" in notes[0]
    # every package in exactly one layer
    everything = [c.selected.name for g in groups for c in g.packages]
    assert sorted(everything) == sorted(s.name for s in light)


def test_bins_are_stable_when_a_small_package_comes_or_goes():
    before, _, _ = grouping.pool_layers(many(40), threshold=MB)
    # a new package of the smallest kind, and one of the binned ones removed
    light = [s for s in many(40) if s.name != "pkg03"] + [pkg("newcomer", MB)]
    after, _, _ = grouping.pool_layers(light, threshold=MB)
    old, new = layout(before), layout(after)
    changed = {name for name in set(old) | set(new) if old.get(name) != new.get(name)}
    bin_of = {p: g for g, members in new.items() for p in members}
    old_bin_of = {p: g for g, members in old.items() for p in members}
    assert changed <= {bin_of["newcomer"], old_bin_of["pkg03"]}


def test_a_bump_moves_only_its_own_layer():
    before, _, _ = grouping.pool_layers(many(30), threshold=MB)
    bumped = [pkg(s.name, s.size, version="2.0") if s.name == "pkg10" else s for s in many(30)]
    after, _, _ = grouping.pool_layers(bumped, threshold=MB)
    assert layout(before) == layout(after)
    moved = [
        a.name
        for a, b in zip(before, after, strict=True)
        if [c.selected.version for c in a.packages] != [c.selected.version for c in b.packages]
    ]
    assert len(moved) == 1 and "pkg10" in layout(after)[moved[0]]


# -- light stages: the layers shared out among a few RUNs ---------------------------------


def stages_of(light, **kwargs):
    groups, _, _ = grouping.pool_layers(light, threshold=MB)
    return [
        [g.name for g in stage] for stage in grouping.light_stages(groups, threshold=MB, **kwargs)
    ]


def test_at_most_four_stages_and_every_layer_in_exactly_one():
    light = [pkg(f"p{n:02d}", (n + 1) * MB) for n in range(24)]
    stages = stages_of(light)
    assert len(stages) == grouping.LIGHT_STAGES == 4
    names = sorted(name for stage in stages for name in stage)
    assert names == sorted(f"light-p{n:02d}" for n in range(24))


def test_fewer_layers_than_stages_one_stage_each():
    assert stages_of([pkg("scipy", 40 * MB), pkg("six", MB)]) == [["light-scipy"], ["light-six"]]
    assert stages_of([]) == []


def test_stages_balance_by_size_largest_first():
    light = [pkg("big", 100 * MB), *(pkg(f"s{n}", 4 * MB) for n in range(8))]
    stages = stages_of(light, count=2)
    # the big one alone; the eight small ones (32 MB in all) share the other stage
    assert stages == [["light-big"], [f"light-s{n}" for n in range(8)]]


def test_within_a_stage_layers_keep_the_plan_order():
    light = [pkg(name, size * MB) for name, size in [("a", 2), ("b", 64), ("c", 3)]]
    assert stages_of(light, count=2) == [["light-b"], ["light-a", "light-c"]]


def test_a_small_size_change_keeps_every_stage():
    light = [pkg(f"p{n}", (3 + 7 * n) * MB) for n in range(12)]
    before = stages_of(light)
    # a bump that grows p5's wheel by 2% leaves its power-of-two weight, so every stage
    light[5] = pkg("p5", int(38 * MB * 1.02), version="2.0")
    assert stages_of(light) == before
