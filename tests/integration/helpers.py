"""Helpers the real-engine tests share: running uvbuild, asking docker, cleaning up."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests import synth
from tests.integration.uvrun import uvbuild


def docker(*args: str, check: bool = True, timeout: float = 300) -> str:
    proc = subprocess.run(
        ["docker", *args], capture_output=True, text=True, timeout=timeout, check=False
    )
    if check and proc.returncode != 0:
        raise AssertionError(f"docker {' '.join(args)} failed ({proc.returncode}): {proc.stderr}")
    return proc.stdout


VENV = "/opt/venv"

# Every entry of the venv: a regular file's sha256 (a .pyc only as present: it records
# its source's mtime), a symlink's target, or a directory.
VENV_FILES = """\
import hashlib, json, os
root = %r
out = {}
for top, dirs, files in os.walk(root):
    for name in dirs + files:
        path = os.path.join(top, name)
        rel = os.path.relpath(path, root)
        if os.path.islink(path):
            out[rel] = "link:" + os.readlink(path)
        elif os.path.isdir(path):
            out[rel] = "dir"
        elif name.endswith(".pyc"):
            out[rel] = "pyc"
        else:
            with open(path, "rb") as fh:
                out[rel] = hashlib.sha256(fh.read()).hexdigest()
print(json.dumps(out))
"""

# Every .py of the given packages has a .pyc that Python accepts as it is: a timestamp
# pyc records the source's mtime and size, a hash-based one its source hash.
STALE_PYC = """\
import importlib.util, json, os, sys
site = %r
stale, checked = [], 0
for package in %r:
    for top, _dirs, files in os.walk(os.path.join(site, package)):
        for name in files:
            if not name.endswith(".py"):
                continue
            source = os.path.join(top, name)
            cached = importlib.util.cache_from_source(source)
            if not os.path.exists(cached):
                stale.append(source + ": no pyc")
                continue
            data = open(cached, "rb").read(16)
            flags = int.from_bytes(data[4:8], "little")
            stat = os.stat(source)
            if flags == 0:
                ok = (int.from_bytes(data[8:12], "little") == int(stat.st_mtime) & 0xFFFFFFFF
                      and int.from_bytes(data[12:16], "little") == stat.st_size & 0xFFFFFFFF)
            else:
                ok = data[8:16] == importlib.util.source_hash(open(source, "rb").read())
            checked += 1
            if not ok:
                stale.append(source)
print(json.dumps({"checked": checked, "stale": stale}))
"""


def run_python(image: str, code: str) -> Any:
    out = docker("run", "--rm", "--network", "none", image, f"{VENV}/bin/python", "-c", code)
    return json.loads(out.strip().splitlines()[-1])


def venv_files(image: str) -> dict[str, str]:
    return run_python(image, VENV_FILES % VENV)


def differences(ours: dict[str, str], theirs: dict[str, str], skip: tuple[str, ...]) -> list[str]:
    keys = set(ours) | set(theirs)
    return sorted(k for k in keys if ours.get(k) != theirs.get(k) and not k.startswith(skip))


def image_exists(ref: str) -> bool:
    return (
        subprocess.run(
            ["docker", "image", "inspect", ref], capture_output=True, timeout=60, check=False
        ).returncode
        == 0
    )


def diff_ids(ref: str) -> list[str]:
    return json.loads(docker("image", "inspect", "--format", "{{json .RootFS.Layers}}", ref))


def python_in(image: str, code: str) -> str:
    return docker("run", "--rm", "--network", "none", image, "/opt/venv/bin/python", "-c", code)


def remove_images(refs: list[str]) -> None:
    if refs:
        subprocess.run(
            ["docker", "image", "rm", "-f", *dict.fromkeys(refs)],
            capture_output=True,
            timeout=300,
            check=False,
        )


def plan_base(project: Path, *args: str) -> dict[str, Any]:
    """``plan --json``'s base section: the key and tag a build would use."""
    proc = uvbuild("plan", "--json", *args, str(project))
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)["base"]


def plan_tag(project: Path, *args: str) -> str:
    return plan_base(project, *args)["tag"]


@dataclass
class Build:
    proc: subprocess.CompletedProcess[str]
    summary: dict[str, Any]
    seconds: float

    @property
    def app_log(self) -> str:
        """The stderr of the app build only (after the base build, if any)."""
        _, found, after = self.proc.stderr.partition(APP_LOG_START)
        assert found, f"no app build in the output:\n{self.proc.stderr[-3000:]}"
        return after

    @property
    def base_log(self) -> str:
        return self.proc.stderr.partition(APP_LOG_START)[0]

    @property
    def layers(self) -> list[dict[str, Any]]:
        return self.summary["image"]["layers"]


def build(project: Path, tag: str, *args: str) -> Build:
    """A successful ``uvbuild build --json``; fails the test with uvbuild's stderr otherwise."""
    started = time.monotonic()
    proc = uvbuild("build", "--network", "host", "--json", "-t", tag, *args, str(project))
    seconds = time.monotonic() - started
    assert proc.returncode == 0, f"uvbuild build exited {proc.returncode}:\n{proc.stderr[-4000:]}"
    summary = json.loads(proc.stdout)
    assert summary["schema"] == "uvbuild.build/1"
    return Build(proc, summary, seconds)


def error_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("error:")]


def copy_project(source: synth.SyntheticProject, dest: Path) -> synth.SyntheticProject:
    """The same project (same uv.lock, so the same base key) in another directory."""
    shutil.copytree(source.path, dest, ignore=shutil.ignore_patterns("Dockerfile*"))
    return synth.SyntheticProject(dest, source.index_url, list(source.dependencies))


def unique_repo(label: str) -> str:
    """A fresh repository name (docker accepts `--` in names, uvbuild's check does not)."""
    return f"uvbuild-test/synth-build-{label}-{uuid.uuid4().hex[:8]}"


def tool_uvbuild(base_images: dict[str, str], base_repo: str) -> dict[str, Any]:
    return {
        "heavy": synth.HEAVY_PATTERNS,
        "base-image": base_images["python_image"],
        "uv-image": base_images["uv_image"],
        "base-repo": base_repo,
    }


TORCH_FROM, TORCH_TO = synth.LAYER_TORCH_VERSIONS
GROUPS = {"cuda": ["fake-nvidia-*"], "torch": [synth.TORCH]}


def heavy_mb() -> float:
    return float(os.environ.get("UVBUILD_TEST_HEAVY_MB", synth.DEFAULT_HEAVY_MB))


APP_LOG_START = "==> building the app on the base"


# -- a registry's HTTP API: its tags, and deleting what a test pushed --------------------------

MANIFEST_TYPES = ", ".join(
    [
        "application/vnd.docker.distribution.manifest.v2+json",
        "application/vnd.docker.distribution.manifest.list.v2+json",
        "application/vnd.oci.image.manifest.v1+json",
        "application/vnd.oci.image.index.v1+json",
    ]
)


def api(
    host: str, path: str, method: str = "GET", headers: dict[str, str] | None = None
) -> tuple[int, dict[str, str], bytes]:
    request = urllib.request.Request(f"http://{host}{path}", method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:
            return answer.status, dict(answer.headers), answer.read()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), exc.read()


def registry_tags(host: str, name: str, auth: str | None = None) -> list[str]:
    """The repository's tags, from the registry's HTTP API (none when it does not exist)."""
    headers = {"Authorization": auth} if auth else {}
    status, _, body = api(host, f"/v2/{name}/tags/list", headers=headers)
    if status == 404:
        return []
    assert status == 200, (status, body)
    return json.loads(body).get("tags") or []


def delete_repository(host: str, name: str, auth: str | None = None) -> None:
    """Delete every manifest of the repository (its tags go with them)."""
    extra = {"Authorization": auth} if auth else {}
    for tag in registry_tags(host, name, auth):
        headers = {"Accept": MANIFEST_TYPES, **extra}
        status, answer, _ = api(host, f"/v2/{name}/manifests/{tag}", "HEAD", headers)
        digest = {k.lower(): v for k, v in answer.items()}.get("docker-content-digest")
        if status == 200 and digest:
            api(host, f"/v2/{name}/manifests/{digest}", "DELETE", extra)
