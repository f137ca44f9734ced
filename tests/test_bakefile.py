"""The bake file says what the two build requests say."""

from __future__ import annotations

from uvbuild import bakefile
from uvbuild.engine import BuildRequest

BASE = BuildRequest(
    context="/w/empty",
    file="/w/Dockerfile",
    target="uvbuild-base",
    build_contexts=(("uvbuild-heavy", "/w/heavy"),),
    platforms=("linux/amd64",),
    tags=("app-uvbuild-base:0123456789abcdef",),
    load=True,
    network="host",
)
APP = BuildRequest(
    context="/project",
    file="/w/Dockerfile",
    tags=("app:dev", "app:latest"),
    build_args=(("A", "1"),),
    build_contexts=(
        ("uvbuild-base", "docker-image://app-uvbuild-base:0123456789abcdef"),
        ("uvbuild-heavy", "/w/heavy"),
    ),
    platforms=("linux/amd64",),
    labels=(("team", "ml"),),
    secrets=("id=pip,env=PIP_TOKEN",),
    cache_from=("type=registry,ref=r/c",),
    cache_to=("type=inline",),
    no_cache=True,
    push=True,
)


def test_a_target_carries_every_flag_of_its_request():
    target = bakefile.target(APP)
    assert target == {
        "context": "/project",
        "dockerfile": "/w/Dockerfile",
        "tags": ["app:dev", "app:latest"],
        "args": {"A": "1"},
        "contexts": {
            "uvbuild-base": "docker-image://app-uvbuild-base:0123456789abcdef",
            "uvbuild-heavy": "/w/heavy",
        },
        "platforms": ["linux/amd64"],
        "labels": {"team": "ml"},
        "secret": ["id=pip,env=PIP_TOKEN"],
        "cache-from": ["type=registry,ref=r/c"],
        "cache-to": ["type=inline"],
        "no-cache": True,
        "output": ["type=registry"],
    }


def test_a_base_to_build_is_a_target_the_app_reads():
    document = bakefile.document(BASE, APP, base_ref="app-uvbuild-base:0123456789abcdef")
    assert document["group"] == {"default": {"targets": ["app"]}}
    assert set(document["target"]) == {"uvbuild-base", "app"}
    base = document["target"]["uvbuild-base"]
    assert base["target"] == "uvbuild-base"
    assert base["output"] == ["type=docker"]
    assert document["target"]["app"]["contexts"]["uvbuild-base"] == "target:uvbuild-base"


def test_an_existing_base_is_read_as_an_image():
    ref = "127.0.0.1:5000/team/base:0123456789abcdef"
    document = bakefile.document(None, APP, base_ref=ref)
    assert set(document["target"]) == {"app"}
    assert document["target"]["app"]["contexts"]["uvbuild-base"] == f"docker-image://{ref}"
