"""uvbuild.core.plan_json: the document ``plan --json`` prints (the CLI tests cover the rest)."""

from __future__ import annotations

from tests.core.plans import FLAGS, pooled_plan
from tests.paths import FIXTURES
from uvbuild import planner


def test_plan_json_lists_every_layer():
    document = pooled_plan().to_dict()
    layers = {entry["name"]: entry for entry in document["base"]["layers"]}
    assert [(e["name"], e["kind"]) for e in document["base"]["layers"]] == [
        ("cuda", "heavy"),
        ("frameworks", "heavy"),
        ("light-six", "light"),
    ]
    assert layers["light-six"]["packages"] == ["six"]
    assert layers["light-six"]["bytes"] == 11050
    assert len(layers["light-six"]["key"]) == 64
    assert [(e["name"], e["layer"]) for e in document["light"]] == [("six", "light-six")]
    assert document["totals"]["pool"] == {"count": 0, "bytes": 0, "unknown-size": 0}
    plain = planner.make_plan(FIXTURES / "two_indexes", FLAGS).to_dict()
    assert [(e["name"], e["layer"]) for e in plain["light"]] == [("six", "pool")]
    assert plain["totals"]["pool"]["count"] == 1
