"""The engine's verbs that are docker commands run through the one runner.

python-on-whales has no verb for these (``imagetools inspect --raw``, ``buildx du``, ``bake
--print``, ``image history``...), or its verb has no timeout (a registry that does not
answer must not hang uvbuild), or it returns only when the command ends (a build's output
must show as it comes, and an interrupt must stop the solve). :class:`EngineCommands` is
the half of ``Engine`` that needs no Docker client: it runs ``docker_cmd`` + arguments.
One module per kind of verb: ``images``, ``digests``, ``registry``, ``builds``,
``probes`` (``uvbuild doctor``'s) and ``storage`` (data root and build cache), on the
runner of ``base``.
"""

from __future__ import annotations

from uvbuild.docker.commands.builds import BuildCommands
from uvbuild.docker.commands.digests import DigestCommands
from uvbuild.docker.commands.images import ImageCommands
from uvbuild.docker.commands.probes import ProbeCommands
from uvbuild.docker.commands.registry import RegistryCommands
from uvbuild.docker.commands.storage import StorageCommands


class EngineCommands(
    ImageCommands,
    DigestCommands,
    RegistryCommands,
    BuildCommands,
    ProbeCommands,
    StorageCommands,
):
    """Every verb carried out as docker commands; ``Engine`` supplies the docker command
    prefix, the builder and the logging sinks."""
