"""uvbuild.core.user_dockerfile.dockerfile_stages: the ARG, ENV and WORKDIR an instruction sees
along its stage and the stages it is FROM, and what an instruction copies or mounts."""

from __future__ import annotations

from tests.core.user_dockerfile.splitting import split
from uvbuild.core.user_dockerfile import dockerfile_stages, dockerfile_text


def parse(text: str) -> dockerfile_text.ParsedDockerfile:
    return dockerfile_text.parse(text, "Dockerfile")


def body(text: str) -> tuple[dockerfile_text.Instruction, ...]:
    return parse(text).stages[-1].body


def test_global_arg_declared_again_in_the_stage():
    found = split("ARG V=3.12\nFROM debian\nARG V\nENV UV_PYTHON=$V\nRUN uv sync\n")
    assert found.flags["python"] == "3.12"
    # not declared again: the stage does not see it
    found = split("ARG V=3.12\nFROM debian\nENV UV_PYTHON=$V\nRUN uv sync\n")
    assert "python" not in found.flags


def test_scope_stops_before_the_given_instruction():
    parsed = parse("ARG G=g\nFROM debian\nARG G\nENV A=$G\nWORKDIR /w\nENV B=late\n")
    stage = parsed.stages[0]
    chain = dockerfile_stages.stage_chain(parsed, stage)
    scope = dockerfile_stages.stage_scope(parsed, chain, stage, 3, {})
    assert scope.all() == {"G": "g", "A": "g"} and scope.workdir == "/w"


def test_env_and_workdir_carry_over_from_the_parent_stage_but_args_do_not():
    parsed = parse("FROM debian AS a\nARG X=1\nENV E=$X\nWORKDIR /a\nFROM a\nRUN true\n")
    stage = parsed.stages[1]
    chain = dockerfile_stages.stage_chain(parsed, stage)
    assert [s.index for s in chain] == [0, 1]
    scope = dockerfile_stages.stage_scope(parsed, chain, stage, 1, {})
    assert scope.args == {} and scope.env == {"E": "1"} and scope.workdir == "/a"


def test_build_args_override_global_defaults():
    parsed = parse("ARG A=1\nARG B=$A\nFROM scratch\n")
    assert dockerfile_stages.global_args(parsed, {"A": "2"}) == {"A": "2", "B": "2"}


def test_references_of_copy_and_mount():
    copy, run = body(
        "FROM debian\nCOPY --from=tools /t /t\n"
        "RUN --mount=type=bind,from=busybox:1,target=/b --mount=type=cache,target=/c true\n"
    )
    assert dockerfile_stages.references(copy) == ["tools"]
    assert dockerfile_stages.references(run) == ["busybox:1"]


def test_context_sources_and_bind_sources():
    copy, add, run = body(
        "FROM debian\nCOPY $D/a.txt b.txt /x/\nADD --from=img /y /y\n"
        "RUN --mount=type=bind,src=tools,target=/t --mount=type=bind,target=/all "
        "--mount=type=bind,from=img,target=/i true\n"
    )
    assert dockerfile_stages.context_sources(copy, {"D": "data"}) == ["data/a.txt", "b.txt"]
    assert dockerfile_stages.context_sources(add, {}) == []
    assert dockerfile_stages.context_sources(run, {}) == ["tools", "."]


def test_mount_options_and_secret_kind():
    assert dockerfile_stages.mount_options("--mount=type=cache,Target=/c,ro") == {
        "type": "cache",
        "target": "/c",
        "ro": "true",
    }
    (secret,) = body("FROM debian\nRUN --mount=type=cache,target=/c --mount=type=ssh true\n")
    assert dockerfile_stages.secret_mount_kind(secret) == "ssh"
    (plain,) = body("FROM debian\nRUN --mount=type=cache,target=/c true\n")
    assert dockerfile_stages.secret_mount_kind(plain) is None
