"""Where the engine keeps images and build cache: its image store, the free space and
bytes of its data root, BuildKit's cache records and pruning one of them."""

from __future__ import annotations

import json
import os
from pathlib import Path

from uvbuild.docker import process
from uvbuild.docker.commands.base import DockerCommands
from uvbuild.docker.facts.answers import parse_du
from uvbuild.docker.facts.faults import text_tail
from uvbuild.docker.facts.values import CacheRecord, Storage
from uvbuild.errors import EngineUnavailable


class StorageCommands(DockerCommands):
    """``docker info``, ``du`` of the data root, ``docker buildx du`` and ``prune``."""

    def containerd_store(self) -> bool:
        """Whether the engine keeps images in the containerd image store, which lets the
        docker driver keep attestations and export OCI/docker tars (``docker info``)."""
        proc = self._run(["info", "--format", "{{json .DriverStatus}}"], 60)
        return proc.returncode == 0 and "io.containerd.snapshotter" in proc.stdout

    def storage(self, local: bool | None = None) -> Storage:
        """Free space where the engine keeps images, measured when the engine runs on
        this machine (a unix socket and its data root visible here)."""
        proc = self._run(["info", "--format", "{{json .DockerRootDir}}"], 60)
        if proc.returncode != 0:
            return Storage(None, None, text_tail(proc.stderr, "docker info failed"))
        try:
            root = str(json.loads(proc.stdout.strip().splitlines()[0]))
        except (ValueError, IndexError):
            return Storage(None, None, "docker info did not give the data root")
        if local is None:
            endpoint = self._endpoint()
            local = bool(endpoint) and str(endpoint).startswith("unix://")
        if not local:
            return Storage(root, None, "the engine is not on this machine")
        path = Path(root)
        while not path.exists() and path != path.parent:
            path = path.parent
        if path != Path(root):
            return Storage(root, None, f"{root} is not visible on this machine")
        try:
            stats = os.statvfs(path)
        except OSError as exc:
            return Storage(root, None, f"cannot measure {root}: {exc.strerror}")
        return Storage(root, stats.f_bavail * stats.f_frsize)

    def cache_records(self) -> list[CacheRecord]:
        """BuildKit's cache records (``docker buildx du --verbose``)."""
        args = ["buildx", "du", "--verbose"]
        if self.builder:
            args += ["--builder", self.builder]
        proc = self._run(args, 300)
        if proc.returncode != 0:
            raise EngineUnavailable(f"docker buildx du failed ({text_tail(proc.stderr, '?')})")
        return parse_du(proc.stdout)

    def prune_record(self, record_id: str) -> bool:
        """Remove one unused cache record by id; False when BuildKit kept it (a record
        with children or in use is not pruned)."""
        args = ["buildx", "prune", "--force", "--filter", f"id={record_id}"]
        if self.builder:
            args += ["--builder", self.builder]
        proc = self._run(args, 300)
        return proc.returncode == 0 and record_id in proc.stdout

    def data_root_bytes(self) -> int | None:
        """``du -sb`` of the engine's data root, when the engine is on this machine and
        the root readable; None otherwise."""
        storage = self.storage()
        if storage.free is None or storage.root is None:
            storage = self.storage()  # a slow `docker context inspect` gives no answer once
        if storage.free is None or storage.root is None:
            return None
        try:
            proc = process.run(["du", "-sb", storage.root], 600)
        except OSError:
            return None
        first = proc.stdout.split()
        return int(first[0]) if first and first[0].isdigit() else None
