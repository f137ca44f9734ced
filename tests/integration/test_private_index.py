"""A private index on a real engine: credentials reach uv only as BuildKit secrets.

The module fixture serves the synthetic wheels from a loopback index that requires basic
auth, locks the project with the credentials in the environment, builds it once without
them (which must fail with exit 5) and once with them. The tests then look for the
password everywhere a leak could land: every file of every layer of the app and base
images (``docker save``), their config and history, ``plan --json``, the lock and the
build's own output.
"""

from __future__ import annotations

import base64
import io
import json
import os
import subprocess
import tarfile
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests import synth
from tests.integration.helpers import docker, error_lines, remove_images
from tests.integration.uvrun import uvbuild

USERNAME = "uvbuild-tester"
# distinctive, so a hit is a leak and not a coincidence
PASSWORD = "pw-Zq7vX3kR9-uvbuild-leak-canary"
CREDENTIALS = {"UV_INDEX_SYNTH_USERNAME": USERNAME, "UV_INDEX_SYNTH_PASSWORD": PASSWORD}
NEEDLES = (
    PASSWORD.encode(),
    base64.b64encode(f"{USERNAME}:{PASSWORD}".encode()),  # a Basic auth header
    PASSWORD.encode().hex().encode(),
)


def run_uvbuild(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("UV_INDEX_")}
    return uvbuild(*args, env={**clean, **env})


@dataclass
class Private:
    project: synth.SyntheticProject
    base_tag: str
    app_tag: str
    plan_json: str
    denied: subprocess.CompletedProcess[str]
    built: subprocess.CompletedProcess[str]


@pytest.fixture(scope="module")
def private(
    base_images: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Private]:
    wheels = synth.populate_index(tmp_path_factory.mktemp("private-wheels"), heavy_mb=4)
    repo = f"uvbuild-test/synth-private-{uuid.uuid4().hex[:8]}"
    with synth.IndexServer(username=USERNAME, password=PASSWORD) as server:
        synth.add_to_index(server, wheels)
        project = synth.make_project(
            tmp_path_factory.mktemp("private") / "app",
            server.url,
            tool_uvbuild={
                "heavy": synth.HEAVY_PATTERNS,
                "base-image": base_images["python_image"],
                "uv-image": base_images["uv_image"],
                "base-repo": f"{repo}-base",
                "index-credentials": ["synth"],
            },
        )
        synth.run_uv(["lock", "--no-progress"], cwd=project.path, env_extra=CREDENTIALS)
        plan = run_uvbuild("plan", "--json", str(project.path), env=CREDENTIALS)
        assert plan.returncode == 0, plan.stderr
        base_tag = json.loads(plan.stdout)["base"]["tag"]
        app_tag = f"{repo}:app"
        args = ("build", "-v", "--network", "host", "-t", app_tag, str(project.path))
        try:
            denied = run_uvbuild(*args, env={})
            built = run_uvbuild(*args, env=CREDENTIALS)
            yield Private(project, base_tag, app_tag, plan.stdout, denied, built)
        finally:
            remove_images([app_tag, base_tag])


def leaks(data: bytes) -> list[bytes]:
    return [needle for needle in NEEDLES if needle in data]


def saved_files_with_secret(image: str) -> tuple[int, list[str]]:
    """``docker save`` the image; every file of the archive and of each layer tarball
    inside it that holds a needle. Returns (files searched, files found)."""
    searched, found = 0, []
    with tempfile.TemporaryDirectory(prefix="uvbuild-leak-") as tmp:
        archive = Path(tmp) / "image.tar"
        docker("save", "-o", str(archive), image, timeout=600)
        with tarfile.open(archive) as outer:
            for member in outer.getmembers():
                if not member.isfile():
                    continue
                data = outer.extractfile(member).read()  # type: ignore[union-attr]
                searched += 1
                if leaks(data):
                    found.append(member.name)
                for name, content in layer_entries(data):
                    searched += 1
                    if leaks(content) or leaks(name.encode()):
                        found.append(f"{member.name}:{name}")
    return searched, found


def layer_entries(data: bytes) -> list[tuple[str, bytes]]:
    """(path, bytes or link target) of each entry when ``data`` is a layer tarball, else
    nothing (the manifest, the config: searched as they are)."""
    try:
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:*") as layer:
            return [
                (
                    entry.name,
                    layer.extractfile(entry).read()  # type: ignore[union-attr]
                    if entry.isfile()
                    else entry.linkname.encode(),
                )
                for entry in layer.getmembers()
            ]
    except tarfile.TarError:
        return []


def test_the_lock_records_the_index_without_credentials(private: Private) -> None:
    text = private.project.lockfile.read_text()
    assert private.project.index_url in text
    assert not leaks(text.encode()) and USERNAME not in text


def test_without_credentials_the_build_fails_with_exit_5(private: Private) -> None:
    denied = private.denied
    assert denied.returncode == 5, denied.stderr[-3000:]
    errors = error_lines(denied.stderr)
    assert len(errors) == 1, denied.stderr[-3000:]
    message = errors[0]
    assert "UV_INDEX_SYNTH_USERNAME" in message and "UV_INDEX_SYNTH_PASSWORD" in message
    assert "no credentials for index synth" in message
    assert "not set" in denied.stderr  # the warning before the build


def test_with_credentials_the_build_succeeds(private: Private) -> None:
    built = private.built
    assert built.returncode == 0, built.stderr[-4000:]
    # uv pip install in the base and uv sync in the app both fetched from the index
    assert f"+ {synth.TORCH}==" in built.stderr
    assert f"+ {synth.LIGHT_PACKAGES[0]}==" in built.stderr
    code = "import synthapp; synthapp.main()"
    out = docker("run", "--rm", "--network", "none", private.app_tag, "python", "-c", code)
    assert out.split()[:3] == ["synthapp", "0.1.0", "fake_torch"]


def test_the_secret_flags_name_variables_not_values(private: Private) -> None:
    assert "--secret id=uv-index-synth-password,env=UV_INDEX_SYNTH_PASSWORD" in private.built.stderr


def test_no_layer_config_or_history_holds_the_password(
    private: Private, record_property: pytest.RecordProperty
) -> None:
    assert private.built.returncode == 0
    for image in (private.app_tag, private.base_tag):
        searched, found = saved_files_with_secret(image)
        record_property(f"files_searched_{'app' if image == private.app_tag else 'base'}", searched)
        assert searched > 100
        assert found == [], image
        inspect = docker("image", "inspect", image)
        history = docker("history", "--no-trunc", "--format", "{{json .}}", image)
        assert not leaks(inspect.encode()) and not leaks(history.encode())
        # the RUNs that read the mounted secrets are in the history, by path only
        assert "/run/secrets/uv-index-synth-password" in history


def test_plan_and_build_output_hold_no_password(private: Private) -> None:
    assert not leaks(private.plan_json.encode())
    for proc in (private.built, private.denied):
        assert not leaks(proc.stdout.encode()) and not leaks(proc.stderr.encode())
