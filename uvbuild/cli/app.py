"""One invocation's state, on ``ctx.obj``: the terminal, ``--debug`` and where engines come from.

``main()`` creates the App before click parses anything, so the error translation point
reads ``--debug`` from it, wherever on the command line the flag was given.
"""

from __future__ import annotations

from typing import Protocol

from uvbuild.console.terminal import Terminal
from uvbuild.docker.facts.values import LineSink
from uvbuild.docker.verbs import EngineLike
from uvbuild.flow.inputs import user_cache_dir


class EngineFactory(Protocol):
    """Makes the engine of a command: the real one, or a fake in tests."""

    def __call__(
        self, *, builder: str | None, log: LineSink, trace: LineSink | None
    ) -> EngineLike: ...


def docker_engine(*, builder: str | None, log: LineSink, trace: LineSink | None) -> EngineLike:
    """The real engine; it keeps the builder's answer in ~/.cache/uvbuild/builders.json
    (uvbuild.docker.builders)."""
    from uvbuild.docker.engine import Engine

    return Engine(builder=builder, log=log, trace=trace, cache_dir=user_cache_dir())


class App:
    """The terminal the commands write to, ``--debug``, and the engine factory."""

    def __init__(self, engine_factory: EngineFactory = docker_engine) -> None:
        self.terminal = Terminal()
        self.debug = False
        self._engine_factory = engine_factory

    def set_output(self, **settings: bool) -> None:
        """``-q``, ``-v`` or ``--[no-]color``, before or after the subcommand."""
        current = {
            "quiet": self.terminal.quiet,
            "verbose": self.terminal.verbose,
            "color": self.terminal.color,
        }
        self.terminal = Terminal(**{**current, **settings})

    def engine(self, builder: str | None = None) -> EngineLike:
        """The engine for the buildx ``builder`` (None: the current one); it reports to the
        terminal, and with ``-v`` it shows every docker command it runs."""
        terminal = self.terminal
        return self._engine_factory(
            builder=builder,
            log=terminal.detail,
            trace=terminal.command if terminal.verbose else None,
        )
