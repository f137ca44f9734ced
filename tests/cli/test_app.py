"""uvbuild.cli.app: the App gives every command its engine; -q, -v and --debug work after the
subcommand."""

from __future__ import annotations

import pytest

from tests.cli.projects import copy_project, no_lock
from tests.clirun import DEAD_SOCKET, PLAN_ARGS, run_main
from tests.paths import FIXTURES
from uvbuild import cli
from uvbuild.errors import ConfigError, LockError

# -- output flags after the subcommand --------------------------------------------------------


def test_quiet_and_verbose_work_after_the_subcommand(capsys, monkeypatch):
    monkeypatch.setenv("DOCKER_HOST", DEAD_SOCKET)
    project = str(FIXTURES / "two_indexes")
    got, out, err = run_main(capsys, "build", "--dry-run", "-q", project, *PLAN_ARGS)
    assert got == 0
    assert err == ""  # not even the "dry run without an engine" warning
    assert len(out.splitlines()) == 3
    got, out, err = run_main(capsys, "-q", "build", "--dry-run", project, *PLAN_ARGS)
    assert (got, err, len(out.splitlines())) == (0, "", 3)
    got, out, err = run_main(capsys, "build", "--dry-run", project, "-v", *PLAN_ARGS)
    assert got == 0
    commands = [line for line in err.splitlines() if line.startswith("$ ")]
    assert any("buildx inspect" in line for line in commands), err


def test_debug_works_after_the_subcommand(tmp_path):
    project = copy_project(tmp_path)
    no_lock(project)
    with pytest.raises(LockError):
        cli.main(["plan", str(project), "--debug"])


# -- one engine factory -----------------------------------------------------------------------


class Recorded(Exception):
    pass


@pytest.mark.parametrize(
    ("args", "builder"),
    [
        (("build", "--builder", "b1"), "b1"),
        (("bake", "--builder", "b2", "-o", "{tmp}/b.json"), "b2"),
        (("doctor", "--builder", "b3"), "b3"),
        (("gc", "--builder", "b4"), "b4"),
        (("build",), None),
    ],
)
def test_commands_get_their_engine_from_the_app(capsys, tmp_path, args, builder):
    made = []

    def factory(**settings):
        made.append(settings)
        raise ConfigError("recorded")

    args = [arg.replace("{tmp}", str(tmp_path)) for arg in args]
    with pytest.raises(SystemExit) as info:
        cli.main([*args, str(FIXTURES / "two_indexes"), *PLAN_ARGS, "-v"], engine_factory=factory)
    assert info.value.code == 2
    (settings,) = made
    assert settings["builder"] == builder
    assert settings["trace"] is not None  # -v: the engine shows its docker commands
    assert "error: recorded" in capsys.readouterr().err
