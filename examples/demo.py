"""Build the bundled example with uvbuild, offline: cold, then after a light bump.

The example (examples/gpu-app) depends on a fake "torch" and "CUDA" pair of a few hundred
MB and a few small packages. This script generates those packages (valid wheels filled
with incompressible bytes, cached under ~/.cache/uvbuild-demo), serves them from a
loopback package index on 127.0.0.1:8765, locks a copy of the example with `uv lock`, and
runs `uvbuild build` twice, so you can see the base built once and then reused.

    python examples/demo.py [--heavy-mb 600] [--clean]

Needs a Docker engine with buildx and the offline images that
../shared/docker/python-base-image makes (or --base-image / --uv-image).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests import synth  # noqa: E402  (the synthetic package universe of the test suite)

EXAMPLE = REPO / "examples" / "gpu-app"
PORT = 8765
TAG = "gpu-app:demo"


def newest_uv_image() -> str | None:
    out = subprocess.run(
        ["docker", "image", "ls", "--format", "{{.Repository}}:{{.Tag}}", "uvbuild-test/uv"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout.split()
    tagged = [ref for ref in out if not ref.endswith(":<none>")]
    return max(tagged, key=lambda r: [int(p) for p in r.rsplit(":", 1)[1].split(".")], default=None)


def synthetic_wheels(heavy_mb: float) -> list[Path]:
    """The synthetic packages, generated once per size under ~/.cache/uvbuild-demo."""
    cache = Path.home() / ".cache" / "uvbuild-demo" / f"wheels-{heavy_mb:g}"
    if not cache.is_dir():
        print(f"demo: generating the synthetic packages into {cache}", flush=True)
        cache.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(dir=cache.parent))
        synth.populate_index(staging, heavy_mb=heavy_mb)
        staging.rename(cache)
    return sorted(cache.glob("*.whl"))


def uvbuild(*args: str) -> dict:
    command = [sys.executable, "-m", "uvbuild", *args, "--json"]
    print("$", " ".join(command[2:]), flush=True)
    proc = subprocess.run(command, stdout=subprocess.PIPE, text=True, check=False)
    if proc.returncode != 0:
        sys.exit(proc.returncode)
    return json.loads(proc.stdout)


def summary(label: str, result: dict) -> None:
    image = result["image"]
    print(
        f"\n{label}: base {result['base']['tag']} {result['base']['action']}"
        f" ({result['base']['seconds']:.1f} s); app {image['seconds']:.1f} s;"
        f" new layers {image['new-bytes'] / 1e6:.1f} MB,"
        f" shared with the base {image['shared-bytes'] / 1e6:.1f} MB\n",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--heavy-mb", type=float, default=600, help="size of the heavy pair")
    parser.add_argument(
        "--base-image",
        default=os.environ.get("UVBUILD_TEST_BASE_IMAGE", "uvbuild-test/python:3.11-bookworm"),
    )
    parser.add_argument("--uv-image", default=os.environ.get("UVBUILD_TEST_UV_IMAGE"))
    parser.add_argument("--clean", action="store_true", help="remove the images it built")
    args = parser.parse_args()
    uv_image = args.uv_image or newest_uv_image()
    if uv_image is None:
        sys.exit("demo: no uvbuild-test/uv image; run ../shared/docker/python-base-image")

    wheels = synthetic_wheels(args.heavy_mb)

    with synth.IndexServer(port=PORT) as index, tempfile.TemporaryDirectory() as scratch:
        synth.add_to_index(index, wheels)
        project = Path(scratch) / "gpu-app"
        shutil.copytree(EXAMPLE, project)
        synth.lock(project)
        flags = ["--network", "host", "--base-image", args.base_image, "--uv-image", uv_image]

        first = uvbuild("build", str(project), "-t", TAG, *flags)
        summary("cold build", first)
        print(
            subprocess.run(
                ["docker", "run", "--rm", TAG, "python", "/app/app.py"],
                capture_output=True,
                text=True,
                check=True,
            ).stdout
        )

        synth.bump(project, "lightpkg-a", "1.1.0")
        print("demo: bumped lightpkg-a 1.0.0 -> 1.1.0 and re-locked", flush=True)
        second = uvbuild("build", str(project), "-t", TAG, *flags)
        summary("after a light bump", second)

        if args.clean:
            refs = [TAG, first["base"]["tag"], first["image"]["id"]]
            subprocess.run(
                ["docker", "image", "rm", *filter(None, refs)], capture_output=True, check=False
            )


if __name__ == "__main__":
    main()
