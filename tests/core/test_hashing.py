"""The base key moves exactly when an input that decides the base image's bytes moves."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from tests.core.plans import pooled_plan
from tests.paths import CORPUS
from uvbuild.core import hashing
from uvbuild.core.config import Config
from uvbuild.core.model import Artifact, Lock, LockedPackage
from uvbuild.core.render import requirements
from uvbuild.planner.plan import plan_from
from uvbuild.planner.project_files import Project, read_lock, read_project
from uvbuild.planner.resolve import resolve_config

TORCH_PROJECTS = ["OpenPipe__ART", "Zyphra__Zonos", "nari-labs__dia", "karpathy__nanochat"]

needs_corpus = pytest.mark.skipif(not CORPUS.is_dir(), reason=f"no corpus at {CORPUS}")


def load(name: str) -> tuple[Project, Config, Lock]:
    project = read_project(CORPUS / name)
    lock_data = read_lock(CORPUS / name / "uv.lock")
    flags = {"platform": "linux/amd64"}
    if name == "karpathy__nanochat":
        flags["extras"] = ("gpu",)
    config = resolve_config(project, flags, lock_data.requires_python)
    return project, config, lock_data


def plan_for(project: Project, config: Config, lock_data: Lock):
    return plan_from(project, config, lock_data, "uv.lock")


def key_of(project: Project, config: Config, lock_data: Lock) -> str:
    return plan_for(project, config, lock_data).key


def with_packages(lock_data: Lock, packages: list[LockedPackage]) -> Lock:
    return replace(lock_data, packages=tuple(packages))


def bump_version(version: str) -> str:
    return version + ".post999"


def replace_entry(lock_data: Lock, old: LockedPackage, new: LockedPackage) -> Lock:
    """Swap one entry, and the edges that name it by version or source, as a re-lock would."""

    def edge(dep):
        if dep.name != old.name:
            return dep
        if dep.version == old.version and dep.version is not None:
            dep = replace(dep, version=new.version)
        if dep.source == old.source:
            dep = replace(dep, source=new.source)
        return dep

    def edges(deps):
        return tuple(edge(d) for d in deps)

    packages = []
    for p in lock_data.packages:
        p = new if p is old else p
        packages.append(
            replace(
                p,
                dependencies=edges(p.dependencies),
                optional_dependencies=tuple((k, edges(v)) for k, v in p.optional_dependencies),
                dev_dependencies=tuple((k, edges(v)) for k, v in p.dev_dependencies),
            )
        )
    return with_packages(lock_data, packages)


@pytest.fixture(scope="module", params=TORCH_PROJECTS)
def torch_project(request):
    if not CORPUS.is_dir():
        pytest.skip(f"no corpus at {CORPUS}")
    return load(request.param)


@needs_corpus
def test_light_package_changes_keep_the_key(torch_project):
    project, config, lock_data = torch_project
    before = plan_for(project, config, lock_data)
    heavy = {s.package.id for s in before.heavy}
    light_ids = {s.package.id for s in before.light if s.package.source.kind == "registry"}
    assert light_ids, "a torch project has light registry packages"
    changed = [
        replace(p, version=bump_version(p.version or "0")) if p.id in light_ids else p
        for p in lock_data.packages
    ]
    after = plan_for(project, config, with_packages(lock_data, changed))
    assert {s.package.id for s in after.heavy} == heavy
    assert after.key == before.key


@needs_corpus
def test_heavy_version_change_moves_the_key(torch_project):
    project, config, lock_data = torch_project
    before = plan_for(project, config, lock_data)
    torch = next(s.package for s in before.heavy if s.name == "torch")
    bumped = replace(torch, version=bump_version(torch.version or "0"))
    after = plan_for(project, config, replace_entry(lock_data, torch, bumped))
    assert after.key != before.key
    lines = hashing.explain(json.loads(before.key_document), json.loads(after.key_document))
    assert any(line.startswith("changed torch") for line in lines)


@needs_corpus
def test_reordering_entries_keeps_the_key(torch_project):
    project, config, lock_data = torch_project
    reordered = with_packages(lock_data, list(reversed(lock_data.packages)))
    assert key_of(project, config, reordered) == key_of(project, config, lock_data)


@needs_corpus
def test_upload_times_do_not_reach_the_key(torch_project):
    project, config, lock_data = torch_project

    def retime(artifact: Artifact | None) -> Artifact | None:
        return None if artifact is None else replace(artifact, upload_time="1999-01-01T00:00:00Z")

    changed = [
        replace(p, sdist=retime(p.sdist), wheels=tuple(retime(w) for w in p.wheels))
        for p in lock_data.packages
    ]
    assert key_of(project, config, with_packages(lock_data, changed)) == key_of(
        project, config, lock_data
    )


@needs_corpus
def test_other_platform_wheels_do_not_reach_the_key(torch_project):
    project, config, lock_data = torch_project
    before = plan_for(project, config, lock_data)
    selected = {s.package.id: s.wheel for s in before.selected}
    # keep only the selected wheel of every selected package ...
    trimmed = [
        replace(p, wheels=(selected[p.id],)) if selected.get(p.id) is not None else p
        for p in lock_data.packages
    ]
    assert key_of(project, config, with_packages(lock_data, trimmed)) == before.key
    # ... or add wheels for other Pythons and platforms
    extra = Artifact(filename="torch-99-cp313-cp313-win_amd64.whl", hash="sha256:" + "0" * 64)
    padded = [replace(p, wheels=(*p.wheels, extra)) for p in lock_data.packages]
    assert key_of(project, config, with_packages(lock_data, padded)) == before.key


@needs_corpus
def test_selected_wheel_hash_moves_the_key(torch_project):
    project, config, lock_data = torch_project
    before = plan_for(project, config, lock_data)
    target = before.heavy[0]
    changed = [
        replace(
            p,
            wheels=tuple(
                replace(w, hash="sha256:" + "f" * 64) if w == target.wheel else w for w in p.wheels
            ),
        )
        if p.id == target.package.id
        else p
        for p in lock_data.packages
    ]
    assert key_of(project, config, with_packages(lock_data, changed)) != before.key


@needs_corpus
def test_heavy_source_moves_the_key(torch_project):
    project, config, lock_data = torch_project
    before = plan_for(project, config, lock_data)
    torch = next(s.package for s in before.heavy if s.name == "torch")
    moved = replace(torch, source=replace(torch.source, location="https://mirror.example/simple"))
    after = plan_for(project, config, replace_entry(lock_data, torch, moved))
    assert after.key != before.key


@needs_corpus
@pytest.mark.parametrize(
    "change",
    [
        {"base_image": "nvidia/cuda:12.4.1-runtime-ubuntu22.04"},
        {"python": "3.12"},
        {"platform": "linux/arm64"},
        {"uv_image": "ghcr.io/astral-sh/uv:0.9.0"},
        {"venv": "/venv"},
        {"compile_bytecode": False},
    ],
    ids=lambda change: next(iter(change)),
)
def test_every_setting_that_changes_bytes_moves_the_key(change):
    project, config, lock_data = load("Zyphra__Zonos")
    before = key_of(project, config, lock_data)
    assert key_of(project, replace(config, **change), lock_data) != before


@needs_corpus
def test_recipe_version_moves_the_key(monkeypatch):
    project, config, lock_data = load("Zyphra__Zonos")
    before = key_of(project, config, lock_data)
    monkeypatch.setattr(hashing, "RECIPE_VERSION", "uvbuild-base/999")
    assert key_of(project, config, lock_data) != before


@needs_corpus
def test_settings_that_do_not_change_bytes_keep_the_key():
    project, config, lock_data = load("Zyphra__Zonos")
    before = key_of(project, config, lock_data)
    assert key_of(project, replace(config, base_repo="registry:5000/x/y"), lock_data) == before
    assert key_of(project, replace(config, no_dev=True), lock_data) == before


@needs_corpus
def test_key_is_deterministic_across_runs():
    first = key_of(*load("OpenPipe__ART"))
    second = key_of(*load("OpenPipe__ART"))
    assert first == second
    assert len(first) == 64


def test_canonical_bytes_are_sorted_and_compact():
    assert hashing.canonical_bytes({"b": 1, "a": [2, {"d": 3, "c": 4}]}) == (
        b'{"a":[2,{"c":4,"d":3}],"b":1}'
    )


def test_tag_and_default_repo():
    assert hashing.base_tag("app-uvbuild-base", "ab" * 32) == "app-uvbuild-base:" + "ab" * 8
    assert hashing.default_base_repo("My_Project.X") == "my-project-x-uvbuild-base"
    assert hashing.default_base_repo("---") == "project-uvbuild-base"


def test_explain_names_added_removed_and_changed_packages():
    def doc(*packages, platform="linux/amd64"):
        return {"platform": platform, "packages": list(packages)}

    torch1 = {"name": "torch", "version": "1", "source": "idx", "wheel": "w", "hash": "h1"}
    torch2 = {**torch1, "version": "2"}
    cuda = {"name": "nvidia-x", "version": "12", "source": "idx", "wheel": "n", "hash": "n1"}
    assert hashing.explain(doc(torch1), doc(torch1)) == []
    assert hashing.explain(doc(torch1), doc(torch2)) == ["changed torch: 1 -> 2"]
    assert hashing.explain(doc(torch1), doc(torch1, cuda)) == ["added nvidia-x 12 (idx)"]
    assert hashing.explain(doc(torch1, cuda), doc(torch1)) == ["removed nvidia-x 12 (idx)"]
    moved = {**torch1, "source": "other"}
    assert hashing.explain(doc(torch1), doc(moved)) == ["changed torch: 1 from idx -> 1 from other"]
    assert hashing.explain(doc(torch1), doc(torch1, platform="linux/arm64")) == [
        "platform: 'linux/amd64' -> 'linux/arm64'"
    ]


# -- layer groups -------------------------------------------------------------------------

SYNTH_INPUTS = hashing.KeyInputs(
    platform="linux/amd64",
    python="3.11",
    base_image="python:3.11-slim",
    uv_image="ghcr.io/astral-sh/uv:0.13.9",
    venv="/opt/venv",
    compile_bytecode=True,
)


def choice(name, version="1.0", digest="h"):
    from uvbuild.core.model import HeavyChoice, SelectedPackage, Source

    package = LockedPackage(name, version, Source("registry", "https://pypi.org/simple"))
    wheel = Artifact(f"{name}-{version}-py3-none-any.whl", hash=f"sha256:{digest}", size=10)
    return HeavyChoice(SelectedPackage(package, wheel), "test")


def keyed(groups):
    return [
        replace(g, key=hashing.base_key(hashing.layer_document(g, SYNTH_INPUTS))) for g in groups
    ]


def grouped(torch_version="2.0", cuda_version="12.1", **inputs):
    from uvbuild.core.model import LayerGroup

    cuda = LayerGroup("cuda", (choice("nvidia-a", cuda_version), choice("nvidia-b")))
    torch = LayerGroup("torch", (choice("torch", torch_version),))
    return keyed([cuda, torch])


def base_key_of(groups):
    heavy = [c for g in groups for c in g.packages]
    return hashing.base_key(hashing.key_document(heavy, SYNTH_INPUTS, groups))


def test_a_torch_bump_moves_only_the_torch_group_and_the_base():
    cuda, torch = grouped()
    cuda2, torch2 = grouped(torch_version="2.1")
    assert cuda2.key == cuda.key
    assert torch2.key != torch.key
    assert base_key_of([cuda2, torch2]) != base_key_of([cuda, torch])


def test_a_cuda_bump_moves_only_the_cuda_group():
    cuda, torch = grouped()
    cuda2, torch2 = grouped(cuda_version="12.4")
    assert (cuda2.key != cuda.key, torch2.key == torch.key) == (True, True)


def test_layer_key_ignores_the_group_name_but_the_base_does_not():
    from uvbuild.core.model import LayerGroup

    cuda, torch = grouped()
    renamed = keyed([LayerGroup("gpu-libs", cuda.packages)])[0]
    assert renamed.key == cuda.key
    assert base_key_of([renamed, torch]) != base_key_of([cuda, torch])
    assert base_key_of([torch, cuda]) != base_key_of([cuda, torch])  # layer order


def test_layer_key_has_its_own_recipe_and_the_shared_inputs(monkeypatch):
    cuda, _ = grouped()
    document = hashing.layer_document(cuda, SYNTH_INPUTS)
    assert document["recipe"] == hashing.LAYER_RECIPE_VERSION
    assert [p["name"] for p in document["packages"]] == ["nvidia-a", "nvidia-b"]
    arm = hashing.layer_document(cuda, replace(SYNTH_INPUTS, platform="linux/arm64"))
    assert hashing.base_key(arm) != cuda.key
    monkeypatch.setattr(hashing, "LAYER_RECIPE_VERSION", "uvbuild-layer/999")
    assert hashing.base_key(hashing.layer_document(cuda, SYNTH_INPUTS)) != cuda.key


def test_base_document_lists_the_layers_and_single_has_none():
    groups = grouped()
    heavy = [c for g in groups for c in g.packages]
    document = hashing.key_document(heavy, SYNTH_INPUTS, groups)
    assert document["recipe"] == hashing.RECIPE_VERSION
    assert document["layers"] == [{"name": g.name, "key": g.key} for g in groups]
    single = hashing.key_document(heavy, SYNTH_INPUTS)
    assert single["layers"] == []
    assert hashing.base_key(single) != hashing.base_key(document)


def test_explain_layers():
    def doc(layers, packages=()):
        return {"platform": "x", "packages": list(packages), "layers": layers}

    a, b, c = ({"name": n, "key": n * 64} for n in "abc")
    a2 = {"name": "a", "key": "d" * 64}
    assert hashing.explain(doc([a, b]), doc([a, b])) == []
    assert hashing.explain(doc([a, b]), doc([b, a])) == ["layers: a b -> b a"]
    assert hashing.explain(doc([a, b]), doc([a, b, c])) == ["layers: a b -> a b c"]
    assert hashing.explain(doc([]), doc([a, b])) == ["layers: (one layer) -> a b"]
    # a package that changed group moves keys with nothing else to explain it
    assert hashing.explain(doc([a, b]), doc([a2, b])) == [f"layer a: key {'a' * 16} -> {'d' * 16}"]
    # a version change already says why the group's key moved
    torch = {"name": "torch", "version": "1", "source": "i", "wheel": "w", "hash": "h"}
    torch2 = {**torch, "version": "2"}
    assert hashing.explain(doc([a, b], [torch]), doc([a2, b], [torch2])) == [
        "changed torch: 1 -> 2"
    ]
    # documents from before layer groups have no "layers"
    assert hashing.explain({"platform": "x", "packages": []}, doc([a, b])) == []


def test_the_images_enter_the_document_only_when_resolved():
    inputs = hashing.KeyInputs("linux/amd64", "3.11", "python:3.11-slim", "uv:1", "/opt/venv", True)
    plain = hashing.key_document((), inputs)
    assert "images" not in plain  # a plan without an engine: the key it always had
    digests = (("uv:1", "sha256:u"), ("python:3.11-slim", "sha256:p"))
    resolved = hashing.key_document((), replace(inputs, images=digests))
    assert resolved["images"] == {"python:3.11-slim": "sha256:p", "uv:1": "sha256:u"}
    assert list(resolved["images"]) == sorted(resolved["images"])


def test_explain_names_the_image_whose_digest_moved():
    old = {"images": {"python:3.11-slim": "sha256:a", "uv:1": "sha256:u"}, "packages": []}
    new = {"images": {"python:3.11-slim": "sha256:b", "uv:1": "sha256:u"}, "packages": []}
    assert hashing.explain(old, new) == ["image python:3.11-slim: sha256:a -> sha256:b"]
    assert hashing.explain({"packages": []}, new) == ["images: by name only -> resolved"]
    assert hashing.explain(new, new) == []


def _group(name, *packages, key=None):
    from uvbuild.core.model import HeavyChoice, LayerGroup, SelectedPackage, Source

    choices = tuple(
        HeavyChoice(
            SelectedPackage(
                LockedPackage(n, v, Source("registry", "https://pypi.org/simple")),
                Artifact(f"{n}-{v}-py3-none-any.whl", hash=f"sha256:{n}{v}", size=5),
            ),
            "test",
        )
        for n, v in packages
    )
    return LayerGroup(name, choices, key=key or f"{name}:{packages}")


def test_layer_changes_name_the_layers_a_lock_change_moves():
    cuda = _group("cuda", ("nvidia-x", "12"))
    old = [cuda, _group("light-scipy", ("scipy", "1.0")), _group("light-gone", ("gone", "1"))]
    new = [cuda, _group("light-scipy", ("scipy", "1.1")), _group("light-new", ("new", "2"))]
    pool_old = [c.selected for c in _group("p", ("idna", "3.6"), ("six", "1")).packages]
    pool_new = [c.selected for c in _group("p", ("idna", "3.7"), ("six", "1")).packages]
    assert hashing.layer_changes(old, new, pool_old, pool_new) == [
        "layer light-scipy rebuilt: scipy 1.0 -> 1.1",
        "layer light-gone gone: -gone 1",
        "layer light-new new: +new 2",
        "pool rebuilt: idna 3.6 -> 3.7",
    ]
    assert hashing.layer_changes(old, old, pool_old, pool_old) == []


# -- a light layer's key ---------------------------------------------------------------------


def test_light_layer_requirements_and_key():
    plan = pooled_plan()
    files = [f for f in requirements.requirement_files(plan) if f.layer == "light-six"]
    assert [(f.name, f.text) for f in files] == [
        (
            "layer-light-six-1.txt",
            "six==1.17.0 --hash=sha256:"
            "4721f391ed90541fddacab5acf947aa0d3dc7d27b2e1e8eda2be8970586c3274\n",
        )
    ]
    assert files[0] not in requirements.heavy_files(plan)
    (group,) = plan.light_layers
    inputs = json.loads(plan.key_document)
    assert group.key and group.key not in {g.key for g in plan.layers}
    assert [p["name"] for p in hashing.layer_document(group, _inputs(plan))["packages"]] == ["six"]
    assert "six" not in plan.key_document and inputs["layers"] == [
        {"name": g.name, "key": g.key} for g in plan.layers
    ]


def _inputs(plan):
    document = json.loads(plan.key_document)
    return hashing.KeyInputs(
        platform=document["platform"],
        python=document["python"],
        base_image=document["base-image"],
        uv_image=document["uv-image"],
        venv=document["venv"],
        compile_bytecode=document["compile-bytecode"],
    )


def test_light_layer_key_is_its_layer_document():
    plan = pooled_plan()
    (group,) = plan.light_layers
    assert group.key == hashing.base_key(hashing.layer_document(group, _inputs(plan)))
