"""uvbuild.flow.decide: the one decision, as a table over drivers x base-repo kinds x flags."""

from __future__ import annotations

import pytest

from uvbuild.errors import ConfigError, EngineUnavailable
from uvbuild.flow.decide import Intent, base_step, is_registry_repo, policy

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


@pytest.mark.parametrize(("the_policy", "found", "rebuild", "expected"), STEPS)
def test_base_step_table(the_policy, found, rebuild, expected):
    step = base_step(the_policy, found, rebuild)
    assert (step.action, step.source, step.rebuilt, step.push) == expected
