"""Small JSON files uvbuild keeps between runs under its cache directory (the builder's
answer, the commands started ahead, the layers of an image, the lock-check verdicts).

A file that cannot be read is an empty one, and one that cannot be written is not kept:
such a file only saves time, so it never fails a run. Writes go through a scratch file
and a rename, so a run reading it meanwhile sees the old contents or the new, never half.
"""

from __future__ import annotations

import contextlib
import json
import os
from pathlib import Path
from typing import Any


def read(path: Path) -> dict[str, Any]:
    """The JSON object in ``path``; {} when it is missing, unreadable or not an object."""
    try:
        found = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return found if isinstance(found, dict) else {}


def write(path: Path, document: dict[str, Any], **dumps: Any) -> None:
    """Replace ``path`` with ``document`` (``dumps``: json.dumps's options), or leave it."""
    with contextlib.suppress(OSError):
        path.parent.mkdir(parents=True, exist_ok=True)
        scratch = path.with_name(f"{path.name}.{os.getpid()}.tmp")
        scratch.write_text(json.dumps(document, **dumps))
        os.replace(scratch, path)
