"""Helpers of the seed-mode tests (a user's own Dockerfile, issue 11): the project, the plain
``docker buildx build`` of the same Dockerfile, and what is installed in an image's venv.

The project is ``synthapp`` (tests/synth.py) with two more heavy packages of a few MB: a
dev group holding ``big-devtool`` and an extra ``gpu`` holding ``big-gpu``, so that a sync
that leaves them out (``--no-dev``, no ``--extra gpu``) must leave them out of the keyed
layers too (the plan's base packages show it; the final environment alone would not, as
the user's own sync removes what it does not want).
"""

from __future__ import annotations

import json
import subprocess
import time
import uuid
from pathlib import Path
from typing import Any

from tests import synth
from tests.integration.helpers import Build, docker, remove_images, unique_repo
from tests.integration.uvrun import uvbuild

#: the heavy packages a sync of the default selection puts in the keyed layers
BASE_HEAVY = frozenset({synth.TORCH, synth.CUDA})
DEV_HEAVY = "big-devtool"
EXTRA_HEAVY = "big-gpu"
SEED_HEAVY_MB = 8  # one heavy set (fake-torch + fake-nvidia-cuda-cu12), 4 MB each
EXTRA_MB = 3
#: the bytes a user's sync adds above the keyed layers: the light packages only, far less
#: than one heavy package (half of SEED_HEAVY_MB)
LIGHT_BYTES = (SEED_HEAVY_MB << 20) // 2


def extra_wheels(dest: Path) -> list[Path]:
    """``big-devtool`` and ``big-gpu`` 1.0.0: incompressible, seeded, ``EXTRA_MB`` each."""
    return [
        synth.make_wheel(
            dest, name, "1.0.0", payload_bytes=EXTRA_MB << 20, seed=f"seed:{name}", deps=()
        )
        for name in (DEV_HEAVY, EXTRA_HEAVY)
    ]


def seed_project(
    root: Path, index_url: str, base_repo: str, uv_image: str
) -> synth.SyntheticProject:
    """``synthapp`` on ``index_url`` with a README, the dev group and the extra, locked.

    ``[tool.uvbuild]`` names the heavy patterns, uvbuild's own uv image and the base repo
    only: the system part (image, interpreter, venv) comes from the user's Dockerfile."""
    project = synth.make_project(
        root,
        index_url,
        tool_uvbuild={
            "heavy": [*synth.HEAVY_PATTERNS, "big-*"],
            "uv-image": uv_image,
            "base-repo": base_repo,
        },
    )
    with project.pyproject.open("a") as fh:
        fh.write(
            f'\n[project.optional-dependencies]\ngpu = ["{EXTRA_HEAVY}==1.0.0"]\n'
            f'\n[dependency-groups]\ndev = ["{DEV_HEAVY}==1.0.0"]\n'
        )
    (root / "README.md").write_text("# synthapp\n\nA synthetic service for uvbuild's tests.\n")
    project.lock()
    return project


def buildx(
    context: Path, dockerfile: Path, tag: str, *args: str, timeout: float = 900
) -> tuple[float, str]:
    """``docker buildx build --network host --load -f DOCKERFILE -t TAG ARGS CONTEXT``, the
    way the user builds it today; returns (seconds, the build log). Fails the test with the
    log's tail when the build fails."""
    command = [
        "docker",
        "buildx",
        "build",
        "--builder",
        "default",
        "--network",
        "host",
        "--load",
        "--progress",
        "plain",
        "-f",
        str(dockerfile),
        "-t",
        tag,
        *args,
        str(context),
    ]
    started = time.monotonic()
    proc = subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=False)
    seconds = time.monotonic() - started
    tail = "\n".join(proc.stderr.splitlines()[-40:])
    assert proc.returncode == 0, f"{' '.join(command)} failed ({proc.returncode}):\n{tail}"
    return seconds, proc.stderr


# What the venv holds: its interpreter, pyvenv.cfg, and per distribution its name, version
# and the sha256 of its RECORD (which lists every installed file with its own sha256).
# One RECORD line is taken without its hash: uv's dist-info/uv_cache.json of a project built
# from a directory records the mtimes of the source tree at build time, which differ between
# any two builds that do not share a cache.
_INVENTORY = """\
import hashlib, importlib.metadata as m, json, os, platform, sys, sysconfig
site = sysconfig.get_paths()["purelib"]
dists = []
for d in m.distributions(path=[site]):
    record = d.read_text("RECORD")
    if record is not None:
        lines = [line.split(",")[0] + ",(mtimes)" if line.split(",")[0].endswith(
            ".dist-info/uv_cache.json") else line for line in record.splitlines()]
        record = "\\n".join(lines)
    digest = None if record is None else hashlib.sha256(record.encode()).hexdigest()
    dists.append([d.metadata["Name"], d.version, digest])
cfg = {}
with open(os.path.join(sys.prefix, "pyvenv.cfg")) as fh:
    for line in fh:
        key, sep, value = line.partition("=")
        if sep:
            cfg[key.strip()] = value.strip()
print(json.dumps({"python": platform.python_version(), "prefix": sys.prefix,
                  "site": site, "pyvenv": cfg, "dists": sorted(dists)}))
"""


def venv_inventory(image: str, venv: str) -> dict[str, Any]:
    """``{"python", "prefix", "site", "pyvenv": {...}, "dists": [[name, version, record
    sha256], ...]}`` of the venv at ``venv`` in ``image`` (names normalised, sorted)."""
    out = docker(
        "run",
        "--rm",
        "--network",
        "none",
        "--entrypoint",
        f"{venv}/bin/python",
        image,
        "-c",
        _INVENTORY,
    )
    inventory = json.loads(out.strip().splitlines()[-1])
    inventory["dists"] = sorted(
        [synth.normalize(name), version, digest] for name, version, digest in inventory["dists"]
    )
    return inventory


def dist_versions(inventory: dict[str, Any]) -> dict[str, str]:
    return {name: version for name, version, _ in inventory["dists"]}


def image_config(ref: str) -> dict[str, Any]:
    """The parts of the image config a user's container sees."""
    config = json.loads(docker("image", "inspect", "--format", "{{json .Config}}", ref))
    return {key: config.get(key) for key in ("Env", "WorkingDir", "Cmd", "Entrypoint", "User")}


def file_in(image: str, path: str) -> str:
    return docker("run", "--rm", "--network", "none", "--entrypoint", "cat", image, path)


def repo_tags(repo: str) -> list[str]:
    """Every local tag of ``repo`` (what uvbuild tagged there)."""
    out = docker("image", "ls", repo, "--format", "{{.Repository}}:{{.Tag}}")
    return [ref for ref in out.split() if not ref.endswith(":<none>")]


class Images:
    """The images and base repositories a module's builds make; all removed at its end."""

    def __init__(self) -> None:
        self.refs: list[str] = []
        self.repos: list[str] = []

    def tag(self, label: str) -> str:
        ref = f"uvbuild-test/synth-seed-{label}:{uuid.uuid4().hex[:8]}"
        self.refs.append(ref)
        return ref

    def repo(self, label: str) -> str:
        repo = unique_repo(f"seed-{label}")
        self.repos.append(repo)
        return repo

    def remove_all(self) -> None:
        for repo in self.repos:
            self.refs += repo_tags(repo)
        remove_images(self.refs)


def generated(project: Path, dockerfile: Path) -> str:
    """What ``uvbuild dockerfile`` prints for it (or its error), for failure messages."""
    proc = uvbuild("dockerfile", "-f", str(dockerfile), str(project))
    return proc.stdout if proc.returncode == 0 else f"(exit {proc.returncode}) {proc.stderr}"


def seed_build(project: Path, dockerfile: Path, tag: str, images: Images, *args: str) -> Build:
    """A successful ``uvbuild build --json -f DOCKERFILE``; on failure the test fails with
    uvbuild's stderr and the Dockerfile it builds."""
    proc = uvbuild(
        "build",
        "--network",
        "host",
        "--json",
        "-f",
        str(dockerfile),
        "-t",
        tag,
        *args,
        str(project),
    )
    assert proc.returncode == 0, (
        f"uvbuild build -f {dockerfile.name} exited {proc.returncode}:\n{proc.stderr[-4000:]}\n"
        f"--- uvbuild dockerfile -f {dockerfile.name}:\n{generated(project, dockerfile)}"
    )
    summary = json.loads(proc.stdout)
    assert summary["schema"] == "uvbuild.build/1"
    images.refs += [ref for ref in (summary["image"]["id"], summary["base"]["tag"]) if ref]
    return Build(proc, summary, 0.0)


def write_dockerfile(
    project: Path, template: str, base_images: dict[str, str], name: str = "Dockerfile"
) -> Path:
    path = project / name
    path.write_text(template.format(**base_images))
    return path


def assert_same_venv(seeded: str, plain: str, venv: str) -> dict[str, Any]:
    """The venv at ``venv`` holds the same interpreter and distributions (name, version,
    RECORD) in both images; returns the seeded image's inventory (pyvenv.cfg:
    :func:`assert_same_pyvenv`)."""
    got, want = venv_inventory(seeded, venv), venv_inventory(plain, venv)
    only_seeded = [d for d in got["dists"] if d not in want["dists"]]
    only_plain = [d for d in want["dists"] if d not in got["dists"]]
    assert got["dists"] == want["dists"], f"uvbuild only: {only_seeded}; buildx only: {only_plain}"
    where = ("python", "prefix", "site")
    assert [got[k] for k in where] == [want[k] for k in where], (got, want)
    return got


def assert_same_pyvenv(seeded: str, plain: str, venv: str) -> None:
    """The venv's pyvenv.cfg is the one the user's own sync writes (home, version, prompt)."""
    got, want = venv_inventory(seeded, venv)["pyvenv"], venv_inventory(plain, venv)["pyvenv"]
    assert got == want, f"pyvenv.cfg: uvbuild {got}, buildx {want}"


def new_bytes(build: Build) -> int:
    """Bytes of the final image's layers above the keyed layers (what the user's rest of
    the Dockerfile adds)."""
    return build.summary["image"]["new-bytes"]
