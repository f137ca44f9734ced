"""Fast tests (no Docker) of the synthetic project helpers in tests/synth.py."""

from __future__ import annotations

import base64
import csv
import hashlib
import io
import json
import os
import subprocess
import urllib.error
import urllib.request
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests import synth

HEAVY_MB = 2


@pytest.fixture(scope="module")
def wheels(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    return synth.populate_index(tmp_path_factory.mktemp("wheels"), heavy_mb=HEAVY_MB)


@pytest.fixture(scope="module")
def index(wheels: list[Path]) -> Iterator[synth.IndexServer]:
    with synth.IndexServer() as server:
        synth.add_to_index(server, wheels)
        yield server


def _get(
    url: str, *, accept: str | None = None, auth: str | None = None
) -> tuple[int, dict, bytes]:
    req = urllib.request.Request(url)
    if accept:
        req.add_header("Accept", accept)
    if auth:
        req.add_header("Authorization", "Basic " + base64.b64encode(auth.encode()).decode())
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, dict(resp.headers), resp.read()
    except urllib.error.HTTPError as err:
        with err:
            return err.code, dict(err.headers), err.read()


# -- wheels ------------------------------------------------------------------------------


def test_make_wheel_record_and_metadata(tmp_path: Path) -> None:
    path = synth.make_wheel(
        tmp_path,
        "Fake.Thing",
        "1.2.3",
        payload_bytes=300_000,
        deps=("fake-filelock>=1",),
        files={"fake_thing/extra.py": "X = 1\n"},
        seed=7,
        requires_python=">=3.9",
    )
    assert path.name == "fake_thing-1.2.3-py3-none-any.whl"
    assert abs(path.stat().st_size - 300_000) < 4096
    with zipfile.ZipFile(path) as zf:
        assert all(i.compress_type == zipfile.ZIP_STORED for i in zf.infolist())
        record = zf.read("fake_thing-1.2.3.dist-info/RECORD").decode()
        rows = list(csv.reader(io.StringIO(record)))
        names = {row[0] for row in rows}
        assert names == set(zf.namelist())
        for name, digest, size in rows:
            if name.endswith("RECORD"):
                assert (digest, size) == ("", "")
                continue
            data = zf.read(name)
            expected = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=")
            assert digest == "sha256=" + expected.decode()
            assert int(size) == len(data)
        meta = zf.read("fake_thing-1.2.3.dist-info/METADATA").decode()
        assert "Name: Fake.Thing" in meta
        assert "Requires-Dist: fake-filelock>=1" in meta
        assert "Requires-Python: >=3.9" in meta
        assert "Tag: py3-none-any" in zf.read("fake_thing-1.2.3.dist-info/WHEEL").decode()
        assert zf.read("fake_thing/__init__.py") == b'__version__ = "1.2.3"\n'


def test_make_wheel_seed_is_deterministic(tmp_path: Path) -> None:
    a = synth.make_wheel(tmp_path / "a", "p", "1.0", payload_bytes=100_000, seed=1)
    b = synth.make_wheel(tmp_path / "b", "p", "1.0", payload_bytes=100_000, seed=1)
    c = synth.make_wheel(tmp_path / "c", "p", "1.0", payload_bytes=100_000, seed=2)
    assert a.read_bytes() == b.read_bytes() != c.read_bytes()


def test_wheel_installs_from_index_and_imports(index: synth.IndexServer, tmp_path: Path) -> None:
    target = tmp_path / "target"
    synth.run_uv(
        [
            "pip",
            "install",
            "--no-progress",
            "--target",
            str(target),
            "--index-url",
            index.url,
            "fake-torch==2.1.0",
        ]
    )
    out = subprocess.run(
        [
            "python",
            "-c",
            "import fake_torch, fake_nvidia_cuda_cu12 as c, fake_filelock as f;"
            "print(fake_torch.__version__, c.__version__, f.__version__)",
        ],
        env={**os.environ, "PYTHONPATH": str(target)},
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert out == ["2.1.0", "12.4.0", "1.2.0"]
    payload = target / "fake_torch" / "_payload.bin"
    assert payload.stat().st_size == HEAVY_MB * (1 << 20) // 2


# -- index -------------------------------------------------------------------------------


def test_pep691_json_shape(index: synth.IndexServer) -> None:
    status, headers, body = _get(index.url + "/", accept=synth.PEP691_JSON)
    assert status == 200
    assert headers["Content-Type"] == synth.PEP691_JSON
    listing = json.loads(body)
    assert listing["meta"]["api-version"] == "1.1"
    names = {p["name"] for p in listing["projects"]}
    assert {synth.TORCH, synth.CUDA, synth.BROKEN, *synth.LIGHT_PACKAGES} == names

    status, _, body = _get(index.url + "/fake-torch/", accept=synth.PEP691_JSON)
    page = json.loads(body)
    assert page["name"] == "fake-torch"
    assert page["versions"] == list(synth.TORCH_VERSIONS)
    f = page["files"][0]
    assert f["filename"] == "fake_torch-2.0.0-py3-none-any.whl"
    assert f["url"] == index.file_url(f["filename"])
    assert f["size"] == index.files[f["filename"]].size
    assert f["hashes"] == {"sha256": index.files[f["filename"]].sha256}
    assert f["requires-python"] == ">=3.9"
    assert f["upload-time"] == synth.UPLOAD_TIME

    status, headers, body = _get(f["url"])
    assert status == 200
    assert int(headers["Content-Length"]) == f["size"] == len(body)
    assert hashlib.sha256(body).hexdigest() == f["hashes"]["sha256"]
    _, _, meta = _get(f["url"] + ".metadata")
    assert hashlib.sha256(meta).hexdigest() == f["core-metadata"]["sha256"]


def test_html_pages_and_redirects(index: synth.IndexServer) -> None:
    status, _, body = _get(index.url + "/Fake_Torch")  # non-normalised, no slash: redirected
    assert status == 200
    html = body.decode()
    entry = index.files["fake_torch-2.1.0-py3-none-any.whl"]
    assert f'href="{index.file_url(entry.filename)}#sha256={entry.sha256}"' in html
    assert 'data-requires-python="&gt;=3.9"' in html
    status, _, body = _get(index.url)
    assert status == 200
    assert b'href="/simple/lightpkg-a/"' in body
    assert _get(index.url + "/no-such-project/")[0] == 404


def test_broken_wheel_is_listed_but_not_served(index: synth.IndexServer) -> None:
    broken = index.project_files(synth.BROKEN)[0]
    assert broken.broken == "404"
    assert _get(index.file_url(broken.filename))[0] == 404
    assert _get(index.file_url(broken.filename) + ".metadata")[0] == 200


def test_corrupt_and_basic_auth(wheels: list[Path]) -> None:
    light = next(w for w in wheels if w.name.startswith("lightpkg_a-1.0.0"))
    with synth.IndexServer(username="u", password="p") as server:
        entry = server.add(light, broken="corrupt")
        assert _get(server.url + "/")[0] == 401
        assert _get(server.url + "/", auth="u:wrong")[0] == 401
        status, _, body = _get(server.file_url(entry.filename), auth="u:p")
        assert status == 200
        assert len(body) == entry.size
        assert hashlib.sha256(body).hexdigest() != entry.sha256
        server.set_broken(entry.filename, None)
        _, _, body = _get(server.file_url(entry.filename), auth="u:p")
        assert hashlib.sha256(body).hexdigest() == entry.sha256


# -- project, lock, bump -----------------------------------------------------------------


def test_toml_dumps_round_trips() -> None:
    table = {"heavy": ["fake-torch", "fake-nvidia-*"], "n": 3, "on": True, "base": {"x": "y"}}
    assert synth.tomllib.loads(synth.toml_dumps({"tool": {"uvbuild": table}})) == {
        "tool": {"uvbuild": table}
    }


def test_lock_records_registry_sizes_and_hashes(index: synth.IndexServer, tmp_path: Path) -> None:
    project = synth.make_project(
        tmp_path / "p", index.url, tool_uvbuild={"heavy": synth.HEAVY_PATTERNS}, lock_now=True
    )
    with project.pyproject.open("rb") as fh:
        assert synth.tomllib.load(fh)["tool"]["uvbuild"] == {"heavy": synth.HEAVY_PATTERNS}
    packages = project.locked_packages()
    assert set(packages) == {synth.PROJECT_NAME, synth.TORCH, synth.CUDA, *synth.LIGHT_PACKAGES}
    assert packages[synth.TORCH]["version"] == "2.0.0"
    assert packages[synth.CUDA]["version"] == "12.1.0"
    for name, pkg in packages.items():
        if name == synth.PROJECT_NAME:
            assert pkg["source"] == {"editable": "."}
            continue
        assert pkg["source"] == {"registry": index.url}
        (wheel,) = pkg["wheels"]
        entry = index.files[wheel["url"].rsplit("/", 1)[1]]
        assert wheel["size"] == entry.size
        assert wheel["hash"] == f"sha256:{entry.sha256}"
        assert "upload-time" in wheel
    sizes = synth.locked_wheel_sizes(project.path)
    assert sizes[synth.CUDA] > HEAVY_MB * (1 << 20) // 2


def _diff_entries(before: dict, after: dict) -> set[str]:
    return {k for k in before.keys() | after.keys() if before.get(k) != after.get(k)}


def test_bump_changes_only_that_package(index: synth.IndexServer, tmp_path: Path) -> None:
    project = synth.make_project(tmp_path / "p", index.url, lock_now=True)
    before = project.locked_packages()
    project.bump("lightpkg-c", "1.2.0")
    after = project.locked_packages()
    assert after["lightpkg-c"]["version"] == "1.2.0"
    # the project entry changes too: its requires-dist metadata records the new pin
    assert _diff_entries(before, after) == {"lightpkg-c", synth.PROJECT_NAME}
    assert "lightpkg-c==1.2.0" in project.dependencies

    project.bump(synth.TORCH, "2.1.0")
    bumped = project.locked_packages()
    assert _diff_entries(after, bumped) == {synth.TORCH, synth.CUDA, synth.PROJECT_NAME}
    assert bumped[synth.CUDA]["version"] == "12.4.0"


def test_sync_builds_project_with_in_tree_backend(index: synth.IndexServer, tmp_path: Path) -> None:
    project = synth.make_project(tmp_path / "p", index.url, lock_now=True)
    venv = tmp_path / "venv"
    cache = tmp_path / "cache"
    synth.run_uv(
        ["sync", "--frozen", "--no-editable", "--no-progress", "--python", "3.11"],
        cwd=project.path,
        cache_dir=cache,
        env_extra={"UV_PROJECT_ENVIRONMENT": str(venv)},
    )
    out = subprocess.run(
        [str(venv / "bin" / "python"), "-c", "import synthapp; synthapp.main()"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert out.split() == ["synthapp", "0.1.0", "fake_torch", "2.0.0"]

    # a locked heavy package whose wheel the index will not serve fails the install
    project.bump(synth.BROKEN, "1.0.0")
    proc = synth.run_uv(
        ["sync", "--frozen", "--no-progress"],
        cwd=project.path,
        cache_dir=cache,
        env_extra={"UV_PROJECT_ENVIRONMENT": str(venv)},
        check=False,
    )
    assert proc.returncode != 0
    assert "fake-nvidia-broken-cu12" in proc.stderr
