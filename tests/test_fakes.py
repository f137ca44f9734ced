"""The test helpers themselves: the one FakeEngine has every verb of EngineLike with the
same parameters, and test modules take shared helpers from helper modules only."""

from __future__ import annotations

import ast
import inspect

from tests.fakes import REGISTRY_BLOBS, FakeEngine, registry_base
from tests.paths import REPO
from uvbuild.docker.verbs import EngineLike


def verbs(cls: type) -> dict[str, list[str]]:
    """The public methods and properties of ``cls`` (its own and inherited, but not
    object's or Protocol's machinery), each with its parameter names."""
    found = {}
    for name, member in inspect.getmembers(cls):
        if name.startswith("_"):
            continue
        if isinstance(member, property):
            found[name] = ["self"]
        elif inspect.isfunction(member):
            found[name] = list(inspect.signature(member).parameters)
    return found


ASSERTION_HELPERS = {"named", "stage"}  # FakeEngine's own, for the tests' assertions


def test_fake_engine_implements_every_verb_of_engine_like():
    engine: EngineLike = FakeEngine()  # a type checker checks the assignment
    protocol, fake = verbs(EngineLike), verbs(type(engine))
    assert protocol  # the Protocol's verbs were found at all
    assert set(fake) - ASSERTION_HELPERS == set(protocol)
    for name, parameters in protocol.items():
        assert fake[name] == parameters, name


def test_a_healthy_fake_engine_answers_every_verb(tmp_path):
    engine = FakeEngine()
    info = engine.check()
    assert (info.driver, info.running) == ("docker", True)
    assert engine.docker_path() and engine.engine_info().local
    assert engine.probe_frontend(tmp_path).ok and engine.probe_push("r:5000/b", tmp_path).ok
    assert engine.image_exists("python:3.12-slim")
    assert not engine.image_exists("app-uvbuild-base:0123456789abcdef")  # bases: exists=
    assert FakeEngine(exists=True).image_exists("app-uvbuild-base:0123456789abcdef")
    assert engine.registry_image("r:5000/b:0123456789abcdef") is None
    pushed = registry_base("r:5000/b:0123456789abcdef")
    assert engine.missing_blobs(pushed).missing == () and engine.missing_blobs(pushed).checked
    assert FakeEngine(lost=REGISTRY_BLOBS[1:]).missing_blobs(pushed).missing == REGISTRY_BLOBS[1:]
    assert not FakeEngine(unchecked="401").missing_blobs(pushed).checked
    # a base the fake has carries the key its tag names, unless told another label
    base = "app-uvbuild-base:0123456789abcdef"
    assert engine.image_labels(base) is None and engine.image_labels("python:3.12") == {}
    key = FakeEngine(exists=True).image_labels(base)["io.uvbuild.key"]
    assert key == "0123456789abcdef" + "5" * 48 and key != "0123456789abcdee" + "5" * 48
    assert key != "0123456789abcdef"  # a full key only
    labels = FakeEngine(exists=True, base_label=None).image_labels(base)
    assert "io.uvbuild.key" not in labels
    assert engine.bake_keeps("network", "host", tmp_path)
    assert not FakeEngine(bake_drops=("network",)).bake_keeps("network", "host", tmp_path)
    assert engine.untag("x:1") and engine.prune_record("r1")
    assert engine.image_digest("python:3.12").startswith("sha256:")  # every image, by name
    assert FakeEngine(digests={"x:1": None}).image_digest("x:1") is None
    assert FakeEngine(pulled={"x:1": "sha256:p"}).image_digest("x:1", pull=True) == "sha256:p"
    assert ("probe_push", "r:5000/b") in engine.calls


def test_no_test_module_imports_from_another_test_module():
    """Shared helpers live in tests/ helper modules (fakes, clirun, paths, ...), never in
    a test module (``test_*.py``) or conftest.py that another module then imports
    (tests/integration/helpers.py for the real-engine tests)."""
    offenders = []
    for path in sorted((REPO / "tests").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            elif isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            else:
                continue
            for name in names:
                last = name.rsplit(".", 1)[-1]
                if name.startswith("tests.") and (last.startswith("test_") or last == "conftest"):
                    offenders.append(f"{path.relative_to(REPO)} imports {name}")
    assert offenders == []
