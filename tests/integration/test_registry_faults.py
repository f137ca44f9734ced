"""Registry faults, for real (issue #13, item 2), on the local registry at 127.0.0.1:5000.

* **A lost blob.** A base is pushed, then one of its layer blobs is deleted from the
  registry's storage (its ``data`` file: the manifest and the repository's link stay, as
  after a storage fault). uvbuild checks every blob of a registry base with a ``HEAD``
  before it trusts it, so the next build on a "second machine" builds the base again
  instead of an app on a base nobody can pull, and says so; with ``--push-base`` it
  pushes the base over the broken tag.
* **An upload that breaks off.** A loopback proxy in front of the registry answers blob
  uploads half-way with HTTP 500, or resets the connection mid-body: exit 5 with one line,
  the registry holds no tag (or a complete one: every blob of its manifest is fetched and
  its digest checked), and a rerun through the healed proxy pushes the base without
  building it.
* **uvbuild SIGKILLed during ``--push-base``.** The proxy holds the push's uploads while the
  test kills uvbuild's process group: the ``docker push`` it started dies with it (no push
  goes on behind a killed run), the registry has no tag, and the next run pushes what is
  missing without building the base again (the blob the killed push stored is not sent
  twice).

Each test has its own repository under ``127.0.0.1:5000/uvbuild-test/<uuid>/``; at the end
its manifests are deleted through the API, its directory under the registry's storage
root is removed, and so are the blobs no other repository links to (the registry's
garbage collection needs it stopped). The local images go, and the build cache records
that kept them (as ``uvbuild gc`` finds them). dockerd retries a failed layer upload four
times (5 + 10 + 15 + 20 s) before it gives up, so each upload-fault test takes about a
minute.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from tests import synth
from tests.integration.helpers import (
    APP_LOG_START,
    MANIFEST_TYPES,
    api,
    delete_repository,
    error_lines,
    image_exists,
    plan_base,
    registry_tags,
    tool_uvbuild,
)
from tests.integration.uvrun import REPO
from tests.integration.uvrun import uvbuild as run_uvbuild
from uvbuild.docker.engine import Engine
from uvbuild.gc import records_to_prune

REGISTRY_ROOT = Path("/var/lib/docker-registry/docker/registry/v2")
HEAVY_MB = 4  # two heavy wheels of 2 MB: a base builds in seconds


def environment() -> dict[str, str]:
    return {**os.environ, "NO_COLOR": "1"}


def uvbuild(*args: str) -> subprocess.CompletedProcess[str]:
    return run_uvbuild(*args, timeout=900, env=environment())


def build_args(project: Path, tag: str, *flags: str) -> list[str]:
    return ["build", "--network", "host", "--json", "-t", tag, *flags, str(project)]


def built(proc: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    assert proc.returncode == 0, f"exit {proc.returncode}:\n{proc.stderr[-4000:]}"
    return json.loads(proc.stdout)


def one_error_line(proc: subprocess.CompletedProcess[str]) -> str:
    assert "Traceback" not in proc.stderr
    (line,) = error_lines(proc.stderr)
    assert proc.stderr.rstrip().endswith(line)
    return line


# -- the registry's storage and API ---------------------------------------------------------


def manifest(host: str, name: str, tag: str) -> dict[str, Any] | None:
    status, _, body = api(host, f"/v2/{name}/manifests/{tag}", headers={"Accept": MANIFEST_TYPES})
    if status == 404:
        return None
    assert status == 200, (status, body[:300])
    return json.loads(body)


def blob_digests(document: dict[str, Any]) -> list[str]:
    return [document["config"]["digest"], *(layer["digest"] for layer in document["layers"])]


def blob_status(host: str, name: str, digest: str) -> int:
    return api(host, f"/v2/{name}/blobs/{digest}", "HEAD")[0]


def tag_state(host: str, name: str, tag: str) -> str:
    """ "absent", or "complete" once every blob the manifest names was fetched and its
    content has the digest; anything else fails the test."""
    document = manifest(host, name, tag)
    if document is None:
        return "absent"
    for digest in blob_digests(document):
        status, _, body = api(host, f"/v2/{name}/blobs/{digest}")
        assert status == 200, f"{digest}: {status}"
        assert f"sha256:{hashlib.sha256(body).hexdigest()}" == digest
    return "complete"


def blob_data(digest: str) -> Path:
    hexdigest = digest.removeprefix("sha256:")
    return REGISTRY_ROOT / "blobs" / "sha256" / hexdigest[:2] / hexdigest / "data"


def _linked_blobs(repo_dir: Path) -> set[str]:
    layers = repo_dir / "_layers" / "sha256"
    return {f"sha256:{entry.name}" for entry in layers.iterdir()} if layers.is_dir() else set()


def _all_repositories() -> Iterator[Path]:
    for top, dirs, _files in os.walk(REGISTRY_ROOT / "repositories"):
        if "_layers" in dirs:
            yield Path(top)
        dirs[:] = [d for d in dirs if not d.startswith("_")]


def remove_from_registry(host: str, names: list[str]) -> None:
    """Delete the repositories' manifests (API), their storage directories, and the blobs
    that no other repository links to."""
    for name in names:
        delete_repository(host, name)
    if not REGISTRY_ROOT.is_dir() or not os.access(REGISTRY_ROOT, os.W_OK):
        return
    mine = [REGISTRY_ROOT / "repositories" / name for name in names]
    ours: set[str] = set()
    for repo_dir in mine:
        ours |= _linked_blobs(repo_dir) if repo_dir.is_dir() else set()
    others: set[str] = set()
    for repo_dir in _all_repositories():
        if repo_dir not in mine:
            others |= _linked_blobs(repo_dir) & ours
    for repo_dir in mine:
        shutil.rmtree(repo_dir, ignore_errors=True)
        parent = repo_dir.parent  # .../uvbuild-test/<uuid>
        if parent.is_dir() and not any(parent.iterdir()):
            parent.rmdir()
    for digest in ours - others:
        shutil.rmtree(blob_data(digest).parent, ignore_errors=True)


# -- a proxy in front of the registry that breaks uploads -----------------------------------


class FaultProxy:
    """A loopback HTTP proxy to the registry. ``mode``: "ok" forwards everything; "500"
    answers each blob upload (PATCH/PUT under ``/blobs/uploads/``) with HTTP 500 after
    reading half of its body; "reset" resets the connection there instead; "hold" forwards
    the first blob upload and holds the next ones until ``release`` is set (then resets
    them). ``stored``: the digests of uploads the registry completed through it."""

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream
        self.mode = "ok"
        self.held = threading.Event()
        self.release = threading.Event()
        self.stored: list[str] = []
        self.faults = 0
        self._passed = 0
        self._lock = threading.Lock()
        proxy = self

        class Handler(_Forward):
            owner = proxy

        self.server = _QuietServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.server.server_address[1]}"

    def fault(self, command: str) -> str | None:
        """What to do with an upload: None (forward it), "500", "reset" or "hold"."""
        if self.mode == "ok" or command not in ("PATCH", "PUT"):
            return None
        with self._lock:
            if self.mode == "hold" and command == "PATCH" and self._passed == 0:
                self._passed += 1
                return None
            if self.mode == "hold" and command == "PUT" and self._passed == 1:
                return None  # the first upload's closing PUT
            self.faults += 1
        return self.mode

    def __enter__(self) -> FaultProxy:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(10)


class _QuietServer(ThreadingHTTPServer):
    def handle_error(self, request: Any, client_address: Any) -> None:
        """dockerd hangs up on a proxied answer when its push is cancelled (uvbuild killed)
        or retried: not worth a traceback; anything else is."""
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class _Forward(BaseHTTPRequestHandler):
    owner: FaultProxy

    def log_message(self, *args: Any) -> None:
        pass

    def _body(self, limit: int | None = None) -> bytes:
        """The request body (Content-Length or chunked), or its first ``limit`` bytes."""
        if self.headers.get("Transfer-Encoding", "").lower() != "chunked":
            length = int(self.headers.get("Content-Length") or 0)
            return self.rfile.read(length if limit is None else min(length, limit))
        data = bytearray()
        while limit is None or len(data) < limit:
            size = int(self.rfile.readline().strip() or b"0", 16)
            if size == 0:
                self.rfile.readline()
                break
            data += self.rfile.read(size)
            self.rfile.readline()
        return bytes(data)

    def _reset(self) -> None:
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.close_connection = True

    def _handle(self) -> None:
        upload = "/blobs/uploads/" in self.path
        fault = self.owner.fault(self.command) if upload else None
        if fault == "hold":
            self.owner.held.set()
            self.owner.release.wait(300)
            self._reset()
            return
        if fault is not None:
            length = int(self.headers.get("Content-Length") or 0)
            self._body(limit=max(length // 2, 1024))  # half-way through the upload
            if fault == "reset":
                self._reset()
                return
            body = json.dumps({"errors": [{"code": "UNKNOWN", "message": "injected"}]}).encode()
            self._answer(500, [("Content-Type", "application/json")], body)
            self.close_connection = True
            return
        self._forward()

    def _forward(self) -> None:
        import http.client

        data = self._body() if self.command in ("PATCH", "PUT", "POST") else None
        skip = ("connection", "transfer-encoding", "content-length")
        headers = {k: v for k, v in self.headers.items() if k.lower() not in skip}
        upstream = http.client.HTTPConnection(self.owner.upstream, timeout=120)
        try:
            upstream.request(self.command, self.path, body=data, headers=headers)
            answer = upstream.getresponse()
            body = answer.read()
        finally:
            upstream.close()
        if self.command == "PUT" and "digest=" in self.path and answer.status == 201:
            digest = self.path.split("digest=", 1)[1].split("&", 1)[0].replace("%3A", ":")
            self.owner.stored.append(digest)
        kept = [(k, v) for k, v in answer.getheaders() if k.lower() not in skip]
        if self.command == "HEAD":
            kept.append(("Content-Length", answer.getheader("Content-Length") or "0"))
        self._answer(answer.status, kept, body)

    def _answer(self, status: int, headers: list[tuple[str, str]], body: bytes) -> None:
        self.send_response(status)
        for key, value in headers:
            self.send_header(key, value)
        if self.command != "HEAD":
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    do_GET = do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = _handle


# -- fixtures -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def fault_index() -> Iterator[synth.IndexServer]:
    """Wheels of their own (a random seed): the heavy layers, and so the blob a test
    deletes, are in no other repository of the registry."""
    with tempfile.TemporaryDirectory(prefix="uvbuild-regfault-wheels-") as tmp:
        wheels = synth.populate_index(tmp, heavy_mb=HEAVY_MB, seed=uuid.uuid4().int % 10**9)
        with synth.IndexServer() as server:
            synth.add_to_index(server, wheels)
            yield server


@pytest.fixture
def repos(registry: str) -> Iterator[Callable[[], str]]:
    """``repos()`` -> a fresh repository name ``uvbuild-test/<uuid>/base``, removed from the
    registry (manifests, storage, blobs only it links) afterwards."""
    names: list[str] = []

    def make() -> str:
        names.append(f"uvbuild-test/{uuid.uuid4().hex[:12]}/base")
        return names[-1]

    yield make
    remove_from_registry(registry, names)


@pytest.fixture
def cleanup(image_cleanup) -> Iterator[Any]:
    """The images a test registers go at the end, and then the build cache records that
    kept their layers (as ``uvbuild gc`` picks them: shared before, no longer after)."""
    yield image_cleanup
    engine = Engine()
    before = engine.cache_records()
    image_cleanup.remove_all()
    for record in records_to_prune(before, engine.cache_records()):
        engine.prune_record(record)


@pytest.fixture
def project(
    fault_index: synth.IndexServer, base_images: dict[str, str], tmp_path: Path
) -> Callable[[str], synth.SyntheticProject]:
    def make(base_repo: str) -> synth.SyntheticProject:
        return synth.make_project(
            tmp_path / f"app-{uuid.uuid4().hex[:6]}",
            fault_index.url,
            tool_uvbuild=tool_uvbuild(base_images, base_repo),
            lock_now=True,
        )

    return make


# -- 1. a blob lost from the registry's storage ---------------------------------------------


def test_a_base_with_a_lost_blob_is_built_again_and_pushed_over(
    project, repos, registry: str, cleanup, record_property
) -> None:
    if not os.access(REGISTRY_ROOT, os.W_OK):
        pytest.skip(f"{REGISTRY_ROOT} is not writable here: no blob can be lost on purpose")
    name = repos()
    app = project(f"{registry}/{name}")
    base = plan_base(app.path)
    tag16 = base["tag"].rsplit(":", 1)[1]
    tag = cleanup.add(f"uvbuild-test/regfault-lost:{uuid.uuid4().hex[:8]}")
    cleanup.add(base["tag"])
    started = time.monotonic()

    first = built(uvbuild(*build_args(app.path, tag, "--push-base")))
    assert (first["base"]["action"], first["base"]["pushed"]) == ("built", True)
    document = manifest(registry, name, tag16)
    assert document is not None
    # The largest layer holds this module's random wheels: no other repository has it.
    lost = max(document["layers"], key=lambda layer: layer["size"])["digest"]
    blob_data(lost).unlink()
    assert blob_status(registry, name, lost) == 404
    assert manifest(registry, name, tag16) == document  # the manifest does not know
    # A second machine: no base in the engine.
    subprocess.run(["docker", "image", "rm", "-f", base["tag"], tag], capture_output=True)
    assert not image_exists(base["tag"])

    second = uvbuild(*build_args(app.path, tag))
    summary = built(second)
    assert summary["base"]["action"] == "rebuilt"
    assert (summary["base"]["source"], summary["base"]["pushed"]) == ("engine", False)
    warning = f"base {base['tag']} in the registry lacks 1 blob its manifest names"
    assert warning in second.stderr
    assert "building the base again" in second.stderr and "--push-base" in second.stderr
    assert [w for w in summary["warnings"] if w.startswith(warning)]
    assert "reusing base from registry" not in second.stderr
    assert "(the registry's copy lacks blobs)" in second.stderr
    assert image_exists(base["tag"]) and synth.installed_distributions(tag) == (
        synth.expected_distributions(app.path)
    )
    assert blob_status(registry, name, lost) == 404  # not asked to push: the tag stays broken

    third = uvbuild(*build_args(app.path, tag, "--push-base"))
    summary = built(third)
    assert (summary["base"]["action"], summary["base"]["pushed"]) == ("reused", True)
    assert "using the engine's base; it is pushed over the broken tag" in third.stderr
    assert "==> building base" not in third.stderr
    assert tag_state(registry, name, tag16) == "complete"
    assert blob_status(registry, name, lost) == 200
    seconds = time.monotonic() - started
    record_property("lost_blob_seconds", round(seconds, 1))
    print(f"\nlost blob: 3 builds in {seconds:.1f} s")


# -- 2. uploads that break off half-way -----------------------------------------------------


@pytest.mark.parametrize("fault", ["500", "reset"])
def test_an_upload_broken_off_half_way_exits_5_and_a_rerun_pushes(
    project, repos, registry: str, cleanup, fault: str, record_property
) -> None:
    name = repos()
    with FaultProxy(registry) as proxy:
        app = project(f"{proxy.host}/{name}")
        base = plan_base(app.path)
        tag16 = base["tag"].rsplit(":", 1)[1]
        tag = cleanup.add(f"uvbuild-test/regfault-upload:{uuid.uuid4().hex[:8]}")
        cleanup.add(base["tag"])
        proxy.mode = fault
        started = time.monotonic()

        failed = uvbuild(*build_args(app.path, tag, "--push-base"))

        assert failed.returncode == 5, failed.stderr[-4000:]
        line = one_error_line(failed)
        assert line.startswith(f"error: pushing {base['tag']} failed (broke off: ")
        assert "no tag was made or moved" in line and "run again with --push-base" in line
        assert proxy.faults > 0
        assert APP_LOG_START not in failed.stderr
        assert tag_state(registry, name, tag16) in ("absent", "complete")
        assert registry_tags(registry, name) == []
        assert image_exists(base["tag"]) and not image_exists(tag)
        failed_seconds = time.monotonic() - started

        proxy.mode = "ok"
        again = uvbuild(*build_args(app.path, tag, "--push-base"))

    summary = built(again)
    assert (summary["base"]["action"], summary["base"]["pushed"]) == ("reused", True)
    assert "==> building base" not in again.stderr and "==> pushing base" in again.stderr
    assert tag_state(registry, name, tag16) == "complete"
    record_property("failed_push_seconds", round(failed_seconds, 1))
    print(f"\n{fault}: the failed run took {failed_seconds:.1f} s")


# -- 3. uvbuild SIGKILLed while it pushes the base ------------------------------------------


def _pushes_of(ref: str) -> list[int]:
    """Processes running ``docker push <ref>``."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                argv = (entry / "cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            if b"push" in argv and ref.encode() in argv:
                found.append(int(entry.name))
    return found


def test_sigkill_during_push_base_then_the_next_run_pushes_what_is_missing(
    project, repos, registry: str, cleanup, tmp_path: Path
) -> None:
    name = repos()
    with FaultProxy(registry) as proxy:
        app = project(f"{proxy.host}/{name}")
        base = plan_base(app.path)
        tag16 = base["tag"].rsplit(":", 1)[1]
        tag = cleanup.add(f"uvbuild-test/regfault-kill:{uuid.uuid4().hex[:8]}")
        cleanup.add(base["tag"])
        proxy.mode = "hold"
        log = (tmp_path / "killed.log").open("w")
        scratch = tmp_path / "tmp"  # where the killed run's work directory stays behind
        scratch.mkdir()
        killed = subprocess.Popen(
            [sys.executable, "-m", "uvbuild", *build_args(app.path, tag, "--push-base")],
            cwd=REPO,
            env={**environment(), "TMPDIR": str(scratch)},
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        try:
            assert proxy.held.wait(900), "the push never reached the registry"
            assert _pushes_of(base["tag"]), "no docker push runs"
        finally:
            os.killpg(killed.pid, signal.SIGKILL)
            killed.wait(60)
            log.close()
        output = (tmp_path / "killed.log").read_text()
        assert "==> pushing base" in output, output[-3000:]
        # The docker push uvbuild started dies with it (the kernel's parent-death signal).
        deadline = time.monotonic() + 60
        while _pushes_of(base["tag"]) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert _pushes_of(base["tag"]) == []
        proxy.release.set()
        assert registry_tags(registry, name) == []
        assert image_exists(base["tag"])  # tagged before the push began
        first_stored = list(proxy.stored)

        proxy.mode = "ok"
        again = uvbuild(*build_args(app.path, tag, "--push-base"))

    summary = built(again)
    assert (summary["base"]["action"], summary["base"]["source"]) == ("reused", "engine")
    assert summary["base"]["pushed"] is True
    assert "==> building base" not in again.stderr
    assert f"==> reusing base {base['tag']}" in again.stderr
    assert tag_state(registry, name, tag16) == "complete"
    # What the killed push stored is not uploaded again.
    assert not set(first_stored) & set(proxy.stored[len(first_stored) :])
