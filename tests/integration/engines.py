"""Second Docker engines for the fault tests: one beside the machine's engine, optionally
with its data root on a small loop-mounted ext4 filesystem (a full disk for real).

An engine here has its own socket, data root, exec root and pidfile, and runs without
iptables (``../shared/docker/start-engine`` documents what a second engine needs; never
``--bridge=none``, which deletes the first engine's docker0). Everything one engine makes
lives under ``/run/<PREFIX><id>`` (socket, exec root, pidfile, log) and, with a small
filesystem, ``/var/tmp/<PREFIX><id>.img`` (the sparse backing file) mounted on
``/run/<PREFIX><id>/fs``: :func:`leftovers` finds what a test did not remove by that prefix.
Needs root (CI runs as root), the ``dockerd``/``containerd`` binaries in /opt/dk/bin,
``losetup``, ``mkfs.ext4`` and ``mount``.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import time
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

PREFIX = "uvbuild-test-engine-"
DK_BIN = Path(os.environ.get("DK_BIN", "/opt/dk/bin"))
START_SECONDS = 60


def available() -> str | None:
    """Why a second engine cannot be started here, or None."""
    if os.geteuid() != 0:
        return "a second engine needs root"
    if not (DK_BIN / "dockerd").is_file():
        return f"no dockerd in {DK_BIN} (run ../shared/docker/start-engine)"
    for tool in ("losetup", "mkfs.ext4", "mount", "umount"):
        if shutil.which(tool) is None:
            return f"no {tool} on PATH"
    return None


def _run(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, capture_output=True, text=True, timeout=timeout, check=False)


def _must(*args: str, timeout: float = 120) -> str:
    proc = _run(*args, timeout=timeout)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} failed ({proc.returncode}): {proc.stderr.strip()}")
    return proc.stdout.strip()


@dataclass
class Engine:
    """A running second engine; ``host`` is its ``DOCKER_HOST``."""

    root: Path  # /run/<PREFIX><id>
    data_root: Path
    process: subprocess.Popen[bytes] | None = None
    loop: str | None = None  # /dev/loopN of the small filesystem
    image: Path | None = None  # its backing file
    mountpoint: Path | None = None
    log: list[str] = field(default_factory=list)

    @property
    def host(self) -> str:
        return f"unix://{self.root}/docker.sock"

    def env(self, base: Mapping[str, str] | None = None) -> dict[str, str]:
        """The environment of a docker (or uvbuild) command aimed at this engine."""
        env = dict(os.environ if base is None else base)
        env.pop("DOCKER_CONTEXT", None)
        env["DOCKER_HOST"] = self.host
        return env

    def docker(self, *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["docker", *args],
            env=self.env(),
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    def free_bytes(self) -> int:
        stat = os.statvfs(self.data_root)
        return stat.f_bavail * stat.f_frsize

    def load(self, *refs: str) -> None:
        """Copy images from the machine's engine: ``docker save | docker load``."""
        save = subprocess.Popen(["docker", "save", *refs], stdout=subprocess.PIPE)
        try:
            load = subprocess.run(
                ["docker", "load", "-q"],
                stdin=save.stdout,
                env=self.env(),
                capture_output=True,
                text=True,
                timeout=600,
                check=False,
            )
        finally:
            if save.stdout is not None:
                save.stdout.close()
            save.wait(600)
        if save.returncode != 0 or load.returncode != 0:
            raise RuntimeError(f"docker save | docker load failed: {load.stderr.strip()}")


def _small_fs(root: Path, size_mb: int) -> tuple[Path, str, Path]:
    image = Path("/var/tmp") / f"{root.name}.img"
    with open(image, "wb") as sparse:
        sparse.truncate(size_mb << 20)
    _must("mkfs.ext4", "-q", "-F", "-m", "0", str(image))
    loop = _must("losetup", "--find", "--show", str(image))
    mountpoint = root / "fs"
    mountpoint.mkdir()
    _must("mount", loop, str(mountpoint))
    return image, loop, mountpoint


def _start(engine: Engine) -> None:
    log = open(engine.root / "dockerd.log", "ab")  # noqa: SIM115 - the child keeps it
    env = {**os.environ, "PATH": f"{DK_BIN}:{os.environ.get('PATH', '/usr/bin:/bin')}"}
    proc = subprocess.Popen(
        [
            str(DK_BIN / "dockerd"),
            "-H",
            engine.host,
            "--data-root",
            str(engine.data_root),
            "--exec-root",
            str(engine.root / "exec"),
            "--pidfile",
            str(engine.root / "docker.pid"),
            "--iptables=false",
            "--ip6tables=false",
        ],
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=log,
        stderr=log,
        start_new_session=True,
    )
    log.close()
    engine.process = proc
    deadline = time.monotonic() + START_SECONDS
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            break
        if engine.docker("info", "--format", "{{.ID}}", timeout=30).returncode == 0:
            return
        time.sleep(0.3)
    tail = (engine.root / "dockerd.log").read_text(errors="replace").splitlines()[-15:]
    raise RuntimeError("the second dockerd did not answer:\n" + "\n".join(tail))


def stop(engine: Engine) -> list[str]:
    """Stop the engine and remove its mount, loop device and files; what failed."""
    problems: list[str] = []
    proc = engine.process
    if proc is not None:
        proc.terminate()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(30)
            problems.append(f"dockerd {proc.pid} needed SIGKILL")
    for pid in _pids():  # its containerd, if dockerd left it behind
        if str(engine.root) in _cmdline(pid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
    # mounts under the engine's directories (the filesystem, leftovers of overlay2)
    for point in sorted(_mounts(str(engine.root)), key=len, reverse=True):
        if _run("umount", point).returncode != 0 and _run("umount", "-l", point).returncode != 0:
            problems.append(f"cannot unmount {point}")
    if engine.loop is not None and _run("losetup", "-d", engine.loop).returncode != 0:
        problems.append(f"cannot detach {engine.loop}")
    if engine.image is not None:
        engine.image.unlink(missing_ok=True)
    shutil.rmtree(engine.root, ignore_errors=True)
    return problems


@contextlib.contextmanager
def engine(size_mb: int | None = None) -> Iterator[Engine]:
    """A second engine, removed at the end whatever happens; with ``size_mb`` its data
    root is on an ext4 filesystem of that size (reserved blocks 0: all of it is free)."""
    root = Path("/run") / f"{PREFIX}{uuid.uuid4().hex[:8]}"
    root.mkdir(parents=True)
    made = Engine(root=root, data_root=root / "data")
    try:
        if size_mb is not None:
            made.image, made.loop, made.mountpoint = _small_fs(root, size_mb)
            made.data_root = made.mountpoint / "docker"
        _start(made)
        yield made
    finally:
        problems = stop(made)
        if problems:
            raise RuntimeError("; ".join(problems))


# -- what is left -------------------------------------------------------------------------------


def _pids() -> list[int]:
    return [int(name) for name in os.listdir("/proc") if name.isdigit()]


def _cmdline(pid: int) -> str:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return ""
    return raw.replace(b"\0", b" ").decode(errors="replace")


def _mounts(fragment: str) -> list[str]:
    try:
        lines = Path("/proc/self/mounts").read_text().splitlines()
    except OSError:
        return []
    return [line.split()[1] for line in lines if fragment in line.split()[1]]


def leftovers() -> list[str]:
    """Engines, mounts, loop devices and files of this module that still exist."""
    found = [f"process {pid}: {_cmdline(pid)[:120]}" for pid in _pids() if PREFIX in _cmdline(pid)]
    found += [f"mount {point}" for point in _mounts(PREFIX)]
    proc = _run("losetup", "--list", "--noheadings", "--output", "NAME,BACK-FILE")
    found += [f"loop device {line.strip()}" for line in proc.stdout.splitlines() if PREFIX in line]
    for parent in (Path("/run"), Path("/var/tmp")):
        found += [f"file {path}" for path in parent.glob(f"{PREFIX}*")]
    return found
