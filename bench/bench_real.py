"""Benchmark uvbuild against the plain uv recipe on a real project from the public PyPI.

Not run in CI: it needs a machine whose build steps reach pypi.org (``--network host``) and
about 20 GB of disk for the full package set (``df -h /``). It is ``bench_build.py --shape
ml`` on real packages: torch 2.5.1 with its CUDA 12 wheels, torchvision, transformers,
scipy, scikit-learn, fastapi, einops, uvicorn, safetensors... (``--set small`` leaves torch
and torchvision out: 49 packages, 0.24 GB of wheels).

The project (``realapp``, a virtual uv project: ``[tool.uv] package = false``) is locked on
this machine with ``uv lock`` (the host reaches PyPI), restricted to Linux x86_64 and
Python 3.11, with ``exclude-newer`` so the lock is the same on every run. The two bumped
packages start at their ``--small`` / ``--mid`` old versions (``uv lock --upgrade-package
NAME==OLD``) and move to the new ones the same way.

Both recipes build one Dockerfile, unchanged: uv's documented single-stage recipe, with
this machine's CA bundle (``--ca-bundle``, default /etc/ssl/certs/ca-certificates.crt;
a TLS proxy may stand between the build and PyPI) copied into its system part and
``SSL_CERT_FILE``/``UV_SYSTEM_CERTS`` set: ``docker buildx build -f`` it against
``uvbuild build -f`` it (seed mode).

Scenarios per recipe, after removing the benchmark's images and pruning ALL build cache of
the engine: cold, small bump, mid bump, no-op. Times, new bytes (layers whose diff id the
previous image lacks, uncompressed, from ``docker save``), ratios to plain against the goals
of ``bench_build.ML_GOALS`` and the slowest BuildKit steps. Point ``--docker-host`` at a
private engine: the prune empties that engine's whole build cache.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import bench_build as bb

from tests import synth  # bench_build put the repository on sys.path

#: the full set: the issue's real project, minus what needs a compiler
FULL_DEPENDENCIES = (
    "torch==2.5.1",
    "torchvision==0.20.1",
    "numpy",
    "scipy",
    "scikit-learn",
    "pandas",
    "matplotlib",
    "sympy",
    "fastapi",
    "uvicorn",
    "safetensors",
    "tokenizers",
    "huggingface-hub",
    "pydantic",
    "requests",
    "tqdm",
    "pyyaml",
    "jinja2",
)
SMALL_DEPENDENCIES = tuple(d for d in FULL_DEPENDENCIES if not d.startswith("torch"))
HEAVY_PATTERNS = ["torch", "torchvision", "nvidia-*", "triton"]
EXCLUDE_NEWER = "2025-03-01T00:00:00Z"
PROJECT = "realapp"
DOCKERFILE = "Dockerfile.seed"
# uv's documented recipe; the CA bundle and its variables are in the system part, before
# the first `uv sync`, so uvbuild's layer stages (built on that part) reach PyPI as well
SEED_DOCKERFILE = """\
FROM {python_image}
COPY --from={uv_image} /uv /uvx /bin/
COPY ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
ENV SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt UV_SYSTEM_CERTS=1 \\
    UV_LINK_MODE=copy UV_PYTHON_DOWNLOADS=never UV_PROJECT_ENVIRONMENT=/opt/venv \\
    UV_COMPILE_BYTECODE=1
WORKDIR /app
COPY pyproject.toml uv.lock ./
RUN --mount=type=cache,target=/root/.cache/uv \\
    uv sync --frozen --no-install-project
COPY . .
RUN --mount=type=cache,target=/root/.cache/uv \\
    uv sync --frozen --no-editable
"""


def parse_bump(value: str) -> tuple[str, str, str]:
    """``NAME=OLD:NEW`` -> (name, old, new)."""
    name, sep, versions = value.partition("=")
    old, sep2, new = versions.partition(":")
    if not (sep and sep2 and name and old and new):
        raise argparse.ArgumentTypeError(f"expected NAME=OLD:NEW, got {value!r}")
    return synth.normalize(name), old, new


def pyproject(dependencies: list[str], tool_uvbuild: dict[str, Any]) -> str:
    doc = {
        "project": {
            "name": PROJECT,
            "version": "0.1.0",
            "requires-python": "==3.11.*",
            "dependencies": dependencies,
        },
        "tool": {
            "uv": {
                "package": False,
                "exclude-newer": EXCLUDE_NEWER,
                "environments": ["sys_platform == 'linux' and platform_machine == 'x86_64'"],
            },
            "uvbuild": tool_uvbuild,
        },
    }
    return synth.toml_dumps(doc)


def uv_lock(project: Path, *pins: str) -> None:
    """``uv lock`` on the host (its own environment: the host's certificates and proxy),
    each pin ``NAME==VERSION`` through ``--upgrade-package``."""
    cmd = ["uv", "lock", "--no-progress", "--python", "3.11"]
    for pin in pins:
        cmd += ["--upgrade-package", pin]
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "UV_PROJECT")}
    proc = subprocess.run(
        cmd, cwd=project, env=env, capture_output=True, text=True, timeout=900, check=False
    )
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} in {project} failed:\n{proc.stderr[-3000:]}")


def locked_version(project: Path, name: str) -> str | None:
    package = synth.locked_packages(project).get(name)
    return None if package is None else package["version"]


@dataclass
class RealBench(bb.Bench):
    """bench_build's Bench, on the real project: its bumps re-lock with ``uv lock
    --upgrade-package``, its venv is /opt/venv, and the virtual root is not installed."""

    @property
    def python(self) -> str:
        return "/opt/venv/bin/python"

    def fresh_project(self, recipe: str, repetition: int) -> Path:
        dest = self.work / f"{recipe}-{repetition}"
        shutil.copytree(self.template, dest)
        return dest

    def bump(self, project: Path, package: str, version: str) -> None:
        uv_lock(project, f"{package}=={version}")
        got = locked_version(project, package)
        if got != version:
            raise RuntimeError(f"{project}/uv.lock: {package} is {got}, not {version}")

    def check_installed(self, project: Path, image: str) -> None:
        expected = synth.expected_distributions(project)
        expected.pop(PROJECT, None)
        got = synth.installed_distributions(image, python=self.python)
        if got != expected:
            diff = sorted(set(got.items()) ^ set(expected.items()))
            self.problems.append(f"{image}: installed distributions differ from uv.lock: {diff}")


def make_template(args: argparse.Namespace, bench: RealBench) -> None:
    small, mid = args.small, args.mid
    deps = list(FULL_DEPENDENCIES if args.set == "full" else SMALL_DEPENDENCIES)
    deps += [f"{small[0]}>={small[1]}", f"{mid[0]}>={mid[1]}"]
    config = {
        "heavy": HEAVY_PATTERNS,
        "base-repo": bench.repos["base"],
        "uv-image": args.uv_image,
    }
    path = bench.template
    path.mkdir(parents=True)
    (path / "pyproject.toml").write_text(pyproject(deps, config))
    (path / ".python-version").write_text("3.11\n")
    (path / ".dockerignore").write_text(".venv\n**/__pycache__\n")
    (path / "main.py").write_text('print("realapp")\n')
    shutil.copyfile(args.ca_bundle, path / "ca-certificates.crt")
    images = {"python_image": args.python_image, "uv_image": args.uv_image}
    (path / DOCKERFILE).write_text(SEED_DOCKERFILE.format(**images))
    bb.log(f"locking {len(deps)} dependencies on the host (uv lock, exclude-newer {EXCLUDE_NEWER})")
    uv_lock(path, f"{small[0]}=={small[1]}", f"{mid[0]}=={mid[1]}")
    for name, old, _ in (small, mid):
        if locked_version(path, name) != old:
            raise RuntimeError(f"uv.lock: {name} is {locked_version(path, name)}, not {old}")
    sizes = synth.locked_wheel_sizes(path)
    bb.log(f"locked {len(sizes)} packages, {sum(sizes.values()) / 1e9:.2f} GB of wheels")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=(
            "Compare uvbuild with the plain uv recipe on a real project from PyPI: cold build, "
            "small bump, mid bump, no-op rebuild. Prunes ALL build cache of the engine before "
            "each cold build and at the end: use --docker-host with a private engine."
        )
    )
    parser.add_argument("--set", choices=("full", "small"), default="full", help="(%(default)s)")
    parser.add_argument(
        "--small",
        type=parse_bump,
        default=parse_bump("einops=0.8.0:0.8.1"),
        help="small bump NAME=OLD:NEW (einops=0.8.0:0.8.1)",
    )
    parser.add_argument(
        "--mid",
        type=parse_bump,
        default=parse_bump("transformers=4.46.2:4.46.3"),
        help="mid bump NAME=OLD:NEW (transformers=4.46.2:4.46.3)",
    )
    parser.add_argument("--python-image", default=bb.PYTHON_IMAGE, help="(%(default)s)")
    parser.add_argument("--uv-image", default=bb.UV_IMAGE, help="(%(default)s)")
    parser.add_argument(
        "--ca-bundle",
        type=Path,
        default=Path("/etc/ssl/certs/ca-certificates.crt"),
        help="CA bundle the images carry, for TLS to PyPI from the build (%(default)s)",
    )
    parser.add_argument(
        "--docker-host",
        help="engine to run against (sets DOCKER_HOST for every docker and uvbuild call)",
    )
    parser.add_argument("--repeat", type=int, default=1, help="repetitions, medians (1)")
    parser.add_argument("--workdir", type=Path, help="parent of the temporary directory")
    parser.add_argument("--json", action="store_true", help="results as JSON on stdout")
    args = parser.parse_args(argv)
    if args.repeat < 1:
        parser.error("--repeat must be at least 1")
    if not args.ca_bundle.is_file():
        parser.error(f"--ca-bundle {args.ca_bundle}: no such file")
    if args.docker_host:
        os.environ["DOCKER_HOST"] = args.docker_host
    bb.log(f"engine: {os.environ.get('DOCKER_HOST') or 'the default (DOCKER_HOST unset)'}")
    # what Bench reads from args: the seed mode (-f) and the images
    args.seed = True
    args.heavy_mb = 0
    args.heavy_modules = 0
    for image in (args.python_image, args.uv_image):
        bb.docker("image", "inspect", "--format", "{{.Id}}", image)

    started = time.monotonic()
    tmp = Path(tempfile.mkdtemp(prefix="uvbuild-bench-real-", dir=args.workdir))
    scenarios = (
        ("cold", None, None),
        ("small", args.small[0], args.small[2]),
        ("mid", args.mid[0], args.mid[2]),
        ("noop", None, None),
    )
    bench = RealBench(
        args, tmp, None, tmp / "template", scenarios=scenarios, heavy_patterns=HEAVY_PATTERNS
    )
    # Bench's seed builds read <project>/Dockerfile.seed
    assert DOCKERFILE == bb.SEED_FILE
    status = 0
    try:
        with bb.sigterm_as_interrupt():
            make_template(args, bench)
            bench.run()
        total = time.monotonic() - started
        results = bb.ml_results(bench.measurements, bench.installed, args.mid[0])
        out = sys.stderr if args.json else sys.stdout
        labels = {
            "cold": "cold build (pruned cache)",
            "small": f"small bump ({args.small[0]} {args.small[1]} -> {args.small[2]})",
            "mid": f"mid bump ({args.mid[0]} {args.mid[1]} -> {args.mid[2]})",
            "noop": "no-op rebuild",
        }
        sizes = synth.locked_wheel_sizes(bench.template)
        out.write(
            f"\nreal project ({args.set} set): {len(sizes)} locked packages, "
            f"{sum(sizes.values()) / 1e9:.2f} GB of wheels; heavy installed "
            f"{bb.mb(bench.heavy_bytes or 0)}; repetitions: {args.repeat} (medians)\n"
        )
        if results["mid-installed-bytes"] is not None:
            out.write(f"{args.mid[0]} installed: {bb.mb(results['mid-installed-bytes'])}; ")
        if results["pool-layer-bytes"] is not None:
            out.write(f"uvbuild's pool layer: {bb.mb(results['pool-layer-bytes'])}")
        out.write("\n\n" + bb.ml_markdown(results, labels))
        bb.print_steps(bench.measurements, out)
        if bench.problems:
            out.write("\nproblems:\n" + "".join(f"  - {p}\n" for p in bench.problems))
        out.write(f"\ntotal benchmark time: {total:.0f} s\n")
        if args.json:
            document = {
                "schema": "uvbuild.bench-real/1",
                "engine": bb.engine_versions(),
                "set": args.set,
                "exclude-newer": EXCLUDE_NEWER,
                "locked-wheel-bytes": sum(sizes.values()),
                "heavy-installed-bytes": bench.heavy_bytes,
                **results,
                "goal-thresholds": bb.ML_GOALS,
                "measurements": [asdict(m) for m in bench.measurements],
                "problems": bench.problems,
                "total-seconds": total,
            }
            json.dump(document, sys.stdout, indent=2)
            sys.stdout.write("\n")
        status = 0 if all(results["goals"].values()) and not bench.problems else 1
    except KeyboardInterrupt:
        bb.log("interrupted; cleaning up")
        status = 130
    finally:
        with contextlib.suppress(Exception):
            bench.remove_images()
        bb.log("pruning build cache, removing temporary files")
        bb.docker("buildx", "prune", "-af", timeout=1200, check=False)
        shutil.rmtree(tmp, ignore_errors=True)
    return status


if __name__ == "__main__":
    sys.exit(main())
