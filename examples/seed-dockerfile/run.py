"""Build this example's own Dockerfile with uvbuild, offline: cold, then after a light bump.

The Dockerfile (uv issue #9324's) does not mention uvbuild. This script serves the
synthetic packages of examples/demo.py on 127.0.0.1:8765, serves CPython from the offline
mirror of ../shared/docker/python-mirror, locks a copy of the example and runs
`uvbuild build -f Dockerfile` twice with a Python-less base image in place of the CUDA
one; with --compare it builds the same two states with `docker buildx build` too.

    python examples/seed-dockerfile/run.py [--heavy-mb 600] [--compare] [--clean]

Needs a Docker engine with buildx and the offline images and Python archive that
../shared/docker/python-base-image makes (or --base-image / --uv-image / --mirror).
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

import demo  # noqa: E402  (examples/demo.py: the synthetic packages, uvbuild --json, summary)
from demo import synth  # noqa: E402

TAG = "seed-dockerfile:demo"
MIRROR_ARG = "UV_PYTHON_DOWNLOADS_JSON_URL"


def mirror_script() -> Path | None:
    for up in demo.REPO.parents[:2]:
        script = up / "shared" / "docker" / "python-mirror"
        if script.is_file():
            return script
    return None


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def buildx(project: Path, build_args: list[str], tag: str) -> float:
    command = ["docker", "buildx", "build", "--network", "host", "--load", "-t", tag]
    command += [*build_args, "-f", str(project / "Dockerfile"), str(project)]
    print("$", " ".join(command), flush=True)
    started = time.monotonic()
    subprocess.run(command, check=True)
    return time.monotonic() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--heavy-mb", type=float, default=600, help="size of the heavy pair")
    parser.add_argument(
        "--base-image",
        default=os.environ.get("UVBUILD_TEST_NOPYTHON_IMAGE", "uvbuild-test/nopython:bookworm"),
        help="stands in for the CUDA image (no Python in it)",
    )
    parser.add_argument("--uv-image", default=os.environ.get("UVBUILD_TEST_UV_IMAGE"))
    parser.add_argument("--mirror", type=Path, default=mirror_script(), help="python-mirror")
    parser.add_argument("--compare", action="store_true", help="docker buildx build it too")
    parser.add_argument("--clean", action="store_true", help="remove the images it built")
    args = parser.parse_args()
    uv_image = args.uv_image or demo.newest_uv_image()
    if uv_image is None:
        sys.exit("seed demo: no uvbuild-test/uv image; run ../shared/docker/python-base-image")
    if args.mirror is None or not args.mirror.is_file():
        sys.exit("seed demo: no python-mirror script; pass --mirror ../shared/docker/python-mirror")
    wheels = demo.synthetic_wheels(args.heavy_mb)

    port = str(free_port())
    started = subprocess.run(
        [str(args.mirror), "start", "--port", port], capture_output=True, text=True, check=True
    )
    mirror_url = started.stdout.strip().splitlines()[-1].partition("=")[2]
    refs: list[str] = [TAG]
    try:
        with synth.IndexServer(port=demo.PORT) as index, tempfile.TemporaryDirectory() as tmp:
            synth.add_to_index(index, wheels)
            project = Path(tmp) / "seed-dockerfile"
            shutil.copytree(HERE, project, ignore=shutil.ignore_patterns("run.py", "__pycache__"))
            synth.lock(project)
            build_args = [
                *("--build-arg", f"BASE_IMAGE={args.base_image}"),
                *("--build-arg", f"UV_IMAGE={uv_image}"),
                *("--build-arg", f"{MIRROR_ARG}={mirror_url}"),
            ]
            flags = ["-f", str(project / "Dockerfile"), "--network", "host", *build_args]
            flags += ["--uv-image", uv_image]

            first = demo.uvbuild("build", str(project), "-t", TAG, *flags)
            refs += [first["base"]["tag"], first["image"]["id"]]
            demo.summary("cold build", first)
            run = ["docker", "run", "--rm", "--network", "none", TAG]
            print(subprocess.run(run, capture_output=True, text=True, check=True).stdout)
            plain_cold = buildx(project, build_args, TAG + "-buildx") if args.compare else None

            synth.bump(project, "lightpkg-a", "1.1.0")
            print("seed demo: bumped lightpkg-a 1.0.0 -> 1.1.0 and re-locked", flush=True)
            second = demo.uvbuild("build", str(project), "-t", TAG, *flags)
            refs.append(second["image"]["id"])
            demo.summary("after a light bump", second)
            if args.compare:
                refs.append(TAG + "-buildx")
                plain_bump = buildx(project, build_args, TAG + "-buildx")
                seconds = second["base"]["seconds"] + second["image"]["seconds"]
                print(
                    f"\ndocker buildx build: cold {plain_cold:.1f} s, light bump {plain_bump:.1f}"
                    f" s; uvbuild light bump {seconds:.1f} s\n",
                    flush=True,
                )
    finally:
        subprocess.run([str(args.mirror), "stop", "--port", port], check=False)
        if args.clean:
            subprocess.run(
                ["docker", "image", "rm", *filter(None, refs)], capture_output=True, check=False
            )


if __name__ == "__main__":
    main()
