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
MIRROR_PORT = 38797


def mirror_script() -> Path | None:
    for up in demo.REPO.parents[:2]:
        script = up / "shared" / "docker" / "python-mirror"
        if script.is_file():
            return script
    return None


def own_mirror_directory(root: Path) -> Path:
    """A CACHE_DIR for python-mirror whose python-mirror/ links to the shared archive, so
    that the downloads.json it writes (naming its port) is its own."""
    shared = Path(os.environ.get("CACHE_DIR", "/var/cache/uvbuild-test")) / "python-mirror"
    if not (shared / "archive.name").is_file():
        sys.exit(f"seed demo: no managed-Python archive in {shared}; run python-base-image")
    own = root / "python-mirror"
    own.mkdir()
    for name in ("archive.name", "python.version", (shared / "archive.name").read_text().strip()):
        (own / name).symlink_to(shared / name)
    return root


def mirror_port() -> int:
    """MIRROR_PORT when free (the mirror's URL is a build argument of the system part, so
    a port of its own each run would move the base key), else any free port."""
    for port in (MIRROR_PORT, 0):
        with socket.socket() as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as http.server does
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return sock.getsockname()[1]
    raise RuntimeError("no free port")


def buildx(project: Path, build_args: list[str], tag: str) -> tuple[float, str]:
    """``docker buildx build`` of the same Dockerfile: (seconds, the image ID)."""
    iidfile = project.parent / "buildx.iid"
    command = ["docker", "buildx", "build", "--network", "host", "--load", "-t", tag]
    command += ["--iidfile", str(iidfile), *build_args]
    command += ["-f", str(project / "Dockerfile"), str(project)]
    print("$", " ".join(command), flush=True)
    started = time.monotonic()
    subprocess.run(command, check=True)
    return time.monotonic() - started, iidfile.read_text().strip()


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

    port, scratch = str(mirror_port()), tempfile.TemporaryDirectory()
    tmp = scratch.name
    env = {**os.environ, "CACHE_DIR": str(own_mirror_directory(Path(tmp)))}
    started = subprocess.run(
        [str(args.mirror), "start", "--port", port],
        capture_output=True,
        text=True,
        check=True,
        env=env,
    )
    mirror_url = started.stdout.strip().splitlines()[-1].partition("=")[2]
    refs: list[str] = [TAG]
    try:
        with synth.IndexServer(port=demo.PORT) as index:
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
            refs += [first["base"]["tag"], first["image"]["id"], TAG + "-buildx"]
            demo.summary("cold build", first)
            run = ["docker", "run", "--rm", "--network", "none", TAG]
            print(subprocess.run(run, capture_output=True, text=True, check=True).stdout)
            if args.compare:
                plain_cold, image = buildx(project, build_args, TAG + "-buildx")
                refs.append(image)

            synth.bump(project, "lightpkg-a", "1.1.0")
            print("seed demo: bumped lightpkg-a 1.0.0 -> 1.1.0 and re-locked", flush=True)
            second = demo.uvbuild("build", str(project), "-t", TAG, *flags)
            refs.append(second["image"]["id"])
            demo.summary("after a light bump", second)
            if args.compare:
                plain_bump, image = buildx(project, build_args, TAG + "-buildx")
                refs.append(image)
                seconds = second["base"]["seconds"] + second["image"]["seconds"]
                print(
                    f"\ndocker buildx build: cold {plain_cold:.1f} s, light bump {plain_bump:.1f}"
                    f" s; uvbuild light bump {seconds:.1f} s\n",
                    flush=True,
                )
    finally:
        subprocess.run([str(args.mirror), "stop", "--port", port], check=False, env=env)
        scratch.cleanup()
        if args.clean:
            subprocess.run(
                ["docker", "image", "rm", *filter(None, refs)], capture_output=True, check=False
            )


if __name__ == "__main__":
    main()
