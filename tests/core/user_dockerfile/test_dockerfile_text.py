"""uvbuild.core.user_dockerfile.dockerfile_text: stages and instructions as BuildKit's parser
reads them, and Dockerfile variable expansion."""

from __future__ import annotations

import pytest

from uvbuild.core.user_dockerfile import dockerfile_text
from uvbuild.core.user_dockerfile.dockerfile_text import assignments, expand, unquote
from uvbuild.errors import ConfigError

MULTI = """\
# syntax=docker/dockerfile:1
ARG BASE=python:3.11
FROM $BASE AS Builder
ENV A="two words" B=x
RUN --mount=type=cache,target=/x \\
    --mount=type=bind,source=a,target=b echo \\
    hi
COPY --from=a --from=b x y
RUN ["uv", "sync"]
RUN <<EOF
echo
EOF
FROM builder
FROM debian
"""


@pytest.fixture(scope="module")
def multi():
    return dockerfile_text.parse(MULTI, "Dockerfile")


def test_globals_and_stages(multi):
    assert multi.path == "Dockerfile"
    assert multi.syntax == "docker/dockerfile:1"
    assert [g.text for g in multi.globals] == ["ARG BASE=python:3.11"]
    assert [(s.index, s.name, s.base) for s in multi.stages] == [
        (0, "builder", "$BASE"),  # names compare in lower case, as BuildKit's do
        (1, None, "builder"),
        (2, None, "debian"),
    ]
    assert [i.cmd for i in multi.stages[0].body] == ["ENV", "RUN", "COPY", "RUN", "RUN"]
    assert multi.stages[1].body == ()


def test_stage_named_by_name_or_index(multi):
    assert multi.stage_named("BUILDER").index == 0
    assert multi.stage_named("builder").index == 0
    assert multi.stage_named("1").index == 1
    assert multi.stage_named("2").index == 2
    # a named stage is not found by its number
    assert multi.stage_named("0") is None
    assert multi.stage_named("python:3.11") is None


def test_instruction_lines_text_and_flags(multi):
    run = multi.stages[0].body[1]
    assert (run.start, run.end) == (5, 7)
    assert run.text == MULTI.splitlines()[4] + "\n" + "\n".join(MULTI.splitlines()[5:7])
    assert run.flags == ("--mount=type=cache,target=/x", "--mount=type=bind,source=a,target=b")
    assert run.flag("mount") == "type=bind,source=a,target=b"  # the last one given
    assert run.flag("from") is None
    assert not run.json and not run.heredoc
    copy = multi.stages[0].body[2]
    assert copy.flag("from") == "b" and copy.value == ("x", "y")


def test_exec_form_and_heredoc(multi):
    exec_run, heredoc = multi.stages[0].body[3:5]
    assert exec_run.json and exec_run.value == ("uv", "sync")
    assert heredoc.heredoc and (heredoc.start, heredoc.end) == (10, 12)
    assert heredoc.text == "RUN <<EOF\necho\nEOF"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("# syntax=docker/dockerfile:1.7\nFROM a\n", "docker/dockerfile:1.7"),
        ("#syntax = example.com/custom:1\nFROM a\n", "example.com/custom:1"),
        ("# escape=\\\n# syntax=docker/dockerfile:1\nFROM a\n", "docker/dockerfile:1"),
        ("FROM a\n# syntax=docker/dockerfile:1\n", None),  # only before the first instruction
        ("FROM a\n", None),
    ],
)
def test_syntax_directive(text, expected):
    assert dockerfile_text.parse(text, "Dockerfile").syntax == expected


@pytest.mark.parametrize(
    "text",
    ["FROM debian\nENV A\n", "FROM debian\nRUN <<EOF\nuv sync\n", "# escape=x\nFROM a\n", ""],
)
def test_parse_error_names_the_file(text):
    with pytest.raises(ConfigError, match=r"^build/Dockerfile: not a Dockerfile BuildKit can read"):
        dockerfile_text.parse(text, "build/Dockerfile")


@pytest.mark.parametrize("text", ["\\\n", "\\\n\\\n", "ARG A=1\n\\\n"])
def test_line_continuations_alone_are_no_instruction(text):
    # found by tests/planner/test_plan_fuzz.py: the parser's node for them has no command
    with pytest.raises(ConfigError, match=r"^Dockerfile: "):
        dockerfile_text.parse(text, "Dockerfile")


@pytest.mark.parametrize(
    ("text", "line"),
    [("FROM alpine\0evil AS x\nRUN echo\n", 1), ("FROM a\nRUN echo \\\n  b\0\n", 3)],
)
def test_a_nul_byte_is_refused_with_its_line(text, line):
    # the Go parser reads lines as C strings: `FROM alpine\0evil` would read as `FROM alpine`
    expected = rf"^Dockerfile:{line}: a NUL byte in the Dockerfile; remove it"
    with pytest.raises(ConfigError, match=expected):
        dockerfile_text.parse(text, "Dockerfile")


def test_no_from_is_refused():
    with pytest.raises(ConfigError, match=r"^Dockerfile: no FROM instruction"):
        dockerfile_text.parse("ARG A=1\n", "Dockerfile")


# -- variables ---------------------------------------------------------------------------

ENV = {"A": "a", "EMPTY": "", "V": "3.11"}


@pytest.mark.parametrize(
    ("word", "expected"),
    [
        ("$A", "a"),
        ("${A}", "a"),
        ("x${A}y", "xay"),
        ("$A/$A", "a/a"),
        ("python$V", "python3.11"),
        ("$UNSET", ""),
        ("${UNSET}", ""),
        ("${A:-d}", "a"),
        ("${UNSET:-d}", "d"),
        ("${EMPTY:-d}", "d"),  # `:-` takes the default for an empty value too
        ("${UNSET:-$A}", "a"),
        ("${A:+x}", "x"),
        ("${UNSET:+x}", ""),
        ("${EMPTY:+x}", ""),
        ("${A:+$V}", "3.11"),
        ("\\$A", "$A"),
        ("\\${A}", "${A}"),
        ("$", "$"),
        ("no variables", "no variables"),
    ],
)
def test_expand(word, expected):
    assert expand(word, ENV) == expected


@pytest.mark.parametrize(
    ("word", "expected"),
    [('"two words"', "two words"), ("'x'", "x"), ("plain", "plain"), ('"', '"'), ("", "")],
)
def test_unquote(word, expected):
    assert unquote(word) == expected


def test_assignments_of_env_and_arg():
    parsed = dockerfile_text.parse(
        'FROM a\nENV A="two words" B=x\nENV C legacy form\nARG D E="q"\n', "Dockerfile"
    )
    env, legacy, arg = parsed.stages[0].body
    assert assignments(env) == [("A", '"two words"'), ("B", "x")]
    assert assignments(legacy) == [("C", "legacy form")]
    assert assignments(arg) == [("D", None), ("E", '"q"')]


@pytest.mark.parametrize(
    ("written", "value"),
    [
        ('"two $X"', "two x"),
        ("'two $X'", "two $X"),  # single quotes keep the value literal, as BuildKit does
        ("${X}-${NOPE:-d}", "x-d"),
        ("${EMPTY-d}|${EMPTY:-d}", "|d"),  # without the colon only an unset name is missing
        ("${EMPTY+set}|${EMPTY:+set}|${NOPE+set}", "set||"),
    ],
)
def test_evaluate_follows_the_frontend(written, value):
    assert dockerfile_text.evaluate(written, {"X": "x", "EMPTY": ""}) == value
