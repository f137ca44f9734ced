"""uvbuild.core.user_dockerfile.run_commands: the top-level commands of a RUN, their words, and
what a command does."""

from __future__ import annotations

import pytest

from uvbuild.core.user_dockerfile import dockerfile_text, run_commands


def commands(script: str) -> list[tuple[str, str]]:
    return [(script[s.start : s.end].strip(), s.separator) for s in run_commands.segments(script)]


def test_segments_and_their_separators():
    assert commands("a && b || c; d | e & f\ng") == [
        ("a", "&&"),
        ("b", "||"),
        ("c", ";"),
        ("d", "|"),
        ("e", "&"),
        ("f", ";"),
        ("g", ""),
    ]


@pytest.mark.parametrize(
    "script",
    [
        "echo 'a && b'",
        'echo "a && \\" b"',
        "echo a \\&\\& b",
        "echo $(a && b)",
        "echo `a && b`",
    ],
)
def test_quotes_escapes_and_substitutions_are_stepped_over(script):
    assert commands(script) == [(script, "")]


def test_empty_commands_are_left_out():
    assert commands("a;; b ;") == [("a", ";"), ("b", ";")]


def test_leading_assignments():
    words = run_commands.words("A=1 B='two words' uv sync --frozen")
    assert run_commands.leading_assignments(words) == (
        {"A": "1", "B": "two words"},
        ["uv", "sync", "--frozen"],
    )


@pytest.mark.parametrize(
    ("command", "expected"),
    [
        ("uv sync --frozen", ("sync", ["--frozen"])),
        ("/usr/local/bin/uv --no-cache -q sync", ("sync", [])),
        ("uv --no-cache", (None, [])),
        ("pip install x", (None, [])),
    ],
)
def test_uv_subcommand(command, expected):
    assert run_commands.uv_subcommand(run_commands.words(command)) == expected


@pytest.mark.parametrize(
    ("command", "sync", "pip", "python", "venv"),
    [
        ("UV_NO_DEV=1 uv sync", True, False, False, False),
        ("uv pip install x", False, True, False, False),
        ("pip3 install -r r.txt", False, True, False, False),
        ("uv python install 3.12", False, False, True, False),
        ("uv venv /v", False, False, False, True),
        ("python3 -m venv /v", False, False, False, True),
        ("echo uv sync", False, False, False, False),
    ],
)
def test_what_a_command_does(command, sync, pip, python, venv):
    assert run_commands.is_sync(command) is sync
    assert run_commands.installs_by_pip(command) is pip
    assert run_commands.installs_python(command) is python
    assert run_commands.creates_venv(command) is venv


@pytest.mark.parametrize(("command", "expected"), [("cd /app", True), ("export A=1", True)])
def test_commands_that_change_the_shell_state_only(command, expected):
    assert run_commands.changes_shell_state_only(command) is expected
    assert run_commands.changes_shell_state_only("apt-get update") is False


def test_exec_form_reads_as_its_shell_text():
    (run,) = (
        dockerfile_text.parse('FROM x\nRUN --network=none ["uv", "sync"]\n', "D").stages[0].body
    )
    assert run_commands.run_script(run) == "uv sync"
    assert run_commands.run_prefix(run) == "RUN --network=none"
    assert list(run_commands.commands(run)) == ["uv sync"]
