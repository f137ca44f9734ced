"""The click commands: read the flags, make the plan, hand it to the flow, print the result.

The root group is here; the commands are grouped by what they do: ``plan`` and
``dockerfile`` (:mod:`uvbuild.cli.plan_commands`), ``build`` and ``bake``
(:mod:`uvbuild.cli.build_commands`), ``doctor`` and ``gc``
(:mod:`uvbuild.cli.upkeep_commands`); how they make their plans is
:mod:`uvbuild.cli.planning`. Each command takes the App (``ctx.obj``): its terminal, and
``app.engine()`` for the commands that talk to Docker.
"""

from __future__ import annotations

import click

from uvbuild import __version__
from uvbuild.cli.app import App
from uvbuild.cli.build_commands import bake, build
from uvbuild.cli.options import set_debug
from uvbuild.cli.plan_commands import dockerfile, plan
from uvbuild.cli.upkeep_commands import doctor, gc


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="uvbuild")
@click.option(
    "--debug",
    is_flag=True,
    is_eager=True,
    expose_value=False,
    callback=set_debug,
    help="Show tracebacks for errors.",
)
@click.option("-q", "--quiet", is_flag=True, help="Print only the result.")
@click.option("-v", "--verbose", is_flag=True, help="Show the docker commands run.")
@click.option("--color/--no-color", default=True, help="Colour on a terminal (NO_COLOR works).")
@click.pass_context
def cli(ctx: click.Context, quiet: bool, verbose: bool, color: bool) -> None:
    """Docker images for uv projects: the heavy packages in a reusable, content-keyed base."""
    ctx.ensure_object(App).set_output(quiet=quiet, verbose=verbose, color=color)


for command in (plan, dockerfile, build, bake, doctor, gc):
    cli.add_command(command)
