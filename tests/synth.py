"""A synthetic uv project with really heavy packages, fully offline.

Helpers (no tests here) shared by the fast tests and the Docker integration tests:

* :func:`make_wheel` writes a valid, installable pure-python wheel, optionally with a large
  incompressible payload (deterministic when ``seed`` is given).
* :class:`IndexServer` serves a directory of wheels as a PEP 503 + PEP 691 (+ PEP 658)
  simple index on 127.0.0.1, so ``uv lock`` records ``size``/``hash``/``upload-time``
  exactly as it does for PyPI.
* :func:`populate_index` generates the whole synthetic package universe: the heavy
  ``fake-torch``/``fake-nvidia-cuda-cu12`` (two versions each), a dozen light packages
  (three versions each) and ``fake-nvidia-broken-cu12`` whose wheel the index 404s.
* :func:`make_project`, :func:`lock`, :func:`bump` write, lock and re-lock ``synthapp``.
* :func:`plain_build` and :func:`installed_distributions` build the project with "the plain
  recipe" (a single-stage Dockerfile) and read back what is installed in an image.

Build backend choice: ``synthapp`` uses a tiny *in-tree* PEP 517 backend
(``backend-path = ["_backend"]``, ``requires = []``) written next to the project. A build
backend wheel served by the index (``uv_build``/``hatchling``) would have to be fetched from
PyPI and match the uv on PATH, which is not always published (and the build inside Docker
only reaches our loopback index). The in-tree backend needs nothing but the interpreter.
"""

from __future__ import annotations

import base64
import contextlib
import csv
import hashlib
import io
import json
import os
import random
import re
import shutil
import subprocess
import tempfile
import threading
import time
import zipfile
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from email.parser import HeaderParser
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import unquote

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

_CHUNK = 1 << 20
_ZIP_DATE = (1980, 1, 1, 0, 0, 0)
UPLOAD_TIME = "2024-01-01T00:00:00.000000Z"

# --------------------------------------------------------------------------------------
# Names and versions of the synthetic universe
# --------------------------------------------------------------------------------------

PROJECT_NAME = "synthapp"
CUDA = "fake-nvidia-cuda-cu12"
TORCH = "fake-torch"
BROKEN = "fake-nvidia-broken-cu12"
FILELOCK = "fake-filelock"
CUDA_VERSIONS = ("12.1.0", "12.4.0")
TORCH_VERSIONS = ("2.0.0", "2.1.0")
#: fake-torch version -> the fake-nvidia-cuda-cu12 version it pins
TORCH_CUDA = {"2.0.0": "12.1.0", "2.1.0": "12.4.0"}
LIGHT_VERSIONS = ("1.0.0", "1.1.0", "1.2.0")
LIGHT_PACKAGES = (FILELOCK, *(f"lightpkg-{c}" for c in "abcdefghijk"))
#: the [tool.uvbuild] heavy patterns that match the synthetic heavy packages; BROKEN (a
#: 64 KiB wheel, under heavy-min-size) is heavy only because it is named outright
HEAVY_PATTERNS = [TORCH, "fake-nvidia-*", BROKEN]
DEFAULT_HEAVY_MB = 300


def normalize(name: str) -> str:
    """PEP 503 normalised project name."""
    return re.sub(r"[-_.]+", "-", name).lower()


def module_name(name: str) -> str:
    return normalize(name).replace("-", "_")


# --------------------------------------------------------------------------------------
# Wheels
# --------------------------------------------------------------------------------------


def _record_hash(data: bytes | None = None, digest: Any = None) -> str:
    if digest is None:
        digest = hashlib.sha256(data or b"")
    return "sha256=" + base64.urlsafe_b64encode(digest.digest()).rstrip(b"=").decode()


def _payload_chunks(size: int, seed: int | str | None) -> Iterator[bytes]:
    rng = random.Random(seed) if seed is not None else None
    left = size
    while left > 0:
        n = min(_CHUNK, left)
        yield rng.randbytes(n) if rng is not None else os.urandom(n)
        left -= n


def make_wheel(
    dest_dir: str | os.PathLike[str],
    name: str,
    version: str,
    *,
    payload_bytes: int = 0,
    deps: Sequence[str] = (),
    files: Mapping[str, bytes | str] | None = None,
    seed: int | str | None = None,
    tag: str = "py3-none-any",
    requires_python: str | None = None,
    console_scripts: Mapping[str, str] | None = None,
    compress: bool = False,
) -> Path:
    """Write ``<name>-<version>-<tag>.whl`` into ``dest_dir`` and return its path.

    The wheel holds ``<module>/__init__.py`` (defining ``__version__``), any extra ``files``
    (paths relative to the wheel root), ``<module>/_payload.bin`` with ``payload_bytes`` of
    incompressible data when > 0 (``seed`` makes it, and the whole wheel, byte-identical
    between runs), and a ``.dist-info`` with METADATA, WHEEL and RECORD. Entries are stored
    uncompressed with a fixed timestamp and are written streaming.

    ``console_scripts`` (``{"script-name": "module:function"}``) adds an
    ``entry_points.txt``, so installers write those scripts into the environment's bin/.

    ``compress`` deflates the ``files`` entries (level 1), as real wheels are: the wheel is
    then smaller than what it installs. The payload is always stored.
    """
    dest = Path(dest_dir)
    dest.mkdir(parents=True, exist_ok=True)
    mod = module_name(name)
    dist = f"{mod}-{version}"
    path = dest / f"{dist}-{tag}.whl"
    metadata = [
        "Metadata-Version: 2.1",
        f"Name: {name}",
        f"Version: {version}",
        f"Summary: synthetic test package {name}",
    ]
    if requires_python:
        metadata.append(f"Requires-Python: {requires_python}")
    metadata += [f"Requires-Dist: {d}" for d in deps]
    entries: dict[str, bytes] = {
        f"{mod}/__init__.py": f'__version__ = "{version}"\n'.encode(),
    }
    for rel, content in (files or {}).items():
        entries[rel] = content.encode() if isinstance(content, str) else content
    dist_info = {
        f"{dist}.dist-info/METADATA": ("\n".join(metadata) + "\n").encode(),
        f"{dist}.dist-info/WHEEL": (
            "Wheel-Version: 1.0\nGenerator: uvbuild-tests-synth\nRoot-Is-Purelib: true\n"
            + "".join(f"Tag: {t}\n" for t in _expand_tag(tag))
        ).encode(),
    }
    if console_scripts:
        dist_info[f"{dist}.dist-info/entry_points.txt"] = (
            "[console_scripts]\n"
            + "".join(f"{script} = {target}\n" for script, target in console_scripts.items())
        ).encode()
    record: list[tuple[str, str, str]] = []
    tmp = path.with_suffix(".whl.part")
    with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_STORED) as zf:

        def put(arcname: str, data: bytes, deflate: bool = False) -> None:
            if deflate:
                zf.writestr(_zinfo(arcname), data, zipfile.ZIP_DEFLATED, 1)
            else:
                zf.writestr(_zinfo(arcname), data)
            record.append((arcname, _record_hash(data), str(len(data))))

        for arcname, data in entries.items():
            put(arcname, data, compress)
        if payload_bytes > 0:
            arcname = f"{mod}/_payload.bin"
            digest = hashlib.sha256()
            with zf.open(_zinfo(arcname), "w", force_zip64=True) as out:
                for chunk in _payload_chunks(payload_bytes, seed):
                    digest.update(chunk)
                    out.write(chunk)
            record.append((arcname, _record_hash(digest=digest), str(payload_bytes)))
        for arcname, data in dist_info.items():
            put(arcname, data)
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\n")
        writer.writerows(record)
        writer.writerow((f"{dist}.dist-info/RECORD", "", ""))
        zf.writestr(_zinfo(f"{dist}.dist-info/RECORD"), buf.getvalue())
    tmp.replace(path)
    return path


def _zinfo(arcname: str) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(arcname, _ZIP_DATE)
    info.external_attr = 0o644 << 16
    return info


def _expand_tag(tag: str) -> list[str]:
    py, abi, plat = tag.split("-")
    return [f"{p}-{a}-{q}" for p in py.split(".") for a in abi.split(".") for q in plat.split(".")]


def wheel_metadata(path: str | os.PathLike[str]) -> bytes:
    """The raw METADATA file of a wheel."""
    with zipfile.ZipFile(path) as zf:
        for info in zf.infolist():
            parts = info.filename.split("/")
            if len(parts) == 2 and parts[0].endswith(".dist-info") and parts[1] == "METADATA":
                return zf.read(info)
    raise ValueError(f"{path}: no .dist-info/METADATA")


def _sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


# --------------------------------------------------------------------------------------
# Index server
# --------------------------------------------------------------------------------------

PEP691_JSON = "application/vnd.pypi.simple.v1+json"


@dataclass(frozen=True)
class IndexFile:
    path: Path
    filename: str
    project: str  # normalised
    version: str
    size: int
    sha256: str
    requires_python: str | None
    metadata: bytes
    broken: str | None = None  # None, "404" or "corrupt"


class IndexServer:
    """A loopback PEP 503/691/658 simple index over wheels.

    ``/simple/`` lists projects, ``/simple/<name>/`` lists files (HTML, or JSON when the
    client accepts ``application/vnd.pypi.simple.v1+json``), ``/files/<filename>`` streams a
    wheel and ``/files/<filename>.metadata`` its METADATA. Use as a context manager or call
    :meth:`start`/:meth:`stop`.

    ``add(path, broken="404")`` lists a wheel (and serves its metadata, so ``uv lock``
    works) but answers 404 for the wheel itself; ``broken="corrupt"`` serves bytes of the
    right length that do not match the recorded hash.

    ``file_delay`` (seconds, settable at any time) holds every wheel download that long
    before its first byte, so a build stays inside its install step (interrupt tests).
    Project pages and ``.metadata`` files are never delayed.
    """

    def __init__(
        self,
        directory: str | os.PathLike[str] | None = None,
        *,
        username: str | None = None,
        password: str | None = None,
        port: int = 0,
        file_delay: float = 0.0,
        host: str = "127.0.0.1",
    ) -> None:
        self.files: dict[str, IndexFile] = {}
        # Another address (the docker0 bridge, 172.17.0.1) lets build containers on the
        # default bridge network reach the index without --network host.
        self.host = host
        self.file_delay = file_delay
        self._port = port
        self._lock = threading.Lock()
        self.username = username
        self.password = password
        self.requests: list[tuple[str, str]] = []  # (method, path), for assertions
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        if directory is not None:
            for wheel in sorted(Path(directory).glob("*.whl")):
                self.add(wheel)

    # -- content ------------------------------------------------------------------------
    def add(self, wheel_path: str | os.PathLike[str], *, broken: str | None = None) -> IndexFile:
        if broken not in (None, "404", "corrupt"):
            raise ValueError(f"broken must be None, '404' or 'corrupt', not {broken!r}")
        path = Path(wheel_path).resolve()
        raw = wheel_metadata(path)
        meta = HeaderParser().parsestr(raw.decode())
        entry = IndexFile(
            path=path,
            filename=path.name,
            project=normalize(meta["Name"]),
            version=meta["Version"],
            size=path.stat().st_size,
            sha256=_sha256_file(path),
            requires_python=meta.get("Requires-Python"),
            metadata=raw,
            broken=broken,
        )
        with self._lock:
            self.files[entry.filename] = entry
        return entry

    def set_broken(self, filename: str, broken: str | None) -> None:
        with self._lock:
            entry = self.files[filename]
            self.files[filename] = IndexFile(**{**entry.__dict__, "broken": broken})

    def projects(self) -> list[str]:
        with self._lock:
            return sorted({f.project for f in self.files.values()})

    def project_files(self, project: str) -> list[IndexFile]:
        project = normalize(project)
        with self._lock:
            return sorted(
                (f for f in self.files.values() if f.project == project),
                key=lambda f: f.filename,
            )

    # -- lifecycle ----------------------------------------------------------------------
    @property
    def port(self) -> int:
        if self._httpd is None:
            raise RuntimeError("IndexServer is not running")
        return self._httpd.server_address[1]

    @property
    def root(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def url(self) -> str:
        """The index URL as written in pyproject and recorded in uv.lock."""
        return f"{self.root}/simple"

    def file_url(self, filename: str) -> str:
        return f"{self.root}/files/{filename}"

    def start(self) -> IndexServer:
        if self._httpd is not None:
            return self
        handler = type("_BoundHandler", (_IndexHandler,), {"index": self})
        self._httpd = ThreadingHTTPServer((self.host, self._port), handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": 0.1},
            name="synth-index",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._httpd is None:
            return
        self._httpd.shutdown()
        self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._httpd = None
        self._thread = None

    def __enter__(self) -> IndexServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _authorized(self, header: str | None) -> bool:
        if self.username is None and self.password is None:
            return True
        if not header or not header.startswith("Basic "):
            return False
        try:
            user, _, pw = base64.b64decode(header[6:]).decode().partition(":")
        except ValueError:
            return False
        return user == (self.username or "") and pw == (self.password or "")


class _IndexHandler(BaseHTTPRequestHandler):
    index: IndexServer
    protocol_version = "HTTP/1.1"
    server_version = "synth-index/1"

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass

    def do_HEAD(self) -> None:
        self._dispatch(head=True)

    def do_GET(self) -> None:
        self._dispatch(head=False)

    # -- routing ------------------------------------------------------------------------
    def _dispatch(self, *, head: bool) -> None:
        path = unquote(self.path.split("?", 1)[0].split("#", 1)[0])
        self.index.requests.append((self.command, path))
        try:
            if not self.index._authorized(self.headers.get("Authorization")):
                self._send(
                    HTTPStatus.UNAUTHORIZED,
                    b"unauthorized\n",
                    "text/plain",
                    head=head,
                    extra={"WWW-Authenticate": 'Basic realm="synth"'},
                )
                return
            if path in ("/simple", "/simple/"):
                if path == "/simple":
                    self._redirect("/simple/")
                else:
                    self._project_list(head)
                return
            if m := re.fullmatch(r"/simple/([^/]+)(/?)", path):
                name = m.group(1)
                if not m.group(2) or normalize(name) != name:
                    self._redirect(f"/simple/{normalize(name)}/")
                else:
                    self._project_page(name, head)
                return
            if m := re.fullmatch(r"/files/([^/]+)", path):
                self._file(m.group(1), head)
                return
            self._send(HTTPStatus.NOT_FOUND, b"not found\n", "text/plain", head=head)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    def _wants_json(self) -> bool:
        accept = self.headers.get("Accept", "")
        return PEP691_JSON in accept or "application/json" in accept

    def _project_list(self, head: bool) -> None:
        projects = self.index.projects()
        if self._wants_json():
            body = {"meta": {"api-version": "1.1"}, "projects": [{"name": p} for p in projects]}
            self._send_json(body, head)
            return
        links = "".join(f'<a href="/simple/{p}/">{p}</a>\n' for p in projects)
        html = f"<!DOCTYPE html>\n<html><body>\n{links}</body></html>\n"
        self._send(HTTPStatus.OK, html.encode(), "text/html", head=head)

    def _project_page(self, name: str, head: bool) -> None:
        files = self.index.project_files(name)
        if not files:
            self._send(HTTPStatus.NOT_FOUND, b"no such project\n", "text/plain", head=head)
            return
        if self._wants_json():
            body = {
                "meta": {"api-version": "1.1"},
                "name": name,
                "versions": sorted({f.version for f in files}),
                "files": [
                    {
                        "filename": f.filename,
                        "url": self.index.file_url(f.filename),
                        "hashes": {"sha256": f.sha256},
                        "requires-python": f.requires_python,
                        "size": f.size,
                        "upload-time": UPLOAD_TIME,
                        "yanked": False,
                        "core-metadata": {"sha256": hashlib.sha256(f.metadata).hexdigest()},
                        "data-dist-info-metadata": {
                            "sha256": hashlib.sha256(f.metadata).hexdigest()
                        },
                    }
                    for f in files
                ],
            }
            self._send_json(body, head)
            return
        links = []
        for f in files:
            attrs = [f'href="{self.index.file_url(f.filename)}#sha256={f.sha256}"']
            if f.requires_python:
                rp = f.requires_python.replace("&", "&amp;").replace("<", "&lt;")
                attrs.append(f'data-requires-python="{rp.replace(">", "&gt;")}"')
            meta_hash = hashlib.sha256(f.metadata).hexdigest()
            attrs.append(f'data-core-metadata="sha256={meta_hash}"')
            attrs.append(f'data-dist-info-metadata="sha256={meta_hash}"')
            links.append(f"<a {' '.join(attrs)}>{f.filename}</a><br/>\n")
        html = (
            "<!DOCTYPE html>\n<html><head>"
            '<meta name="pypi:repository-version" content="1.1"></head><body>\n'
            f"<h1>Links for {name}</h1>\n{''.join(links)}</body></html>\n"
        )
        self._send(HTTPStatus.OK, html.encode(), "text/html", head=head)

    def _file(self, filename: str, head: bool) -> None:
        if filename.endswith(".metadata"):
            entry = self.index.files.get(filename[: -len(".metadata")])
            if entry is None:
                self._send(HTTPStatus.NOT_FOUND, b"not found\n", "text/plain", head=head)
            else:
                self._send(HTTPStatus.OK, entry.metadata, "application/octet-stream", head=head)
            return
        entry = self.index.files.get(filename)
        if entry is None or entry.broken == "404":
            self._send(HTTPStatus.NOT_FOUND, b"not found\n", "text/plain", head=head)
            return
        if self.index.file_delay > 0 and not head:
            time.sleep(self.index.file_delay)
        self.send_response(HTTPStatus.OK)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(entry.size))
        self.end_headers()
        if head:
            return
        if entry.broken == "corrupt":
            for chunk in _payload_chunks(entry.size, seed=filename):
                self.wfile.write(chunk)
            return
        with entry.path.open("rb") as fh:
            shutil.copyfileobj(fh, self.wfile, _CHUNK)

    # -- responses ----------------------------------------------------------------------
    def _redirect(self, location: str) -> None:
        self.send_response(HTTPStatus.MOVED_PERMANENTLY)
        self.send_header("Location", location)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def _send_json(self, body: object, head: bool) -> None:
        data = json.dumps(body, indent=1).encode()
        self._send(HTTPStatus.OK, data, PEP691_JSON, head=head)

    def _send(
        self,
        status: HTTPStatus,
        body: bytes,
        content_type: str,
        *,
        head: bool,
        extra: Mapping[str, str] | None = None,
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for k, v in (extra or {}).items():
            self.send_header(k, v)
        self.end_headers()
        if not head:
            self.wfile.write(body)


# --------------------------------------------------------------------------------------
# The synthetic package universe
# --------------------------------------------------------------------------------------


def _light_files(name: str, version: str) -> dict[str, str]:
    """A few KB to ~100 KB of deterministic python source."""
    mod = module_name(name)
    rng = random.Random(f"{name}=={version}")
    size_kb = 4 + (sum(map(ord, name)) * 7) % 97
    lines = [f"# {name} {version}: synthetic module"]
    total = 0
    i = 0
    while total < size_kb * 1024:
        line = f"CONST_{i} = {rng.getrandbits(64)!r}  # {rng.randbytes(16).hex()}"
        lines.append(line)
        total += len(line) + 1
        i += 1
    return {f"{mod}/_data.py": "\n".join(lines) + "\n"}


def populate_index(
    dest_dir: str | os.PathLike[str],
    *,
    heavy_mb: float = DEFAULT_HEAVY_MB,
    seed: int = 0,
    requires_python: str | None = ">=3.9",
    heavy_modules: int = 0,
) -> list[Path]:
    """Generate every synthetic wheel into ``dest_dir`` and return their paths.

    ``heavy_mb`` is the size of one heavy set (one fake-torch + one fake-nvidia-cuda-cu12,
    half each); both versions of each heavy package are generated, so the directory holds
    about ``2 * heavy_mb`` MB. Payloads are seeded, so re-generating gives identical wheels.
    Also writes ``fake-nvidia-broken-cu12`` (1.0.0, small): see :func:`add_to_index`.

    ``heavy_modules`` adds that many small Python modules to fake-torch, as a real torch
    wheel carries thousands: installing and byte-compiling them is part of what a
    reinstall of the GPU stack costs.
    """
    dest = Path(dest_dir)
    half = int(heavy_mb * (1 << 20) / 2)
    wheels: list[Path] = []
    for v in CUDA_VERSIONS:
        wheels.append(
            make_wheel(
                dest,
                CUDA,
                v,
                payload_bytes=half,
                seed=f"{seed}:{CUDA}=={v}",
                requires_python=requires_python,
            )
        )
    for v in TORCH_VERSIONS:
        wheels.append(
            make_wheel(
                dest,
                TORCH,
                v,
                payload_bytes=half,
                seed=f"{seed}:{TORCH}=={v}",
                deps=(f"{CUDA}=={TORCH_CUDA[v]}", f"{FILELOCK}>=1.0"),
                requires_python=requires_python,
                files=_many_modules(module_name(TORCH), v, heavy_modules),
            )
        )
    wheels.append(
        make_wheel(
            dest,
            BROKEN,
            "1.0.0",
            payload_bytes=64 << 10,
            seed=f"{seed}:{BROKEN}",
            requires_python=requires_python,
        )
    )
    for name in LIGHT_PACKAGES:
        for v in LIGHT_VERSIONS:
            wheels.append(
                make_wheel(
                    dest, name, v, files=_light_files(name, v), requires_python=requires_python
                )
            )
    return wheels


#: Extra wheels for the layer-group tests (:func:`layer_wheels`), not in :func:`populate_index`:
#: fake-torch versions that pin the *same* fake CUDA (a torch-only bump) and a second fake
#: CUDA library the project depends on directly (bumping it moves no torch). Each carries
#: a console script, as torch's ``torchrun`` does.
LAYER_TORCH_VERSIONS = ("2.0.1", "2.0.2")
CUDNN = "fake-nvidia-cudnn-cu12"
CUDNN_VERSIONS = ("9.0.0", "9.1.0")
TORCH_SCRIPT = "fake-torchrun"
CUDNN_SCRIPT = "fake-cudnn-info"


def _script_module(package: str, version: str) -> dict[str, str]:
    return {f"{package}/_cli.py": f'def main() -> None:\n    print("{package}", "{version}")\n'}


def layer_wheels(
    dest_dir: str | os.PathLike[str],
    *,
    heavy_mb: float = DEFAULT_HEAVY_MB,
    seed: int = 0,
    requires_python: str | None = ">=3.9",
) -> list[Path]:
    """The wheels of LAYER_TORCH_VERSIONS (half a heavy set each, pinning
    ``fake-nvidia-cuda-cu12==12.1.0`` like fake-torch 2.0.0) and CUDNN_VERSIONS (a quarter
    each), with console scripts TORCH_SCRIPT and CUDNN_SCRIPT. Add them to an index that
    :func:`populate_index` filled: fake-torch 2.0.0 and 2.1.0 keep their meaning."""
    dest = Path(dest_dir)
    half = int(heavy_mb * (1 << 20) / 2)
    wheels = []
    for v in LAYER_TORCH_VERSIONS:
        wheels.append(
            make_wheel(
                dest,
                TORCH,
                v,
                payload_bytes=half,
                seed=f"{seed}:{TORCH}=={v}",
                deps=(f"{CUDA}=={TORCH_CUDA[TORCH_VERSIONS[0]]}", f"{FILELOCK}>=1.0"),
                requires_python=requires_python,
                files=_script_module(module_name(TORCH), v),
                console_scripts={TORCH_SCRIPT: f"{module_name(TORCH)}._cli:main"},
            )
        )
    for v in CUDNN_VERSIONS:
        wheels.append(
            make_wheel(
                dest,
                CUDNN,
                v,
                payload_bytes=half // 2,
                seed=f"{seed}:{CUDNN}=={v}",
                requires_python=requires_python,
                files=_script_module(module_name(CUDNN), v),
                console_scripts={CUDNN_SCRIPT: f"{module_name(CUDNN)}._cli:main"},
            )
        )
    return wheels


def _many_modules(package: str, version: str, count: int) -> dict[str, str]:
    """``count`` small modules under ``<package>/_ops/``, a few functions each."""
    files = {f"{package}/_ops/__init__.py": ""} if count else {}
    for index in range(count):
        body = "".join(
            f"def op_{index}_{n}(x, y={n}):\n    return (x * y + {index}) % 65521\n\n"
            for n in range(12)
        )
        files[f"{package}/_ops/op_{index:05d}.py"] = f'"""{version}"""\n\n{body}'
    return files


#: The ML-shaped universe (:func:`ml_wheels`), for ``bench/bench_build.py --shape ml``: mid-size
#: light packages named after the real ones they stand for, as ``(name, MB of .py source, MB
#: of compiled-extension-like data)``. Their wheels are deflated as real wheels are, so every
#: one stays under the 50 MB heavy threshold; each gets a light layer of its own in uvbuild.
ML_MID = (
    ("fake-scipy", 15, 70),
    ("fake-transformers", 45, 2),
    ("fake-sympy", 30, 0),
    ("fake-pandas", 10, 45),
    ("fake-scikit-learn", 8, 32),
    ("fake-numpy", 4, 32),
    ("fake-matplotlib", 6, 24),
    ("fake-networkx", 8, 0),
    ("fake-pillow", 1, 11),
    ("fake-tokenizers", 0.3, 9),
    ("fake-fonttools", 5, 4),
    ("fake-botocore", 8, 1),
    ("fake-jedi", 4, 1),
    ("fake-huggingface-hub", 3, 2),
    ("fake-aiohttp", 2, 4),
    ("fake-pydantic-core", 0.3, 6),
    ("fake-grpcio", 0.5, 8),
    ("fake-kiwisolver", 0.2, 5),
)
ML_MID_BUMP = "fake-transformers"
ML_MID_VERSIONS = ("4.40.0", "4.41.0")
#: small packages (a few kB to ~100 kB each) on top of LIGHT_PACKAGES: 42 small ones in all
ML_SMALL = tuple(f"fake-small-{i:02d}" for i in range(30))
ML_SMALL_VERSION = "1.0.0"
ML_PY_FILE = 24 << 10


def _py_source(package: str, version: str, total: int, seed: str) -> dict[str, str]:
    """About ``total`` bytes of real-looking Python in ~24 kB modules under
    ``<package>/_sub_<n>/``: classes and functions that compile as library code does."""
    rng = random.Random(seed)
    files: dict[str, str] = {}
    count = max(1, round(total / ML_PY_FILE)) if total else 0
    for index in range(count):
        sub = f"{package}/_sub_{index // 100:02d}"
        if index % 100 == 0:
            files[f"{sub}/__init__.py"] = ""
        parts = [f'"""{package} {version}: generated module {index}."""\n\nimport math\n\n']
        size = 0
        n = 0
        while size < ML_PY_FILE:
            a, b = rng.randrange(1 << 30), rng.randrange(1, 97)
            tag = rng.randbytes(20).hex()
            chunk = (
                f"class Op{index}_{n}:\n"
                f'    """Operator {n} of module {index} ({tag})."""\n\n'
                f"    TABLE = {[rng.randrange(1 << 16) for _ in range(6)]!r}\n\n"
                f"    def __init__(self, scale={b}):\n"
                f"        self.scale = scale\n"
                f"        self.offset = {a}\n\n"
                f"    def apply(self, values, *, clip=None):\n"
                f"        out = []\n"
                f"        for i, v in enumerate(values):\n"
                f"            x = (v * self.scale + self.offset + i) % {a + 7}\n"
                f"            if clip is not None and x > clip:\n"
                f"                x = clip\n"
                f"            out.append(math.sqrt(x) if x > {b} else x)\n"
                f"        return out\n\n\n"
                f"def op_{index}_{n}(values, scale={b}):\n"
                f"    return Op{index}_{n}(scale).apply(values)\n\n\n"
            )
            parts.append(chunk)
            size += len(chunk)
            n += 1
        files[f"{sub}/mod_{index:04d}.py"] = "".join(parts)
    return files


def ml_wheels(
    dest_dir: str | os.PathLike[str],
    *,
    mid_scale: float = 1.0,
    seed: int = 0,
    requires_python: str | None = ">=3.9",
) -> list[Path]:
    """The ML-shaped light universe, to add next to :func:`populate_index`'s wheels: every
    ML_MID package at version ``ML_MID_VERSIONS[0]`` (ML_MID_BUMP at both versions), sized
    by ``mid_scale``, and every ML_SMALL package. The extension-like data is hex text (it
    deflates about 2:1, as shared libraries do), in ``<module>/_native.so``."""
    dest = Path(dest_dir)
    wheels: list[Path] = []
    for name, py_mb, bin_mb in ML_MID:
        mod = module_name(name)
        versions = ML_MID_VERSIONS if name == ML_MID_BUMP else ML_MID_VERSIONS[:1]
        for v in versions:
            files: dict[str, bytes | str] = dict(
                _py_source(mod, v, int(py_mb * mid_scale * (1 << 20)), f"{seed}:{name}")
            )
            native = int(bin_mb * mid_scale * (1 << 20))
            if native:
                rng = random.Random(f"{seed}:{name}=={v}:native")
                files[f"{mod}/_native.so"] = rng.randbytes(native // 2).hex().encode()
            wheels.append(
                make_wheel(
                    dest, name, v, files=files, requires_python=requires_python, compress=True
                )
            )
    for name in ML_SMALL:
        wheels.append(
            make_wheel(
                dest,
                name,
                ML_SMALL_VERSION,
                files=_light_files(name, ML_SMALL_VERSION),
                requires_python=requires_python,
            )
        )
    return wheels


def ml_dependencies(*, torch_version: str = TORCH_VERSIONS[0]) -> list[str]:
    """:func:`default_dependencies` plus every ML_MID (at ``ML_MID_VERSIONS[0]``) and
    ML_SMALL package, pinned with ``==``."""
    return [
        *default_dependencies(torch_version=torch_version),
        *(f"{name}=={ML_MID_VERSIONS[0]}" for name, _, _ in ML_MID),
        *(f"{name}=={ML_SMALL_VERSION}" for name in ML_SMALL),
    ]


def add_to_index(server: IndexServer, wheels: Iterable[Path]) -> None:
    """Add wheels to ``server``; the fake-nvidia-broken-cu12 wheel is served as 404."""
    for wheel in wheels:
        broken = "404" if wheel.name.startswith(module_name(BROKEN) + "-") else None
        server.add(wheel, broken=broken)


# --------------------------------------------------------------------------------------
# The project
# --------------------------------------------------------------------------------------

_BACKEND = '''\
"""Minimal in-tree PEP 517 backend for the synthetic test project (stdlib only)."""

import base64
import csv
import hashlib
import io
import os
import tomllib
import zipfile

_DATE = (1980, 1, 1, 0, 0, 0)


def _zi(arcname):
    info = zipfile.ZipInfo(arcname, _DATE)
    info.external_attr = 0o644 << 16
    return info


def _project():
    with open("pyproject.toml", "rb") as fh:
        return tomllib.load(fh)["project"]


def _metadata(p):
    lines = ["Metadata-Version: 2.1", f"Name: {p['name']}", f"Version: {p['version']}"]
    if p.get("requires-python"):
        lines.append(f"Requires-Python: {p['requires-python']}")
    lines += [f"Requires-Dist: {d}" for d in p.get("dependencies", [])]
    return "\\n".join(lines) + "\\n"


def _hash(data):
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return "sha256=" + digest


def _write_wheel(directory, files):
    p = _project()
    mod = p["name"].replace("-", "_")
    dist = f"{mod}-{p['version']}"
    name = f"{dist}-py3-none-any.whl"
    files = dict(files)
    files[f"{dist}.dist-info/METADATA"] = _metadata(p).encode()
    files[f"{dist}.dist-info/WHEEL"] = (
        b"Wheel-Version: 1.0\\nGenerator: synth-backend\\nRoot-Is-Purelib: true\\n"
        b"Tag: py3-none-any\\n"
    )
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\\n")
    with zipfile.ZipFile(os.path.join(directory, name), "w") as zf:
        for arcname, data in files.items():
            zf.writestr(_zi(arcname), data)
            writer.writerow((arcname, _hash(data), len(data)))
        writer.writerow((f"{dist}.dist-info/RECORD", "", ""))
        zf.writestr(_zi(f"{dist}.dist-info/RECORD"), buf.getvalue())
    return name


def _sources():
    out = {}
    for root, _dirs, names in os.walk("src"):
        for n in sorted(names):
            if n.endswith(".pyc"):
                continue
            full = os.path.join(root, n)
            with open(full, "rb") as fh:
                out[os.path.relpath(full, "src").replace(os.sep, "/")] = fh.read()
    return out


def get_requires_for_build_wheel(config_settings=None):
    return []


def get_requires_for_build_editable(config_settings=None):
    return []


def get_requires_for_build_sdist(config_settings=None):
    return []


def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    return _write_wheel(wheel_directory, _sources())


def build_editable(wheel_directory, config_settings=None, metadata_directory=None):
    pth = os.path.abspath("src") + "\\n"
    return _write_wheel(wheel_directory, {"_synthapp_editable.pth": pth.encode()})


def build_sdist(sdist_directory, config_settings=None):
    import tarfile

    p = _project()
    base = f"{p['name']}-{p['version']}"
    name = base + ".tar.gz"
    with tarfile.open(os.path.join(sdist_directory, name), "w:gz") as tf:
        for path in ["pyproject.toml", "_backend"] + ["src"]:
            tf.add(path, arcname=f"{base}/{path}")
    return name
'''


def toml_dumps(table: Mapping[str, Any], prefix: str = "") -> str:
    """A small TOML writer: str/int/float/bool, lists of those, nested tables."""
    scalars: list[str] = []
    tables: list[str] = []
    for key, value in table.items():
        k = key if re.fullmatch(r"[A-Za-z0-9_-]+", key) else json.dumps(key)
        full = f"{prefix}.{k}" if prefix else k
        if isinstance(value, Mapping):
            tables.append(f"\n[{full}]\n" + toml_dumps(value, full))
        else:
            scalars.append(f"{k} = {_toml_value(value)}\n")
    return "".join(scalars) + "".join(tables)


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    raise TypeError(f"cannot write {type(value).__name__} as TOML")


@dataclass
class SyntheticProject:
    """A written ``synthapp`` project."""

    path: Path
    index_url: str
    dependencies: list[str] = field(default_factory=list)

    @property
    def pyproject(self) -> Path:
        return self.path / "pyproject.toml"

    @property
    def lockfile(self) -> Path:
        return self.path / "uv.lock"

    def lock(self, **kwargs: Any) -> subprocess.CompletedProcess[str]:
        return lock(self.path, **kwargs)

    def bump(self, package: str, version: str, **kwargs: Any) -> None:
        bump(self.path, package, version, **kwargs)
        self.dependencies = read_dependencies(self.path)

    def locked_packages(self) -> dict[str, dict[str, Any]]:
        return locked_packages(self.path)


def default_dependencies(
    *,
    torch_version: str = TORCH_VERSIONS[0],
    light_versions: Mapping[str, str] | None = None,
) -> list[str]:
    light = {n: LIGHT_VERSIONS[0] for n in LIGHT_PACKAGES}
    light.update({normalize(k): v for k, v in (light_versions or {}).items()})
    return [f"{TORCH}=={torch_version}", *(f"{n}=={v}" for n, v in light.items())]


def make_project(
    root: str | os.PathLike[str],
    index_url: str,
    *,
    dependencies: Sequence[str] | None = None,
    torch_version: str = TORCH_VERSIONS[0],
    light_versions: Mapping[str, str] | None = None,
    tool_uvbuild: Mapping[str, Any] | None = None,
    version: str = "0.1.0",
    lock_now: bool = False,
    **lock_kwargs: Any,
) -> SyntheticProject:
    """Write the ``synthapp`` uv project into ``root`` (created if needed).

    Dependencies default to ``fake-torch==<torch_version>`` (which pulls in
    ``fake-nvidia-cuda-cu12`` and ``fake-filelock``) plus every light package pinned with
    ``==`` (version 1.0.0 unless overridden in ``light_versions``). The only index is
    ``index_url`` (``[[tool.uv.index]] name = "synth", default = true``). ``tool_uvbuild``
    is written as ``[tool.uvbuild]``. With ``lock_now`` runs :func:`lock`.
    """
    path = Path(root)
    (path / "src" / PROJECT_NAME).mkdir(parents=True, exist_ok=True)
    (path / "_backend").mkdir(exist_ok=True)
    deps = (
        list(dependencies)
        if dependencies is not None
        else default_dependencies(torch_version=torch_version, light_versions=light_versions)
    )
    _write_pyproject(path, deps, index_url, version, tool_uvbuild)
    (path / "_backend" / "synth_backend.py").write_text(_BACKEND)
    (path / "src" / PROJECT_NAME / "__init__.py").write_text(
        f'"""Synthetic app for uvbuild tests."""\n\n__version__ = "{version}"\n\n\n'
        "def main() -> None:\n"
        "    import fake_torch\n\n"
        '    print("synthapp", __version__, "fake_torch", fake_torch.__version__)\n'
    )
    (path / ".dockerignore").write_text(".venv\n**/__pycache__\n")
    (path / ".python-version").write_text("3.11\n")
    project = SyntheticProject(path=path, index_url=index_url, dependencies=deps)
    if lock_now:
        project.lock(**lock_kwargs)
    return project


def _write_pyproject(
    path: Path,
    deps: Sequence[str],
    index_url: str,
    version: str,
    tool_uvbuild: Mapping[str, Any] | None,
) -> None:
    doc = {
        "project": {
            "name": PROJECT_NAME,
            "version": version,
            "requires-python": ">=3.11",
            "dependencies": list(deps),
        },
        "build-system": {
            "requires": [],
            "build-backend": "synth_backend",
            "backend-path": ["_backend"],
        },
    }
    text = toml_dumps(doc)
    text += f'\n[[tool.uv.index]]\nname = "synth"\nurl = {json.dumps(index_url)}\ndefault = true\n'
    if tool_uvbuild:
        text += toml_dumps({"tool": {"uvbuild": dict(tool_uvbuild)}}).replace("\n[tool]\n", "")
    path.joinpath("pyproject.toml").write_text(_pretty_deps(text))


def _pretty_deps(text: str) -> str:
    """One dependency per line, so a bump is a one-line diff."""

    def fmt(m: re.Match[str]) -> str:
        items = json.loads(m.group(1))
        return "dependencies = [\n" + "".join(f"    {json.dumps(i)},\n" for i in items) + "]"

    return re.sub(r"^dependencies = (\[.*\])$", fmt, text, count=1, flags=re.M)


def read_dependencies(project_dir: str | os.PathLike[str]) -> list[str]:
    with Path(project_dir, "pyproject.toml").open("rb") as fh:
        return list(tomllib.load(fh)["project"]["dependencies"])


def uv_env(
    cache_dir: str | os.PathLike[str] | None = None, extra: Mapping[str, str] | None = None
) -> dict[str, str]:
    """The environment for running uv against the loopback index only: every ``UV_*``
    variable of the caller is dropped (no stray index or offline settings)."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("UV_") and k not in ("VIRTUAL_ENV", "CONDA_PREFIX")
    }
    env["UV_PYTHON_DOWNLOADS"] = "never"
    env["UV_NO_PROGRESS"] = "1"
    if cache_dir is not None:
        env["UV_CACHE_DIR"] = str(cache_dir)
    env.update(extra or {})
    return env


def run_uv(
    args: Sequence[str],
    *,
    cwd: str | os.PathLike[str] | None = None,
    cache_dir: str | os.PathLike[str] | None = None,
    env_extra: Mapping[str, str] | None = None,
    check: bool = True,
    timeout: float = 300,
) -> subprocess.CompletedProcess[str]:
    """Run ``uv <args>`` with :func:`uv_env` (plus ``env_extra``); a temporary cache when
    ``cache_dir`` is None. Raises ``RuntimeError`` with uv's output when it fails."""
    with contextlib.ExitStack() as stack:
        if cache_dir is None:
            cache_dir = stack.enter_context(tempfile.TemporaryDirectory(prefix="synth-uv-cache-"))
        proc = subprocess.run(
            ["uv", *args],
            cwd=cwd,
            env=uv_env(cache_dir, env_extra),
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    if check and proc.returncode != 0:
        raise RuntimeError(
            f"uv {' '.join(args)} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}"
        )
    return proc


def lock(
    project_dir: str | os.PathLike[str],
    *,
    cache_dir: str | os.PathLike[str] | None = None,
    check: bool = True,
) -> subprocess.CompletedProcess[str]:
    """Run the real ``uv lock`` in ``project_dir`` (only the loopback index is consulted)."""
    return run_uv(["lock", "--no-progress"], cwd=project_dir, cache_dir=cache_dir, check=check)


def bump(
    project_dir: str | os.PathLike[str],
    package: str,
    version: str,
    *,
    relock: bool = True,
    cache_dir: str | os.PathLike[str] | None = None,
) -> None:
    """Pin ``package==version`` in pyproject (replacing its existing entry, or adding one)
    and re-lock. ``uv lock`` keeps every other locked version as it was."""
    pyproject = Path(project_dir, "pyproject.toml")
    text = pyproject.read_text()
    target = normalize(package)
    new = f"{package}=={version}"
    for dep in read_dependencies(project_dir):
        m = re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)", dep)
        if m and normalize(m.group(1)) == target:
            text = text.replace(json.dumps(dep), json.dumps(new), 1)
            break
    else:
        text = re.sub(
            r"^(dependencies = \[\n)", rf"\g<1>    {json.dumps(new)},\n", text, count=1, flags=re.M
        )
    pyproject.write_text(text)
    if relock:
        lock(project_dir, cache_dir=cache_dir)


def locked_packages(project_dir: str | os.PathLike[str]) -> dict[str, dict[str, Any]]:
    """``uv.lock``'s ``[[package]]`` entries keyed by normalised name."""
    with Path(project_dir, "uv.lock").open("rb") as fh:
        data = tomllib.load(fh)
    return {normalize(p["name"]): p for p in data.get("package", [])}


def locked_wheel_sizes(project_dir: str | os.PathLike[str]) -> dict[str, int]:
    """Sum of the locked wheel ``size`` fields per package (one wheel each here)."""
    return {
        name: sum(w.get("size", 0) for w in pkg.get("wheels", []))
        for name, pkg in locked_packages(project_dir).items()
    }


# --------------------------------------------------------------------------------------
# Docker: the plain recipe and image inspection (subprocess, real engine)
# --------------------------------------------------------------------------------------

PLAIN_DOCKERFILE = """\
# syntax=docker/dockerfile:1
FROM {python_image}
COPY --from={uv_image} /uv /uvx /bin/
ENV UV_LINK_MODE=copy \\
    UV_PYTHON_DOWNLOADS=never \\
    UV_PROJECT_ENVIRONMENT=/opt/venv \\
    UV_COMPILE_BYTECODE=1
WORKDIR /app
COPY pyproject.toml uv.lock ./
RUN --mount=type=cache,target=/root/.cache/uv \\
    uv sync --frozen --no-install-project
COPY . .
RUN --mount=type=cache,target=/root/.cache/uv \\
    uv sync --frozen --no-editable
"""


def plain_dockerfile(python_image: str, uv_image: str) -> str:
    """The reference single-stage Dockerfile ("the plain recipe")."""
    # The syntax line would make BuildKit pull a frontend image; the builtin one suffices.
    text = PLAIN_DOCKERFILE.format(python_image=python_image, uv_image=uv_image)
    return text.split("\n", 1)[1]


@dataclass(frozen=True)
class BuildResult:
    tag: str
    seconds: float
    stdout: str
    stderr: str


def plain_build(
    project_dir: str | os.PathLike[str],
    tag: str,
    base_images: Mapping[str, str],
    *,
    extra_args: Sequence[str] = (),
    timeout: float = 1800,
) -> BuildResult:
    """Build ``project_dir`` with the plain recipe: ``docker buildx build --network host
    --load -t <tag>``. ``base_images`` has ``python_image`` and ``uv_image``. The
    Dockerfile is written as ``<project_dir>/Dockerfile.plain``. Raises on failure."""
    project = Path(project_dir)
    dockerfile = project / "Dockerfile.plain"
    dockerfile.write_text(plain_dockerfile(base_images["python_image"], base_images["uv_image"]))
    cmd = [
        "docker",
        "buildx",
        "build",
        "--network",
        "host",
        "--load",
        "--progress",
        "plain",
        "-t",
        tag,
        "-f",
        str(dockerfile),
        *extra_args,
        str(project),
    ]
    start = time.monotonic()
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)
    seconds = time.monotonic() - start
    if proc.returncode != 0:
        tail = "\n".join(proc.stderr.splitlines()[-40:])
        raise RuntimeError(f"{' '.join(cmd)} failed ({proc.returncode}):\n{tail}")
    return BuildResult(tag=tag, seconds=seconds, stdout=proc.stdout, stderr=proc.stderr)


_LIST_DISTS = (
    "import importlib.metadata as m, json; "
    "print(json.dumps({d.metadata['Name']: d.version for d in m.distributions()}))"
)


def installed_distributions(image: str, *, python: str = "/opt/venv/bin/python") -> dict[str, str]:
    """``{normalised name: version}`` of the distributions installed in ``image``'s venv."""
    proc = subprocess.run(
        ["docker", "run", "--rm", "--network", "none", image, python, "-c", _LIST_DISTS],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"docker run {image} failed ({proc.returncode}): {proc.stderr}")
    return {normalize(k): v for k, v in json.loads(proc.stdout.strip().splitlines()[-1]).items()}


def expected_distributions(project_dir: str | os.PathLike[str]) -> dict[str, str]:
    """``{normalised name: version}`` that uv.lock says a full sync installs (the project
    itself included)."""
    return {name: pkg["version"] for name, pkg in locked_packages(project_dir).items()}
