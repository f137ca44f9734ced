"""uvbuild.engine, pure parts only: the command line of a build and the error extraction."""

from __future__ import annotations

import pytest

from uvbuild.engine import BuildRequest, build_args, failing_step


def test_minimal_request_is_just_the_context():
    assert build_args(BuildRequest(context="ctx")) == ["buildx", "build", "ctx"]


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("file", None),
        ("target", None),
        ("builder", None),
        ("network", None),
        ("progress", None),
        ("iidfile", None),
        ("metadata_file", None),
        ("provenance", None),
        ("load", False),
        ("push", False),
        ("no_cache", False),
        ("tags", ()),
        ("build_args", ()),
        ("platforms", ()),
    ],
)
def test_unset_values_add_nothing(field, value):
    assert build_args(BuildRequest(context=".", **{field: value})) == ["buildx", "build", "."]


def test_full_request_in_a_stable_order_context_last():
    request = BuildRequest(
        context="/ctx",
        file="/ctx/Dockerfile",
        tags=("app:dev", "app:latest"),
        target="uvbuild-app",
        build_args=(("A", "1"), ("B", "")),
        build_contexts=(("uvbuild-base", "docker-image://base:abc"), ("uvbuild-heavy", "/h")),
        platforms=("linux/amd64",),
        load=True,
        push=True,
        progress="plain",
        no_cache=True,
        secrets=("id=tok,src=/tok",),
        ssh=("default",),
        labels=(("org.x", "y"),),
        builder="default",
        network="host",
        add_hosts=("reg:10.0.0.1",),
        iidfile="/tmp/iid",
        metadata_file="/tmp/meta.json",
        outputs=("type=docker",),
        cache_from=("type=registry,ref=r/c",),
        cache_to=("type=inline",),
        provenance=False,
    )
    assert build_args(request) == [
        "buildx",
        "build",
        "--builder",
        "default",
        "--file",
        "/ctx/Dockerfile",
        "--tag",
        "app:dev",
        "--tag",
        "app:latest",
        "--target",
        "uvbuild-app",
        "--build-arg",
        "A=1",
        "--build-arg",
        "B=",
        "--build-context",
        "uvbuild-base=docker-image://base:abc",
        "--build-context",
        "uvbuild-heavy=/h",
        "--platform",
        "linux/amd64",
        "--label",
        "org.x=y",
        "--secret",
        "id=tok,src=/tok",
        "--ssh",
        "default",
        "--network",
        "host",
        "--add-host",
        "reg:10.0.0.1",
        "--cache-from",
        "type=registry,ref=r/c",
        "--cache-to",
        "type=inline",
        "--output",
        "type=docker",
        "--progress",
        "plain",
        "--iidfile",
        "/tmp/iid",
        "--metadata-file",
        "/tmp/meta.json",
        "--provenance=false",
        "--load",
        "--push",
        "--no-cache",
        "/ctx",
    ]


def test_same_request_same_args():
    request = BuildRequest(context=".", tags=("a",), load=True, provenance=True)
    assert build_args(request) == build_args(request)
    assert "--provenance=true" in build_args(request)


def test_several_platforms_join_with_commas():
    args = build_args(BuildRequest(context=".", platforms=("linux/amd64", "linux/arm64")))
    assert args[args.index("--platform") + 1] == "linux/amd64,linux/arm64"


def test_failing_step_without_a_step_block_gives_the_solver_verdict():
    lines = [
        "#8 [uvbuild-deps 3/3] RUN uv sync --frozen",
        "#8 0.512 error: Failed to fetch",
        '#8 ERROR: process "/bin/sh -c uv sync" did not complete successfully: exit code: 2',
        "------",
        'ERROR: failed to solve: process "/bin/sh -c uv sync" did not complete: exit code: 2',
    ]
    assert failing_step(lines) == ('process "/bin/sh -c uv sync" did not complete: exit code: 2')


def test_failing_step_names_the_buildkit_step_and_its_error():
    lines = [
        "#9 [uvbuild-base 3/3] RUN uv venv /opt/venv && uv pip install -r heavy-1.txt",
        "#9 0.3 error: Failed to download `fake-nvidia-broken-cu12==1.0.0`",
        '#9 ERROR: process "/bin/sh -c uv venv" did not complete successfully: exit code: 2',
        "------",
        " > [uvbuild-base 3/3] RUN uv venv /opt/venv && uv pip install -r heavy-1.txt:",
        "0.3 error: Failed to download `fake-nvidia-broken-cu12==1.0.0`",
        "0.3   Caused by: HTTP status client error (404 Not Found)",
        "------",
        "Dockerfile:9",
        'ERROR: failed to solve: process "/bin/sh -c uv venv" did not complete successfully: '
        "exit code: 2",
    ]
    assert failing_step(lines) == (
        "[uvbuild-base 3/3] RUN uv venv /opt/venv && uv pip install -r heavy-1.txt: "
        "0.3 error: Failed to download `fake-nvidia-broken-cu12==1.0.0`"
    )


def test_failing_step_falls_back_to_the_step_error():
    lines = [
        "#5 [uvbuild-base 2/4] RUN uv venv /opt/venv",
        '#5 ERROR: process "/bin/sh -c uv venv" did not complete successfully: exit code: 1',
        "some trailing noise",
    ]
    assert failing_step(lines) == (
        '#5 ERROR: process "/bin/sh -c uv venv" did not complete successfully: exit code: 1'
    )


def test_failing_step_without_an_error_line():
    assert failing_step(["#1 DONE 0.1s", "all good"]) is None
    assert failing_step([]) is None
