"""Bases in a registry (issue #4): reuse without building, --push-base, a "second machine",
the order of a push, and clean failures (registry down, credentials refused, push denied,
missing or unstartable builder).

Every test pushes to a repository of its own (``127.0.0.1:5000/uvbuild-test/<uuid>/base``)
and deletes its manifests afterwards (the registry's blobs stay until its garbage collection,
which needs it stopped). Registries with other settings (htpasswd auth, an access log) are
extra ``docker-registry`` processes on free loopback ports; "push denied" is a small proxy in
front of 127.0.0.1:5000 that answers every write with 403 DENIED, as hosted registries do
(a read-only registry answers 405 instead, which dockerd retries for over a minute).
"""

from __future__ import annotations

import base64
import http.client
import json
import os
import re
import shutil
import socket
import subprocess
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from tests import synth
from tests.integration.helpers import APP_LOG_START, api, plan_base, registry_tags, tool_uvbuild
from tests.integration.uvrun import uvbuild as run_uvbuild
from uvbuild.docker.engine import Engine

REPO = Path(__file__).resolve().parents[2]
# user "uvbuild", password "uvbuild-secret" (bcrypt, made with libcrypt's $2b$)
HTPASSWD = "uvbuild:$2b$05$abcdefghijklmnopqrstuuf/GlpmdoHqDVTQnxvzyENaG17OOfdhi\n"
BASIC_AUTH = "Basic " + base64.b64encode(b"uvbuild:uvbuild-secret").decode()


# -- helpers -----------------------------------------------------------------------------------


def uvbuild(*args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    return run_uvbuild(*args, timeout=timeout, env={**os.environ, "NO_COLOR": "1"})


def docker(*args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["docker", *args], capture_output=True, text=True, timeout=timeout, check=False
    )


def image_exists(ref: str) -> bool:
    return docker("image", "inspect", ref, timeout=60).returncode == 0


def diff_ids(ref: str) -> list[str]:
    proc = docker("image", "inspect", "--format", "{{json .RootFS.Layers}}", ref)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def one_error_line(proc: subprocess.CompletedProcess[str], *needles: str) -> str:
    assert "Traceback" not in proc.stderr
    errors = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, proc.stderr
    assert proc.stderr.rstrip().endswith(errors[0])
    for needle in needles:
        assert needle in errors[0], f"{needle!r} not in {errors[0]!r}"
    return errors[0]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def build_json(project: Path, tag: str, *args: str) -> tuple[dict[str, Any], str, float]:
    started = time.monotonic()
    proc = uvbuild("build", "--network", "host", "--json", "-t", tag, *args, str(project))
    seconds = time.monotonic() - started
    assert proc.returncode == 0, f"exit {proc.returncode}:\n{proc.stderr[-4000:]}"
    return json.loads(proc.stdout), proc.stderr, seconds


# -- fixtures ----------------------------------------------------------------------------------


@pytest.fixture
def local_refs() -> Iterator[list[str]]:
    refs: list[str] = []
    yield refs
    if refs:
        docker("image", "rm", "-f", *dict.fromkeys(refs))


def _start_registry(config: str, root: Path) -> tuple[str, subprocess.Popen[bytes], Path]:
    port = free_port()
    (root / "data").mkdir(parents=True)
    config_file = root / "config.yml"
    config_file.write_text(
        config.replace("@ROOT@", str(root)).replace("@ADDR@", f"127.0.0.1:{port}")
    )
    log = root / "registry.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [shutil.which("docker-registry") or "docker-registry", "serve", str(config_file)],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    host = f"127.0.0.1:{port}"
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            api(host, "/v2/")
            return host, process, log
        except OSError:
            time.sleep(0.1)
    process.kill()
    raise AssertionError(f"docker-registry did not start: {log.read_text()[-2000:]}")


REGISTRY_CONFIG = """\
version: 0.1
log:
  level: info
  accesslog:
    disabled: false
storage:
  filesystem:
    rootdirectory: @ROOT@/data
  delete:
    enabled: true
http:
  addr: @ADDR@
"""


@pytest.fixture
def private_registry(tmp_path: Path) -> Iterator[Callable[..., tuple[str, Path]]]:
    """``private_registry(auth=False)`` -> (``host:port``, its log file): a registry of the
    test's own (Debian's docker-registry), stopped at teardown."""
    if shutil.which("docker-registry") is None:
        pytest.fail("docker-registry is not installed (apt-get install docker-registry)")
    started: list[subprocess.Popen[bytes]] = []

    def start(auth: bool = False) -> tuple[str, Path]:
        root = tmp_path / f"registry-{len(started)}"
        config = REGISTRY_CONFIG
        if auth:
            root.mkdir()
            (root / "htpasswd").write_text(HTPASSWD)
            config += "auth:\n  htpasswd:\n    realm: uvbuild-test\n    path: @ROOT@/htpasswd\n"
        host, process, log = _start_registry(config, root)
        started.append(process)
        return host, log

    yield start
    for process in started:
        process.terminate()
        process.wait(10)


class _DenyingProxy(BaseHTTPRequestHandler):
    """Reads go to the upstream registry; every write gets 403 DENIED."""

    upstream = "127.0.0.1:5000"
    writes: list[str]

    def log_message(self, *args: Any) -> None:
        pass

    def _read(self) -> None:
        proxy = http.client.HTTPConnection(self.upstream, timeout=30)
        headers = {k: v for k, v in self.headers.items() if k.lower() != "connection"}
        proxy.request(self.command, self.path, headers=headers)
        answer = proxy.getresponse()
        body = answer.read()
        self.send_response(answer.status)
        for key, value in answer.getheaders():
            if key.lower() in ("connection", "transfer-encoding"):
                continue
            if key.lower() == "content-length" and self.command != "HEAD":
                continue
            self.send_header(key, value)
        if self.command != "HEAD":
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)
        proxy.close()

    def _deny(self) -> None:
        self.writes.append(f"{self.command} {self.path}")
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        denied = {"code": "DENIED", "message": "requested access to the resource is denied"}
        body = json.dumps({"errors": [denied]}).encode()
        self.send_response(403)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(body)
        self.close_connection = True

    do_GET = do_HEAD = _read
    do_POST = do_PUT = do_PATCH = do_DELETE = _deny


@pytest.fixture
def denying_registry(registry: str) -> Iterator[tuple[str, list[str]]]:
    """(``host:port`` of a proxy that reads from 127.0.0.1:5000 and denies every write, the
    writes it denied)."""
    writes: list[str] = []
    handler = type("Handler", (_DenyingProxy,), {"upstream": registry, "writes": writes})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"127.0.0.1:{server.server_address[1]}", writes
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def inactive_container_builder() -> Iterator[str]:
    """A docker-container builder that exists but cannot boot here (no moby/buildkit image)."""
    name = f"uvbuild-test-{uuid.uuid4().hex[:8]}"
    proc = docker("buildx", "create", "--name", name, "--driver", "docker-container")
    assert proc.returncode == 0, proc.stderr
    try:
        yield name
    finally:
        docker("buildx", "rm", "--force", name)


# -- 1. a base in the registry: pushed once, reused by a "second machine" ------------------------


def test_second_machine_builds_the_app_on_the_registry_base(
    synth_index: synth.IndexServer,
    base_images: dict[str, str],
    pushed,
    local_refs: list[str],
    tmp_path: Path,
    record_property,
) -> None:
    registry_repo = pushed()
    host, name = registry_repo.split("/", 1)
    project = synth.make_project(
        tmp_path / "app",
        synth_index.url,
        tool_uvbuild=tool_uvbuild(base_images, registry_repo),
        lock_now=True,
    )
    base_tag = plan_base(project.path)["tag"]
    tag = f"uvbuild-test/registry-app:{uuid.uuid4().hex[:8]}"
    local_refs += [base_tag, tag]
    # Machine one starts cold, as the second one will: no build cache at all.
    assert docker("buildx", "prune", "-af", timeout=600).returncode == 0

    first, first_log, first_seconds = build_json(project.path, tag, "--push-base")
    local_refs.append(first["image"]["id"])
    assert first["base"]["action"] == "built"
    assert first["base"]["pushed"] is True
    assert "==> pushing base" in first_log
    assert registry_tags(host, name) == [base_tag.rsplit(":", 1)[1]]
    base_layers = diff_ids(base_tag)
    assert diff_ids(tag)[: len(base_layers)] == base_layers
    in_registry = Engine().registry_image(base_tag)
    assert in_registry is not None
    assert list(in_registry.diff_ids) == base_layers

    # Machine two: no local image, no build cache, the same registry.
    assert docker("image", "rm", "-f", base_tag, tag, first["image"]["id"]).returncode == 0
    assert not image_exists(base_tag)
    assert docker("buildx", "prune", "-af", timeout=600).returncode == 0

    second, second_log, second_seconds = build_json(project.path, tag)
    local_refs.append(second["image"]["id"])
    assert second["base"]["action"] == "reused"
    assert second["base"]["source"] == "registry"
    assert "reusing base from registry" in second_log
    assert "==> building base" not in second_log
    assert "[uvbuild-base" not in second_log and "[uvbuild-layer" not in second_log
    assert not re.search(r"uv pip install", second_log)
    # The app's bottom layers are the base's, as built on machine one.
    app_layers = diff_ids(tag)
    assert app_layers[: len(base_layers)] == base_layers
    assert [layer["shared-with-base"] for layer in second["image"]["layers"]][
        : len(base_layers)
    ] == [True] * len(base_layers)
    assert synth.installed_distributions(tag) == synth.expected_distributions(project.path)

    # For the record: a base-building cold build against the second machine's build.
    record_property("first_machine_seconds", round(first_seconds, 1))
    record_property("first_machine_base_seconds", first["base"]["seconds"])
    record_property("second_machine_seconds", round(second_seconds, 1))
    record_property("second_machine_pulled_bytes", in_registry.layer_bytes)
    print(
        f"\nfirst machine (base built, pushed): {first_seconds:.1f} s "
        f"(base {first['base']['seconds']:.1f} s); second machine: {second_seconds:.1f} s, "
        f"pulled at most {in_registry.layer_bytes / 1e6:.1f} MB (the base's compressed layers)"
    )


def test_push_uploads_every_blob_before_the_manifest(
    small_project, private_registry, local_refs: list[str]
) -> None:
    host, log = private_registry()
    name = f"uvbuild-test/{uuid.uuid4().hex[:12]}/base"
    project = small_project(f"{host}/{name}")
    base_tag = plan_base(project.path)["tag"]
    tag = f"uvbuild-test/registry-order:{uuid.uuid4().hex[:8]}"
    local_refs += [base_tag, tag]

    summary, _, _ = build_json(project.path, tag, "--push-base")

    assert summary["base"]["pushed"] is True
    writes = re.findall(r'"(PUT|PATCH|POST) (/v2/[^ ]+) HTTP', log.read_text())
    assert writes, log.read_text()[-2000:]
    blob_puts = [i for i, (method, path) in enumerate(writes) if "/blobs/uploads/" in path]
    manifest_puts = [i for i, (method, path) in enumerate(writes) if "/manifests/" in path]
    assert len(manifest_puts) == 1, writes
    # The tag is created by the manifest PUT, after every layer and the config are stored.
    assert blob_puts and max(blob_puts) < manifest_puts[0] == len(writes) - 1
    assert registry_tags(host, name) == [base_tag.rsplit(":", 1)[1]]


# -- 10. failures: one line, the documented exit code, no tag left behind -----------------------


def test_unreachable_registry_exits_4_before_building(small_project, local_refs: list[str]) -> None:
    project = small_project(f"127.0.0.1:{free_port()}/uvbuild-test/down/base")
    base_tag = plan_base(project.path)["tag"]
    tag = f"uvbuild-test/registry-down:{uuid.uuid4().hex[:8]}"
    local_refs += [base_tag, tag]

    proc = uvbuild("build", "-t", tag, str(project.path))

    assert proc.returncode == 4, proc.stderr
    one_error_line(proc, "cannot be reached", "connection refused", "--base-repo")
    assert "==> building base" not in proc.stderr
    assert not image_exists(base_tag) and not image_exists(tag)


def test_registry_refusing_credentials_exits_4(
    small_project, private_registry, local_refs: list[str]
) -> None:
    host, _ = private_registry(auth=True)
    name = f"uvbuild-test/{uuid.uuid4().hex[:12]}/base"
    project = small_project(f"{host}/{name}")
    base_tag = plan_base(project.path)["tag"]
    tag = f"uvbuild-test/registry-auth:{uuid.uuid4().hex[:8]}"
    local_refs += [base_tag, tag]

    proc = uvbuild("build", "--push-base", "-t", tag, str(project.path))

    assert proc.returncode == 4, proc.stderr
    one_error_line(proc, f"the registry {host} refused the credentials", "docker login")
    assert "==> building base" not in proc.stderr
    assert api(host, "/v2/")[0] == 401  # it does want credentials
    assert registry_tags(host, name, BASIC_AUTH) == []
    assert not image_exists(base_tag) and not image_exists(tag)


def test_denied_push_exits_5_and_leaves_no_registry_tag(
    small_project, denying_registry, registry: str, local_refs: list[str]
) -> None:
    proxy, writes = denying_registry
    name = f"uvbuild-test/{uuid.uuid4().hex[:12]}/base"
    project = small_project(f"{proxy}/{name}")
    base_tag = plan_base(project.path)["tag"]
    tag = f"uvbuild-test/registry-denied:{uuid.uuid4().hex[:8]}"
    local_refs += [base_tag, tag]

    started = time.monotonic()
    proc = uvbuild("build", "--network", "host", "--push-base", "-t", tag, str(project.path))

    assert proc.returncode == 5, proc.stderr
    one_error_line(proc, f"pushing {base_tag} failed", "denied", "docker login")
    # dockerd retries a refused upload a few times (about 50 s here) before giving up
    assert time.monotonic() - started < 180
    assert writes, "the push never reached the registry"
    assert APP_LOG_START not in proc.stderr
    assert registry_tags(registry, name) == []
    assert not image_exists(tag)
    # The base itself was built completely: it stays in the engine, and a later run with
    # --push-base pushes it without building it again.
    assert image_exists(base_tag)


def test_missing_builder_exits_4(small_project, local_refs: list[str]) -> None:
    project = small_project("uvbuild-test/nope-base")
    tag = f"uvbuild-test/registry-nope:{uuid.uuid4().hex[:8]}"
    local_refs.append(tag)

    proc = uvbuild("build", "--builder", "nope", "-t", tag, str(project.path))

    assert proc.returncode == 4, proc.stderr
    one_error_line(proc, "buildx builder 'nope' cannot be used", "docker buildx ls")
    assert not image_exists(tag)


# -- 2. builders outside the engine -------------------------------------------------------------


def test_container_builder_without_a_registry_repo_exits_4(
    small_project, inactive_container_builder: str, local_refs: list[str]
) -> None:
    project = small_project("uvbuild-test/container-base")
    tag = f"uvbuild-test/registry-container:{uuid.uuid4().hex[:8]}"
    local_refs.append(tag)

    proc = uvbuild("build", "--builder", inactive_container_builder, "-t", tag, str(project.path))

    assert proc.returncode == 4, proc.stderr
    one_error_line(
        proc, "docker-container driver", "--base-repo (tool.uvbuild.base-repo)", "registry"
    )
    assert "==> building base" not in proc.stderr


def test_container_builder_that_cannot_boot_exits_4_and_pushes_nothing(
    small_project,
    inactive_container_builder: str,
    pushed,
    registry: str,
    local_refs: list[str],
    base_images: dict[str, str],
) -> None:
    registry_repo = pushed()
    project = small_project(registry_repo)
    # A container builder reads images from their registry, which no image here is in:
    # pinned by digest, they are not looked up, and the builder's boot is what fails.
    pinned = [
        f"--base-image={base_images['python_image']}@sha256:{'1' * 64}",
        f"--uv-image={base_images['uv_image']}@sha256:{'2' * 64}",
    ]
    base_tag = plan_base(project.path, *pinned)["tag"]
    tag = f"uvbuild-test/registry-container:{uuid.uuid4().hex[:8]}"
    local_refs += [base_tag, tag]

    proc = uvbuild(
        "build", "--builder", inactive_container_builder, "-t", tag, *pinned, str(project.path)
    )

    assert proc.returncode == 4, proc.stderr
    one_error_line(proc, f"buildx builder {inactive_container_builder!r} could not start")
    # It got as far as building the base with --push (the builder boots on its first build).
    assert "pushed by the docker-container builder" in proc.stderr
    assert registry_tags(registry, registry_repo.split("/", 1)[1]) == []
    assert not image_exists(base_tag) and not image_exists(tag)
