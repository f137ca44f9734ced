"""uvbuild.flow.decide: the one decision, as a table over drivers x base-repo kinds x flags."""

from __future__ import annotations

import pytest

from uvbuild.errors import ConfigError, EngineUnavailable
from uvbuild.flow.decide import (
    Intent,
    Lookup,
    Seen,
    app_step,
    asks_registry,
    base_step,
    intent_of,
    is_registry_repo,
    policy,
    store_need,
)

LOCAL = "app-uvbuild-base"
REGISTRY = "127.0.0.1:5000/team/base"
TWO = ("linux/amd64", "linux/arm64")


@pytest.mark.parametrize(
    ("repo", "expected"),
    [
        (LOCAL, False),
        ("team/base", False),
        (REGISTRY, True),
        ("registry.example.com/team/base", True),
        ("localhost/base", True),
        ("base", False),
    ],
)
def test_registry_repo(repo, expected):
    assert is_registry_repo(repo) is expected


# driver, repo, intent -> (lookups, base build pushes, app load, app push, push base)
POLICIES = [
    ("docker", LOCAL, Intent(), (("engine",), False, True, False, False)),
    ("docker", LOCAL, Intent(push=True), (("engine",), False, False, True, False)),
    ("docker", LOCAL, Intent(push=True, load=True), (("engine",), False, True, True, False)),
    ("docker", LOCAL, Intent(load=False), (("engine",), False, False, False, False)),
    ("docker", REGISTRY, Intent(), (("engine", "registry"), False, True, False, False)),
    (
        "docker",
        REGISTRY,
        Intent(push_base=True),
        (("engine", "registry"), False, True, False, True),
    ),
    (None, LOCAL, Intent(), (("engine",), False, True, False, False)),
    (None, REGISTRY, Intent(push=True), (("engine", "registry"), False, False, True, False)),
    ("docker-container", REGISTRY, Intent(), (("registry",), True, True, False, False)),
    ("remote", REGISTRY, Intent(push=True), (("registry",), True, False, True, False)),
    ("kubernetes", REGISTRY, Intent(push_base=True), (("registry",), True, True, False, True)),
    (
        "docker",
        REGISTRY,
        Intent(push=True, platforms=TWO, tags=("r:5000/app:1",)),
        (("engine", "registry"), False, False, True, True),
    ),
    (
        "docker-container",
        REGISTRY,
        Intent(push=True, platforms=TWO, tags=("r:5000/app:1",)),
        (("registry",), True, False, True, True),
    ),
]


@pytest.mark.parametrize(("driver", "repo", "intent", "expected"), POLICIES)
def test_policy_table(driver, repo, intent, expected):
    got = policy(repo, intent, driver, "b")
    assert (got.lookups, got.base_build_pushes, got.app_load, got.app_push, got.push_base) == (
        expected
    )


REFUSALS = [
    ("docker", LOCAL, Intent(push_base=True), ConfigError, "--push-base needs a registry"),
    ("docker-container", LOCAL, Intent(), EngineUnavailable, "docker-container driver"),
    ("remote", LOCAL, Intent(push=True), EngineUnavailable, "set --base-repo"),
    ("docker", REGISTRY, Intent(platforms=TWO, tags=("t",)), ConfigError, "pass --push"),
    (
        "docker",
        REGISTRY,
        Intent(push=True, load=True, platforms=TWO, tags=("t",)),
        ConfigError,
        "drop --load",
    ),
    ("docker", REGISTRY, Intent(push=True, platforms=TWO), ConfigError, "name the image with -t"),
    ("docker", LOCAL, Intent(push=True, platforms=TWO, tags=("t",)), ConfigError, "is local"),
]


@pytest.mark.parametrize(("driver", "repo", "intent", "error", "words"), REFUSALS)
def test_policy_refusals(driver, repo, intent, error, words):
    with pytest.raises(error, match=words):
        policy(repo, intent, driver, "b")


DOCKER_REGISTRY = policy(REGISTRY, Intent(push_base=True), "docker")
DOCKER_LOCAL = policy(LOCAL, Intent(), "docker")
CONTAINER = policy(REGISTRY, Intent(), "docker-container")

KEY = "0123456789abcdef" + "5" * 48
TAG = f"{REGISTRY}:{KEY[:16]}"
MINE, OTHER, UNLABELLED = Seen(KEY), Seen("0123456789abcdef" + "6" * 48), Seen(None)


def found(place: str | None, **seen: Seen) -> Lookup:
    """A lookup that found the plan's base in ``place`` (or nowhere), and ``seen``."""
    return Lookup(TAG, KEY, **({place: MINE} if place else {}), **seen)


# policy, where the base was found, --rebuild-base -> (action, source, rebuilt, push)
STEPS = [
    (DOCKER_LOCAL, "engine", False, ("reuse", "engine", False, False)),
    (DOCKER_LOCAL, None, False, ("build", "engine", False, False)),
    (DOCKER_LOCAL, "engine", True, ("build", "engine", True, False)),
    (DOCKER_REGISTRY, "engine", False, ("reuse", "engine", False, True)),
    (DOCKER_REGISTRY, "registry", False, ("reuse", "registry", False, False)),
    (DOCKER_REGISTRY, None, False, ("build", "engine", False, True)),
    (DOCKER_REGISTRY, "registry", True, ("build", "engine", True, True)),
    (CONTAINER, "registry", False, ("reuse", "registry", False, False)),
    (CONTAINER, None, False, ("build", "registry", False, False)),
    (CONTAINER, "registry", True, ("build", "registry", True, False)),
]


@pytest.mark.parametrize(("the_policy", "place", "rebuild", "expected"), STEPS)
def test_base_step_table(the_policy, place, rebuild, expected):
    step = base_step(the_policy, found(place), rebuild)
    assert (step.action, step.source, step.rebuilt, step.push) == expected
    assert step.warning == ""


# -- trust nothing by name: a base found by tag must carry the plan's key (#11, item 5) ------

# policy, what the lookups saw, --rebuild-base -> (action, source, rebuilt, push, warned)
TRUST = [
    # another image (or one without the label) under the tag in the engine: built again
    (DOCKER_LOCAL, Lookup(TAG, KEY, engine=OTHER), False, ("build", "engine", True, False, True)),
    (
        DOCKER_LOCAL,
        Lookup(TAG, KEY, engine=UNLABELLED),
        False,
        ("build", "engine", True, False, True),
    ),
    (DOCKER_LOCAL, Lookup(TAG, KEY, engine=OTHER), True, ("build", "engine", True, False, True)),
    # ... also when the registry has the plan's base: the docker driver would read the
    # engine's image; the registry's base is not pushed over again
    (
        DOCKER_REGISTRY,
        Lookup(TAG, KEY, engine=OTHER, registry=MINE),
        False,
        ("build", "engine", True, False, True),
    ),
    (DOCKER_REGISTRY, Lookup(TAG, KEY, engine=OTHER), False, ("build", "engine", True, True, True)),
    # --push-base pushes a base the registry lacks, never one it has
    (
        DOCKER_REGISTRY,
        found("engine", registry=MINE),
        False,
        ("reuse", "engine", False, False, False),
    ),
    (DOCKER_REGISTRY, found("engine"), False, ("reuse", "engine", False, True, False)),
    (CONTAINER, found("registry"), False, ("reuse", "registry", False, False, False)),
]


@pytest.mark.parametrize(("the_policy", "lookup", "rebuild", "expected"), TRUST)
def test_a_base_is_trusted_by_its_key_label(the_policy, lookup, rebuild, expected):
    step = base_step(the_policy, lookup, rebuild)
    assert (step.action, step.source, step.rebuilt, step.push, bool(step.warning)) == expected
    if step.warning:
        assert step.warning.startswith(f"base {TAG} in the engine is not this plan's base")
        assert "\n" not in step.warning


@pytest.mark.parametrize(
    "the_policy", [DOCKER_REGISTRY, CONTAINER, policy(REGISTRY, Intent(), "docker")]
)
@pytest.mark.parametrize("rebuild", [False, True])
@pytest.mark.parametrize(
    ("seen", "label"),
    [(OTHER, f"io.uvbuild.key {OTHER.label}"), (UNLABELLED, "no io.uvbuild.key label")],
)
def test_another_image_in_the_registry_is_refused(the_policy, rebuild, seen, label):
    lookup = Lookup(TAG, KEY, registry=seen)
    with pytest.raises(ConfigError) as caught:
        base_step(the_policy, lookup, rebuild)
    message = str(caught.value)
    assert caught.value.exit_code == 2
    assert message.startswith(f"base {TAG} in the registry is not this plan's base ({label}")
    assert "--base-repo (tool.uvbuild.base-repo)" in message and "\n" not in message


# -- a base in the registry whose registry lost blobs of it (#13, item 2) --------------------

BLOB = "sha256:" + "e" * 64
LOST = Seen(KEY, lost=(BLOB,))
DOCKER_PULL_ONLY = policy(REGISTRY, Intent(), "docker")

# policy, what the lookups saw -> (action, source, rebuilt, push, the warning's words)
LOST_BLOBS = [
    # a second machine: built again; pushed over the broken tag only when the run pushes
    (DOCKER_PULL_ONLY, Lookup(TAG, KEY, registry=LOST), ("build", "engine", True, False)),
    (DOCKER_REGISTRY, Lookup(TAG, KEY, registry=LOST), ("build", "engine", True, True)),
    (CONTAINER, Lookup(TAG, KEY, registry=LOST), ("build", "registry", True, False)),
    # the engine has it: used; --push-base pushes it, as for a registry without the tag
    (DOCKER_REGISTRY, found("engine", registry=LOST), ("reuse", "engine", False, True)),
]


@pytest.mark.parametrize(("the_policy", "lookup", "expected"), LOST_BLOBS)
def test_a_registry_base_with_lost_blobs_is_not_used(the_policy, lookup, expected):
    step = base_step(the_policy, lookup, False)
    assert (step.action, step.source, step.rebuilt, step.push) == expected
    assert step.lost and lookup.found != "registry" and lookup.broken == LOST
    assert step.warning.startswith(
        f"base {TAG} in the registry lacks 1 blob its manifest names (sha256:eeeeeeeeeee…): "
    )
    built = step.action == "build"
    assert ("building the base again" in step.warning) is built
    # the container builder's base build pushes it (BuildKit), like --push-base
    pushes = step.push or the_policy.base_build_pushes
    assert ("it is pushed over the broken tag" in step.warning) is pushes
    assert ("until a run with --push-base" in step.warning) is (not pushes)
    assert "\n" not in step.warning


@pytest.mark.parametrize(
    ("intent", "pushes"),
    [(Intent(), False), (Intent(push=True, tags=("127.0.0.1:5000/team/app:1",)), True)],
)
def test_a_bake_file_says_its_own_way_to_repair_a_broken_tag(intent, pushes):
    # a bake file's base target pushes with `--push` (Policy.bake_base_pushes): the
    # warning must not send a bake user to build's --push-base
    step = base_step(
        policy(REGISTRY, intent, "docker"), Lookup(TAG, KEY, registry=LOST), False, True
    )
    assert step.action == "build" and "--push-base" not in step.warning
    assert ("it is pushed over the broken tag" in step.warning) is pushes
    assert ("until a bake file written with --push pushes the base" in step.warning) is not pushes


def test_lost_blobs_of_another_image_still_refuse_it():
    lookup = Lookup(TAG, KEY, registry=Seen(OTHER.label, lost=(BLOB,)))
    assert lookup.broken is None
    with pytest.raises(ConfigError, match="is not this plan's base"):
        base_step(DOCKER_REGISTRY, lookup, False)


def test_a_whole_registry_base_is_used():
    lookup = Lookup(TAG, KEY, registry=MINE)
    assert lookup.found == "registry" and lookup.broken is None
    step = base_step(DOCKER_PULL_ONLY, lookup, False)
    assert (step.action, step.lost, step.warning) == ("reuse", False, "")


def test_call_reads_no_untrusted_base():
    call = policy(REGISTRY, Intent(call=True), "docker")
    assert base_step(call, Lookup(TAG, KEY, engine=OTHER), False).source == "engine"
    assert base_step(call, Lookup(TAG, KEY, registry=OTHER), False).action == "skip"
    assert Lookup(TAG, KEY, engine=OTHER, registry=MINE).found is None


@pytest.mark.parametrize(
    ("the_policy", "lookup", "asked"),
    [
        (DOCKER_LOCAL, Lookup(TAG, KEY), False),  # a local base repo has no registry
        (policy(REGISTRY, Intent(), "docker"), found("engine"), False),  # the hot path
        (policy(REGISTRY, Intent(), "docker"), Lookup(TAG, KEY), True),
        (policy(REGISTRY, Intent(), "docker"), Lookup(TAG, KEY, engine=OTHER), True),
        (DOCKER_REGISTRY, found("engine"), True),  # --push-base: does the registry have it?
    ],
)
def test_when_the_registry_is_asked(the_policy, lookup, asked):
    assert asks_registry(the_policy, lookup) is asked


# -- what the app build does with its image ------------------------------------------------

# driver, intent -> (app load, app push): -o names where the image goes, as in docker
OUTPUT_POLICIES = [
    ("docker", Intent(outputs=("type=tar,dest=a.tar",)), (False, False)),
    ("docker", Intent(outputs=("type=local,dest=d",), load=True), (True, False)),
    ("docker", Intent(push=True, outputs=("type=registry",)), (False, True)),
    ("docker-container", Intent(outputs=("type=docker,dest=a.tar",)), (False, False)),
]


@pytest.mark.parametrize(("driver", "intent", "expected"), OUTPUT_POLICIES)
def test_outputs_turn_off_the_default_load(driver, intent, expected):
    got = policy(REGISTRY, intent, driver)
    assert (got.app_load, got.app_push) == expected


# driver, intent, base read from the engine -> (load, push, outputs, saves, pull)
APP_STEPS = [
    ("docker", Intent(), True, (True, False, (), (), False)),
    ("docker", Intent(push=True), False, (False, True, (), (), False)),
    # -o type=registry says --push already; -o type=docker says --load
    (
        "docker",
        Intent(push=True, outputs=("type=registry",)),
        False,
        (False, False, ("type=registry",), (), False),
    ),
    (
        "docker",
        Intent(load=True, outputs=("type=docker",)),
        True,
        (False, False, ("type=docker",), (), False),
    ),
    # the docker driver has no docker exporter: --load, then docker save
    (
        "docker",
        Intent(outputs=("type=docker,dest=a.tar", "type=tar,dest=b")),
        True,
        (True, False, ("type=tar,dest=b",), ("a.tar",), False),
    ),
    (
        "docker-container",
        Intent(outputs=("type=docker,dest=a.tar",)),
        False,
        (False, False, ("type=docker,dest=a.tar",), (), False),
    ),
    # --pull reaches an app that reads its base from a registry, not from the engine
    ("docker", Intent(pull=True), True, (True, False, (), (), False)),
    ("docker", Intent(pull=True), False, (True, False, (), (), True)),
    # --call/--check: nothing is loaded, pushed, exported or pulled
    (
        "docker",
        Intent(call=True, push=True, outputs=("type=docker,dest=a.tar",)),
        False,
        (False, False, (), (), False),
    ),
]


@pytest.mark.parametrize(("driver", "intent", "from_engine", "expected"), APP_STEPS)
def test_app_step_table(driver, intent, from_engine, expected):
    step = app_step(policy(REGISTRY, intent, driver), from_engine)
    assert (step.load, step.push, step.outputs, step.saves, step.pull) == expected


# -- bake: the base target -------------------------------------------------------------------

# driver, repo, intent -> the bake file's base target is pushed (else loaded)
BAKE_BASES = [
    ("docker", LOCAL, Intent(), False),
    ("docker", LOCAL, Intent(push=True), False),
    ("docker", REGISTRY, Intent(), False),
    ("docker", REGISTRY, Intent(push=True), True),
    # the decided-once rule: a builder outside the engine pushes its base, as in build
    ("docker-container", REGISTRY, Intent(), True),
    ("remote", REGISTRY, Intent(push=True), True),
]


@pytest.mark.parametrize(("driver", "repo", "intent", "pushed"), BAKE_BASES)
def test_bake_base_target_table(driver, repo, intent, pushed):
    assert policy(repo, intent, driver).bake_base_pushes is pushed


# -- --call/--check build no base; several platforms; the containerd store -----------------


@pytest.mark.parametrize(
    ("place", "rebuild", "source"),
    [(None, False, "engine"), ("engine", True, "engine"), ("registry", False, "registry")],
)
def test_call_needs_no_base(place, rebuild, source):
    the_policy = policy(REGISTRY, Intent(call=True, push_base=True), "docker")
    step = base_step(the_policy, found(place), rebuild)
    assert (step.action, step.source, step.rebuilt, step.push) == ("skip", source, False, False)


MULTI_REFUSALS = [
    (Intent(push=True, platforms=TWO, tags=("t",), outputs=("type=oci,dest=a",)), "-o type=oci"),
    # a local base repo is refused as a multi-platform problem before --push-base's
    (Intent(push=True, push_base=True, platforms=TWO, tags=("t",)), "is local"),
]


@pytest.mark.parametrize(("intent", "words"), MULTI_REFUSALS)
def test_multi_platform_refusals(intent, words):
    with pytest.raises(ConfigError, match=words):
        policy(LOCAL, intent, "docker-container")


def test_multi_platform_takes_a_registry_output_as_the_push():
    got = policy(
        REGISTRY,
        Intent(push=True, outputs=("type=registry",), platforms=TWO, tags=("t",)),
        "remote",
    )
    assert (got.app_load, got.push_base, got.base_build_pushes) == (False, True, True)


# driver, intent -> the flag that needs the containerd image store
STORE_NEEDS = [
    ("docker", Intent(), None),
    ("docker", Intent(attestation="--sbom=true"), "--sbom=true"),
    ("docker", Intent(outputs=("type=oci,dest=a.tar",)), "-o type=oci,dest=a.tar"),
    ("docker-container", Intent(attestation="--sbom=true"), None),
    (None, Intent(attestation="--sbom=true"), None),  # no engine answered: nothing to ask
]


@pytest.mark.parametrize(("driver", "intent", "need"), STORE_NEEDS)
def test_store_need_table(driver, intent, need):
    assert store_need(policy(REGISTRY, intent, driver, "b")) == need


def test_intent_of_options_counts_registry_outputs_as_push():
    from uvbuild.flow.options import BuildOptions

    intent = intent_of(BuildOptions(outputs=("type=image,push=true",), call="check"), TWO)
    assert (intent.push, intent.call, intent.platforms) == (True, True, TWO)
