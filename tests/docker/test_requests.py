"""uvbuild.docker.requests: the command line of a build request, flag by flag."""

from __future__ import annotations

import pytest

from uvbuild.docker.requests import BuildRequest, build_args


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


# -- the docker buildx build flags of Makefiles and CI (issue 9, item 3) -------------------


@pytest.mark.parametrize(
    ("field", "value", "args"),
    [
        ("pull", True, ["--pull"]),
        ("provenance", "mode=max", ["--provenance=mode=max"]),
        ("provenance", True, ["--provenance=true"]),
        ("sbom", "generator=img", ["--sbom=generator=img"]),
        (
            "attests",
            ("type=sbom", "type=provenance,mode=max"),
            ["--attest", "type=sbom", "--attest", "type=provenance,mode=max"],
        ),
        ("annotations", ("index:a=b",), ["--annotation", "index:a=b"]),
        ("shm_size", "2g", ["--shm-size", "2g"]),
        ("ulimits", ("nofile=1024:2048",), ["--ulimit", "nofile=1024:2048"]),
        (
            "allow",
            ("network.host", "security.insecure"),
            ["--allow", "network.host", "--allow", "security.insecure"],
        ),
        ("call", "check", ["--call=check"]),
        ("outputs", ("type=docker,dest=a.tar",), ["--output", "type=docker,dest=a.tar"]),
        ("iidfile", "id.txt", ["--iidfile", "id.txt"]),
        ("metadata_file", "meta.json", ["--metadata-file", "meta.json"]),
    ],
)
def test_each_buildx_flag_in_docker_form(field, value, args):
    assert build_args(BuildRequest(context=".", **{field: value})) == [
        "buildx",
        "build",
        *args,
        ".",
    ]


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("sbom", None),
        ("attests", ()),
        ("annotations", ()),
        ("pull", False),
        ("shm_size", None),
        ("ulimits", ()),
        ("allow", ()),
        ("call", None),
    ],
)
def test_new_unset_values_add_nothing(field, value):
    assert build_args(BuildRequest(context=".", **{field: value})) == ["buildx", "build", "."]
