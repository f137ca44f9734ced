"""The click command line: parse flags, call the planner and the build flow, print.

``main()`` is the one place where UvbuildError becomes a red line and an exit code; the
root group is in ``commands``, the commands in ``plan_commands`` (plan, dockerfile),
``build_commands`` (build, bake) and ``upkeep_commands`` (doctor, gc), how they plan in
``planning``, their options (read from the settings tables) in ``options``, the
per-invocation state (terminal, ``--debug``, engine factory) in ``app``.

This module imports nothing heavy itself: ``main()`` first starts the answers the same
invocation asked last time (``uvbuild.docker.prefetch``), so they run while click, rich and
the planner are imported. ``cli``, ``App``, ``EngineFactory`` and ``docker_engine`` are
imported when first named.
"""

from __future__ import annotations

import signal
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from uvbuild.docker import prefetch
from uvbuild.errors import ConfigError, Interrupted, UvbuildError

if TYPE_CHECKING:
    from uvbuild.cli.app import App, EngineFactory, docker_engine
    from uvbuild.cli.commands import cli

__all__ = ["App", "EngineFactory", "cli", "docker_engine", "main", "printable"]


def __getattr__(name: str) -> Any:
    if name in ("App", "EngineFactory", "docker_engine"):
        from uvbuild.cli import app

        return getattr(app, name)
    if name == "cli":
        from uvbuild.cli.commands import cli

        return cli
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def printable(message: str) -> str:
    """``message`` with every character a terminal would not print as itself escaped.

    Error lines quote damaged input (a lock, a Dockerfile, a flag): a bidi override such as
    U+202E would reorder the rest of the line on screen, a newline or a NUL would break the
    promise of one line."""
    if message.isprintable():
        return message
    return "".join(
        char if char.isprintable() else char.encode("unicode_escape").decode("ascii")
        for char in message
    )


def _on_signal(signum: int, _frame: Any) -> None:
    raise Interrupted(f"interrupted by {signal.Signals(signum).name}", signum)


def main(argv: Sequence[str] | None = None, *, engine_factory: EngineFactory | None = None) -> None:
    """Entry point: run the CLI and turn every known error into one line and its exit code.
    ``engine_factory`` makes the engine of the commands that talk to Docker (default: the
    real one; tests pass a fake)."""
    args = list(sys.argv[1:] if argv is None else argv)
    ahead = prefetch.begin(args)
    try:
        _main(args, engine_factory)
    finally:
        if ahead is not None:
            ahead.end()


def _main(args: list[str], engine_factory: EngineFactory | None) -> None:
    import click

    from uvbuild.cli.app import App, docker_engine
    from uvbuild.cli.commands import cli

    # Made before click parses: `--debug` (before or after the subcommand) is set on it by
    # an eager callback, so errors raised while the other options are read see it too.
    app = App(engine_factory or docker_engine)
    # SIGINT too gets a handler: a shell may start uvbuild with SIGINT ignored (a
    # background job), and an interrupt must still stop the build child it forwards to.
    previous = {
        signum: signal.signal(signum, _on_signal) for signum in (signal.SIGINT, signal.SIGTERM)
    }
    try:
        cli.main(args=args, prog_name="uvbuild", standalone_mode=False, obj=app)
    except UvbuildError as exc:
        if app.debug:
            raise
        app.terminal.error(printable(str(exc)))
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        app.terminal.error("interrupted")
        sys.exit(130)
    except click.exceptions.Abort:
        app.terminal.error("aborted")
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(ConfigError.exit_code if exc.exit_code == 2 else exc.exit_code)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    sys.exit(0)
