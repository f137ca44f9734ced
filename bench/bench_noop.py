"""The fixed cost of a no-op ``uvbuild build`` against ``docker buildx build`` of the same
generated Dockerfile (issue 12 item 3: at most 2x).

One run, one engine, a small synthetic project (tests/synth.py: a few MiB of heavy
packages, the dozen light ones, served from a loopback index). Setup: one real ``uvbuild
build`` makes the base and the app; ``uvbuild build --dry-run --json`` prints the app's
``docker buildx build`` command, which reads the same generated inputs, and that command
(with its own ``-t``) is built once to warm it. Then, alternating, ``--runs`` no-op runs of
each: ``python -m uvbuild build PROJECT --network host -t TAG`` (nothing changed, the base
exists) and the buildx command. Seconds are wall times of the whole command, interpreter
start-up included; the medians and their ratio are printed (``--json`` for a document).
uvbuild's bytecode is cached in the temporary directory (``PYTHONPYCACHEPREFIX``), as an
installed uvbuild's is, also where PYTHONDONTWRITEBYTECODE is set; ``--no-bytecode-cache``
runs it as the environment says.

``--uvbuild-src DIR`` (repeatable) times the uvbuild of each source tree in the same run
(``PYTHONPATH=DIR``), e.g. ``--uvbuild-src ../main --uvbuild-src .`` for a before/after
table; the default is this checkout.

It removes only what it creates: the images it tagged (app, plain, base), the dry run's
input directory under ~/.cache/uvbuild/dry-run when it was not there before, and its
temporary directory. It never prunes build cache (the cache records of these small builds
stay, as any build's do). Exit status: 0 when every source meets the goal.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from tests import synth  # noqa: E402

PYTHON_IMAGE = "uvbuild-test/python:3.11-bookworm"
UV_IMAGE = "uvbuild-test/uv:0.13.9"
GOAL = 2.0  # no-op uvbuild / no-op buildx


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def run(cmd: list[str], env: dict[str, str] | None = None, timeout: float = 900) -> float:
    """Run ``cmd`` (in /, so ``python -m`` imports uvbuild from PYTHONPATH, not the current
    directory); its wall time in seconds. Raises with the output's tail on failure."""
    start = time.monotonic()
    proc = subprocess.run(
        cmd, capture_output=True, text=True, env=env, timeout=timeout, check=False, cwd="/"
    )
    seconds = time.monotonic() - start
    if proc.returncode != 0:
        tail = "\n".join((proc.stderr or proc.stdout).splitlines()[-30:])
        raise RuntimeError(f"{shlex.join(cmd)} failed ({proc.returncode}):\n{tail}")
    return seconds


def uvbuild_env(source: Path, pycache: Path | None) -> dict[str, str]:
    """uvbuild of ``source``; with ``pycache`` its bytecode is cached there, as an
    installed uvbuild's is (in site-packages), even where PYTHONDONTWRITEBYTECODE is set."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(source), env.get("PYTHONPATH")]))
    if pycache is not None:
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env["PYTHONPYCACHEPREFIX"] = str(pycache / source.name)
    return env


def uvbuild_cmd(project: Path, tag: str, *extra: str) -> list[str]:
    build = [sys.executable, "-m", "uvbuild", "build", str(project)]
    return [*build, "--network", "host", "-t", tag, *extra]


def app_command(project: Path, tag: str, env: dict[str, str]) -> tuple[list[str], Path]:
    """The app's ``docker buildx build`` command of a dry run, and its input directory."""
    proc = subprocess.run(
        uvbuild_cmd(project, tag, "--dry-run", "--json"),
        capture_output=True,
        text=True,
        env=env,
        check=True,
        cwd="/",
    )
    commands = json.loads(proc.stdout)["commands"]
    builds = [shlex.split(c) for c in commands if " buildx build " in f" {c} "]
    command = builds[-1]
    flag = "--file" if "--file" in command else "-f"
    if flag not in command:
        raise RuntimeError(f"no --file in the dry run's app command: {shlex.join(command)}")
    return command, Path(command[command.index(flag) + 1]).parent


def remove_images(refs: list[str]) -> None:
    present = []
    for ref in refs:
        inspect = ["docker", "image", "inspect", "--format", "{{.Id}}", ref]
        found = subprocess.run(inspect, capture_output=True, check=False)
        if found.returncode == 0:
            present.append(ref)
    if present:
        subprocess.run(["docker", "image", "rm", "-f", *present], capture_output=True, check=False)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5, help="no-op runs of each (default 5)")
    parser.add_argument("--heavy-mb", type=float, default=8.0, help="heavy MiB (default 8)")
    parser.add_argument("--python-image", default=PYTHON_IMAGE)
    parser.add_argument("--uv-image", default=UV_IMAGE)
    parser.add_argument(
        "--uvbuild-src",
        action="append",
        type=Path,
        help="a source tree whose uvbuild is timed (repeatable; default: this checkout)",
    )
    parser.add_argument(
        "--no-bytecode-cache",
        action="store_true",
        help="run uvbuild as the environment says (PYTHONDONTWRITEBYTECODE), not with its "
        "bytecode cached in the benchmark's temporary directory",
    )
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    args = parser.parse_args(argv)
    sources = [path.resolve() for path in (args.uvbuild_src or [REPO])]
    run_id = uuid.uuid4().hex[:8]
    base_repo = f"uvbuild-bench/noop-base-{run_id}"
    app_tag = f"uvbuild-bench/noop-app-{run_id}:uvbuild"
    plain_tag = f"uvbuild-bench/noop-app-{run_id}:buildx"
    tmp = Path(tempfile.mkdtemp(prefix="uvbuild-bench-noop-"))
    pycache = None if args.no_bytecode_cache else tmp / "pycache"
    created: list[str] = [app_tag, plain_tag]
    dry_run_dir: Path | None = None
    times: dict[str, list[float]] = {"buildx": [], **{str(s): [] for s in sources}}
    try:
        with synth.IndexServer() as index:
            wheels = synth.populate_index(tmp / "wheels", heavy_mb=args.heavy_mb)
            synth.add_to_index(index, wheels)
            config = {
                "heavy": synth.HEAVY_PATTERNS,
                "base-image": args.python_image,
                "uv-image": args.uv_image,
                "base-repo": base_repo,
            }
            project = tmp / "project"
            synth.make_project(project, index.url, tool_uvbuild=config, lock_now=True)
            env = uvbuild_env(sources[-1], pycache)
            log("setup: building the base and the app once")
            setup = subprocess.run(
                uvbuild_cmd(project, app_tag, "--json"),
                capture_output=True,
                text=True,
                env=env,
                cwd="/",
                check=False,
            )
            if setup.returncode != 0:
                raise RuntimeError(f"the setup build failed:\n{setup.stderr[-3000:]}")
            created.append(json.loads(setup.stdout)["base"]["tag"])
            cache_dir = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
            dry_root = cache_dir / "uvbuild" / "dry-run"
            before = set(dry_root.iterdir()) if dry_root.is_dir() else set()
            # the directory is named after the key, which names this run's base repo
            dry_run_dir = dry_root / json.loads(setup.stdout)["base"]["key"][:16]
            if dry_run_dir in before:
                dry_run_dir = None
            buildx, _workdir = app_command(project, plain_tag, env)
            log(f"plain: {shlex.join(buildx)}")
            run(buildx)  # warm: the same inputs, its own tag
            for source in sources:  # warm each source's interpreter caches
                run(uvbuild_cmd(project, app_tag, "-q"), uvbuild_env(source, pycache))
            for number in range(args.runs):
                times["buildx"].append(run(buildx))
                for source in sources:
                    times[str(source)].append(
                        run(uvbuild_cmd(project, app_tag), uvbuild_env(source, pycache))
                    )
                log(f"run {number + 1}: " + ", ".join(f"{v[-1]:.2f}" for v in times.values()))
    finally:
        remove_images(created)
        if dry_run_dir is not None:
            shutil.rmtree(dry_run_dir, ignore_errors=True)
        shutil.rmtree(tmp, ignore_errors=True)
    plain = statistics.median(times["buildx"])
    rows = {
        name: {"median": statistics.median(values), "runs": values}
        for name, values in times.items()
    }
    for row in rows.values():
        row["ratio"] = row["median"] / plain
    met = all(row["ratio"] <= GOAL for name, row in rows.items() if name != "buildx")
    if args.json:
        json.dump({"schema": "uvbuild.bench-noop/1", "goal": GOAL, "rows": rows}, sys.stdout)
        sys.stdout.write("\n")
    else:
        cached = "not cached" if pycache is None else "cached"
        print(
            f"no-op build, median of {args.runs} runs, uvbuild's bytecode {cached} "
            f"(goal: uvbuild <= {GOAL:g}x buildx)"
        )
        print(f"{'command':<50} {'median s':>9} {'x buildx':>9}")
        for name, row in rows.items():
            label = "docker buildx build" if name == "buildx" else f"uvbuild build ({name})"
            print(f"{label:<50} {row['median']:>9.2f} {row['ratio']:>9.2f}")
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
