"""The fixed epoch and the mtime clamp that make a base or layer RUN reproducible.

Every RUN of the base and layer stages sets ``SOURCE_DATE_EPOCH`` in its own shell (uv's
bytecode compiler then writes checked-hash ``.pyc`` files, which embed no mtime) and ends
by setting the mtime of everything it wrote to that epoch, so two builds of one key give
the same layers whether or not the engine rewrites timestamps.
"""

from __future__ import annotations

import shlex
from collections.abc import Iterable

# Written at the start of a base or layer RUN: what is newer was written by the RUN.
RUN_START = "/tmp/uvbuild-run-start"


def reproducible_steps(
    epoch: int, steps: list[str], roots: Iterable[str], mounts: Iterable[str]
) -> list[str]:
    """``steps`` with SOURCE_DATE_EPOCH set before and the mtimes clamped after (of
    everything they wrote and everything under ``roots``; ``mounts`` are left out)."""
    # RUN_START is dated two seconds back: a file written in the same clock tick still
    # counts as newer.
    start = f'touch -d "@$(($(date +%s) - 2))" {RUN_START}'
    return [f"export SOURCE_DATE_EPOCH={epoch}", start, *steps, _clamp_paths(roots, mounts)]


def _clamp_paths(roots: Iterable[str], mounts: Iterable[str]) -> str:
    """Set the mtime of everything this RUN wrote (newer than RUN_START), and of everything
    under ``roots``, to SOURCE_DATE_EPOCH. The image's lower layers stay as they are; the
    mounts (uv's cache, the requirements, the secrets) are left out."""
    # the engine bind-mounts /etc/hosts, /etc/hostname and /etc/resolv.conf (read-only)
    skip = ["/proc", "/sys", "/dev", "/etc/hosts", "/etc/hostname", "/etc/resolv.conf", *mounts]
    prune = " -o ".join(f"-path {shlex.quote(path)}" for path in skip)
    keep = "".join(
        f" -o -path {shlex.quote(root)} -o -path {shlex.quote(root + '/*')}" for root in roots
    )
    return (
        f"find / -xdev \\( {prune} \\) -prune -o \\( -newer {RUN_START}{keep} \\) "
        '-exec touch -h -d "@$SOURCE_DATE_EPOCH" {} + && \\\n'
        f'    rm {RUN_START} && touch -h -d "@$SOURCE_DATE_EPOCH" /tmp'
    )
