"""uvbuild.cli.main: one error line and the documented exit code per bad input, in-process and
through ``python -m uvbuild`` (the most faithful check that no traceback reaches the user);
signals; what importing the command line loads."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.cli.projects import append_config, copy_project, no_engine, no_lock
from tests.clirun import DEAD_SOCKET, assert_one_error_line, run_main, run_process
from tests.paths import FIXTURES, REPO
from uvbuild import cli
from uvbuild.cli import printable
from uvbuild.errors import ConfigError, LockError

# -- projects with one defect each ------------------------------------------------------------


def empty_lock(p: Path) -> None:
    (p / "uv.lock").write_text("")


def malformed_lock(p: Path) -> None:
    (p / "uv.lock").write_text("version = 1\n[[package]\nname = 'x'\n")


def too_new_lock(p: Path) -> None:
    (p / "uv.lock").write_text('version = 2\nrevision = 1\nrequires-python = ">=3.10"\n')


def malformed_pyproject(p: Path) -> None:
    (p / "pyproject.toml").write_text("[project\nname = 'proj'\n")


def no_pyproject(p: Path) -> None:
    (p / "pyproject.toml").unlink()


def config(text: str):
    def setup(p: Path) -> None:
        append_config(p, text)

    setup.__name__ = f"config({text})"
    return setup


def nothing(_p: Path) -> None:
    pass


# (id, setup, extra args, exit code, substrings of the error line)
BAD_INPUTS = [
    ("missing-lock", no_lock, [], 3, ["uv.lock", "not found", "`uv lock`"]),
    ("empty-lock", empty_lock, [], 3, ["uv.lock", "empty", "`uv lock`"]),
    ("malformed-lock", malformed_lock, [], 3, ["uv.lock", "not valid TOML", "fix the file"]),
    ("too-new-lock", too_new_lock, [], 3, ["uv.lock", "version 2", "upgrade uvbuild"]),
    ("malformed-pyproject", malformed_pyproject, [], 2, ["pyproject.toml", "not valid TOML"]),
    ("missing-pyproject", no_pyproject, [], 2, ["pyproject.toml", "not found", "pass its path"]),
    ("unknown-extra", nothing, ["--extra", "nope"], 2, ["--extra nope", "it has: e, f"]),
    ("unknown-group", nothing, ["--group", "nope"], 2, ["--group nope", "it has:"]),
    ("unknown-only-group", nothing, ["--only-group", "nope"], 2, ["--only-group nope"]),
    ("unknown-no-group", nothing, ["--no-group", "nope"], 2, ["--no-group nope", "it has: dev, g"]),
    ("unknown-no-extra", nothing, ["--no-extra", "nope"], 2, ["--no-extra nope", "it has: e, f"]),
    (
        "extra-with-all-extras",
        nothing,
        ["--extra", "e", "--all-extras"],
        2,
        ["--extra and --all-extras cannot be used together"],
    ),
    (
        "group-with-only-group",
        nothing,
        ["--group", "g", "--only-group", "g"],
        2,
        ["--group and --only-group cannot be used together"],
    ),
    (
        "only-dev-with-all-groups",
        nothing,
        ["--only-dev", "--all-groups"],
        2,
        ["--all-groups and --only-dev"],
    ),
    (
        "package-with-all-packages",
        nothing,
        ["--package", "proj", "--all-packages"],
        2,
        ["--package and --all-packages"],
    ),
    (
        "key-with-flag",
        config('only-groups = ["g"]'),
        ["--group", "g"],
        2,
        ["--group and --only-group", "[tool.uvbuild]"],
    ),
    (
        "project-not-in-lock",
        lambda p: (p / "pyproject.toml").write_text(
            (p / "pyproject.toml").read_text().replace('name = "proj"', 'name = "renamed"')
        ),
        [],
        3,
        ["uv.lock: the project 'renamed'", "run `uv lock`"],
    ),
    ("bad-platform", nothing, ["--platform", "windows/amd64"], 2, ["--platform", "linux/amd64"]),
    ("bad-platform-arch", nothing, ["--platform", "linux/s390x"], 2, ["--platform"]),
    ("bad-python-flag", nothing, ["--python", "three"], 2, ["--python", "3.11"]),
    ("bad-threshold-flag", nothing, ["--heavy-threshold", "big"], 2, ["--heavy-threshold"]),
    ("bad-min-size-flag", nothing, ["--heavy-min-size", "small"], 2, ["--heavy-min-size"]),
    ("unknown-key", config("colour = true"), [], 2, ["tool.uvbuild.colour", "heavy-threshold"]),
    (
        "heavy-threshold-type",
        config("heavy-threshold = true"),
        [],
        2,
        ["tool.uvbuild.heavy-threshold", "50MB"],
    ),
    (
        "heavy-threshold-value",
        config('heavy-threshold = "huge"'),
        [],
        2,
        ["tool.uvbuild.heavy-threshold"],
    ),
    ("heavy-type", config('heavy = "torch"'), [], 2, ["tool.uvbuild.heavy", "array"]),
    ("no-dev-type", config('no-dev = "yes"'), [], 2, ["tool.uvbuild.no-dev", "true or false"]),
    ("venv-type", config('venv = "venv"'), [], 2, ["tool.uvbuild.venv", "absolute path"]),
    ("venv-number", config("venv = 3"), [], 2, ["tool.uvbuild.venv"]),
    ("base-repo-type", config('base-repo = "My Repo"'), [], 2, ["tool.uvbuild.base-repo"]),
    ("base-repo-number", config("base-repo = 1"), [], 2, ["tool.uvbuild.base-repo"]),
    ("python-float", config("python = 3.10"), [], 2, ["tool.uvbuild.python", '"3.11"']),
    ("uvbuild-not-a-table", lambda p: _append_toml(p, 'tool.uvbuild = "x"'), [], 2, ["tool"]),
]


def _append_toml(project: Path, text: str) -> None:
    # A dotted key at top level: `tool.uvbuild = "x"` must come before any table header.
    path = project / "pyproject.toml"
    path.write_text(f"{text}\n{path.read_text()}")


@pytest.mark.parametrize(
    ("setup", "args", "code", "needles"),
    [pytest.param(*case[1:], id=case[0]) for case in BAD_INPUTS],
)
def test_plan_bad_input(tmp_path, capsys, setup, args, code, needles):
    project = copy_project(tmp_path)
    setup(project)
    got, out, err = run_main(capsys, "plan", str(project), *args)
    assert got == code, err
    assert_one_error_line(out, err, *needles)


@pytest.mark.parametrize("command", ["dockerfile", "build"])
@pytest.mark.parametrize(
    ("setup", "args", "code"),
    [
        pytest.param(no_lock, [], 3, id="missing-lock"),
        pytest.param(malformed_pyproject, [], 2, id="malformed-pyproject"),
        pytest.param(nothing, ["--platform", "amd64"], 2, id="bad-platform"),
        pytest.param(config("no-dev = 1"), [], 2, id="no-dev-type"),
    ],
)
def test_other_commands_bad_input(tmp_path, capsys, monkeypatch, command, setup, args, code):
    monkeypatch.setenv("DOCKER_HOST", DEAD_SOCKET)
    project = copy_project(tmp_path)
    setup(project)
    got, out, err = run_main(capsys, command, str(project), *args)
    assert got == code, err
    assert_one_error_line(out, err)


def test_missing_directory(tmp_path, capsys):
    got, out, err = run_main(capsys, "plan", str(tmp_path / "nope"))
    assert got == 2
    assert_one_error_line(out, err, "no such directory")


def test_lock_flag_pointing_nowhere(tmp_path, capsys):
    project = copy_project(tmp_path)
    got, out, err = run_main(capsys, "plan", str(project), "--lock", str(tmp_path / "x.lock"))
    assert got == 3
    assert_one_error_line(out, err, "x.lock", "`uv lock`")


def test_bad_build_arg(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("DOCKER_HOST", DEAD_SOCKET)
    got, out, err = run_main(capsys, "build", str(copy_project(tmp_path)), "--build-arg", "=x")
    assert got == 2
    assert_one_error_line(out, err, "--build-arg")


def test_click_usage_error_exits_2(capsys):
    got, _out, err = run_main(capsys, "plan", "--no-such-flag")
    assert got == 2
    assert "No such option" in err
    assert "Traceback" not in err


def test_debug_lets_the_exception_propagate(tmp_path):
    project = copy_project(tmp_path)
    with pytest.raises(ConfigError):
        cli.main(["--debug", "plan", str(project), "--platform", "linux/s390x"])
    no_lock(project)
    with pytest.raises(LockError):
        cli.main(["--debug", "plan", str(project)])


# -- the same through a real process ----------------------------------------------------------


@pytest.mark.parametrize(
    ("setup", "args", "code", "needles"),
    [
        pytest.param(no_lock, [], 3, ["`uv lock`"], id="missing-lock"),
        pytest.param(malformed_pyproject, [], 2, ["pyproject.toml"], id="malformed-pyproject"),
        pytest.param(
            config("heavy-treshold = 1"), [], 2, ["tool.uvbuild.heavy-treshold"], id="unknown-key"
        ),
        pytest.param(nothing, ["--platform", "windows/amd64"], 2, ["--platform"], id="platform"),
    ],
)
def test_process_bad_input(tmp_path, setup, args, code, needles):
    project = copy_project(tmp_path)
    setup(project)
    proc = run_process("plan", ".", *args, cwd=project)
    assert proc.returncode == code, proc.stderr
    assert_one_error_line(proc.stdout, proc.stderr, *needles)


def test_process_debug_shows_the_traceback(tmp_path):
    project = copy_project(tmp_path)
    no_lock(project)
    proc = run_process("--debug", "plan", ".", cwd=project)
    assert proc.returncode == 1
    assert "Traceback" in proc.stderr
    assert "LockError" in proc.stderr


def test_process_build_without_engine_exits_4(tmp_path):
    project = copy_project(tmp_path)
    proc = run_process("build", ".", "-t", "proj:dev", cwd=project)
    assert proc.returncode == 4, proc.stderr
    assert_one_error_line(proc.stdout, proc.stderr)


# -- signals, and processes without docker or an engine ---------------------------------------


def test_signal_handlers_are_restored(capsys):
    import signal

    before = (signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM))
    run_main(capsys, "plan", "--json", str(FIXTURES / "two_indexes"))
    assert (signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)) == before


@pytest.mark.parametrize("command", ["build", "doctor"])
def test_process_without_docker_cli(tmp_path, command):
    """A machine without Docker: one line that says to install it, exit 4."""
    project = copy_project(tmp_path)
    empty = tmp_path / "empty-path"
    empty.mkdir()
    proc = run_process(command, ".", cwd=project, PATH=str(empty))
    assert proc.returncode == 4, proc.stderr
    assert "Traceback" not in proc.stderr
    (line,) = proc.stderr.splitlines()
    assert "docker" in line and "install Docker Engine" in line


@pytest.mark.parametrize("command", ["build", "doctor"])
def test_process_new_user_without_an_engine(tmp_path, command):
    """No engine running: `build` and `doctor` each say in one line how to get going."""
    project = copy_project(tmp_path)
    proc = run_process(command, ".", cwd=project)
    if shutil.which("docker") is None:
        pytest.skip("no docker CLI: covered by test_process_without_docker_cli")
    assert proc.returncode == 4, proc.stderr
    (line,) = proc.stderr.splitlines()
    assert line.startswith("error: ")
    assert f"DOCKER_HOST={DEAD_SOCKET}" in line and "start the engine" in line
    assert "\x1b[" not in proc.stdout + proc.stderr


def test_process_output_on_pipes_has_no_control_characters(tmp_path):
    project = copy_project(tmp_path)
    env = {"NO_COLOR": "", "TERM": "xterm-256color", "COLUMNS": "80"}
    for args in (("plan", "."), ("doctor", "."), ("build", "--dry-run", ".", "-v")):
        proc = run_process(*args, cwd=project, **env)
        text = proc.stdout + proc.stderr
        assert proc.returncode in (0, 4), proc.stderr
        assert "\x1b" not in text and "\r" not in text, args


# -- what importing the command line loads, --debug -------------------------------------------


def test_import_loads_no_docker_client():
    code = "import sys, uvbuild.cli.commands; print('python_on_whales' in sys.modules)"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO)
    assert proc.stdout.strip() == "False", proc.stderr


def test_a_build_loads_no_http_client_until_a_registry_is_asked():
    """urllib.request (with http.client, ssl, email: ~17 ms) serves only the blob check of a
    base found in a registry, not the start of every build."""
    code = (
        "import sys, uvbuild.cli.commands, uvbuild.cli.build_commands, uvbuild.flow.build, "
        "uvbuild.docker.engine; "
        "print(sorted(m for m in ('urllib.request', 'http.client', 'ssl') if m in sys.modules))"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO)
    assert proc.stdout.strip() == "[]", proc.stderr


def test_the_entry_point_starts_the_prefetch_before_the_heavy_imports():
    """``uvbuild.cli`` (the console script's module) imports no click, rich or planner:
    main() starts the answers of the last same invocation first (uvbuild.docker.prefetch)."""
    code = (
        "import sys, uvbuild.cli; "
        "print(sorted(m for m in ('click', 'rich', 'uvbuild.planner') if m in sys.modules))"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO)
    assert proc.stdout.strip() == "[]", proc.stderr
    assert cli.cli.name == "cli" and cli.App is not None  # named lazily


def test_debug_after_the_flag_that_fails(tmp_path):
    """--debug is read first among its command's options, wherever it is given."""
    project = copy_project(tmp_path)
    with pytest.raises(ConfigError, match="--build-arg"):
        cli.main(["build", str(project), "--build-arg", "=x", "--debug"], engine_factory=no_engine)
    with pytest.raises(ConfigError, match="--heavy-threshold"):
        cli.main(["plan", str(project), "--heavy-threshold", "big", "--debug"])


# -- damaged input in the error line ----------------------------------------------------------


@pytest.mark.parametrize(
    ("message", "shown"),
    [
        ("plain text, unicode é and ü", "plain text, unicode é and ü"),
        ("a\u202eb", "a\\u202eb"),
        ("one\ntwo\rthree\tfour", "one\\ntwo\\rthree\\tfour"),
        ("nul\0bell\a esc\x1b[31m", "nul\\x00bell\\x07 esc\\x1b[31m"),
        ("zero\u200bwidth, isolate\u2066x\u2069", "zero\\u200bwidth, isolate\\u2066x\\u2069"),
    ],
)
def test_printable_escapes_what_a_terminal_would_not_print(message, shown):
    assert printable(message) == shown


def test_an_error_quoting_a_bidi_override_and_a_newline_stays_one_visible_line(tmp_path, capsys):
    missing = tmp_path / "evil\u202etxt.gnp\nsecond line"
    got, out, err = run_main(capsys, "plan", str(missing))
    assert got == 2
    line = assert_one_error_line(out, err, "no such directory", "evil\\u202etxt.gnp\\nsecond")
    assert "\u202e" not in line
