"""An image's layers by its id, kept between runs: ``~/.cache/uvbuild/layers/<id>.json``.

The closing summary of a build lists the app image's layers: their diff ids (``docker
image inspect``) with the history step and size that made each (``docker image
history``). An image id is the digest of the image's config, which holds both, so the
answer for an id never changes: a no-op rebuild, which makes the same id, reads it here
instead of starting two docker commands. Only an image that exists is asked about (the one
the build just loaded), and the newest ``KEEP`` answers are kept; any failure to read or
write a file is a miss, never an error. Delete the directory to forget them.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
from pathlib import Path

from uvbuild.docker import jsonfile
from uvbuild.docker.facts.values import Layer

DIR_NAME = "layers"
KEEP = 64
IMAGE_ID = re.compile(r"sha256:[0-9a-f]{64}")


class LayerCache:
    """The kept answers under ``directory/layers``."""

    def __init__(self, directory: Path) -> None:
        self.path = directory / DIR_NAME

    def _file(self, image_id: str) -> Path | None:
        return self.path / f"{image_id[7:]}.json" if IMAGE_ID.fullmatch(image_id) else None

    def get(self, image_id: str) -> list[Layer] | None:
        file = self._file(image_id)
        if file is None:
            return None
        try:
            found = json.loads(file.read_text())
            return [Layer(str(d), str(c), int(s)) for d, c, s in found["layers"]]
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def put(self, image_id: str, layers: list[Layer]) -> None:
        file = self._file(image_id)
        if file is None:
            return
        rows = [[layer.diff_id, layer.created_by, layer.size] for layer in layers]
        jsonfile.write(file, {"image": image_id, "layers": rows})
        self._prune()

    def _prune(self) -> None:
        """Keep the newest KEEP answers."""
        entries = []
        for entry in os.scandir(self.path):
            with contextlib.suppress(OSError):
                entries.append((entry.stat().st_mtime, entry.path))
        for _, path in sorted(entries, reverse=True)[KEEP:]:
            with contextlib.suppress(OSError):
                os.unlink(path)
