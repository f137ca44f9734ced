"""Benchmark `uvbuild plan --json` on the uv.lock corpus (goal: under 1 s wall time).

For every corpus project (largest lock first) it times, end to end, the subprocess

    python -m uvbuild plan --json --platform linux/amd64 <copy of the project>

(interpreter start-up, imports, TOML parse, selection, hashing, ``uv lock --check --offline``
and JSON output) and, in this process, the pure work of ``uvbuild.planner.make_plan``
split into parse (pyproject + uv.lock) and select+split+hash, plus the ``uv lock --check``
call on its own. Baselines: ``python -c pass`` and ``python -c "import uvbuild.cli"``.

Each project is copied to a temporary directory first: the corpus is read-only test data
and ``uv lock --check --offline`` should not write, but as root nothing stops it.

Run ``python bench/bench_plan.py --help`` for the options.
"""

from __future__ import annotations

import argparse
import inspect
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
DEFAULT_CORPUS = REPO.parent / "shared" / "corpus"
HEADLINE = "OpenPipe__ART"
GOAL_SECONDS = 1.0

sys.path.insert(0, str(REPO))

from uvbuild.errors import UvbuildError  # noqa: E402
from uvbuild.planner.plan import make_plan, plan_from  # noqa: E402
from uvbuild.planner.project_files import read_lock, read_project  # noqa: E402
from uvbuild.planner.resolve import resolve_config  # noqa: E402
from uvbuild.uvcheck import check_lock  # noqa: E402


def env() -> dict[str, str]:
    out = dict(os.environ)
    out["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), out.get("PYTHONPATH")]))
    return out


def timed_runs(fn: Callable[[], Any], runs: int, warmup: int = 1) -> list[float]:
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return times


def summary(times: list[float]) -> dict[str, float]:
    return {"best": min(times), "median": statistics.median(times)}


def run_cli(args: list[str]) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(
        [sys.executable, *args], capture_output=True, text=True, env=env(), cwd=REPO, check=False
    )
    if proc.returncode != 0:
        tail = (proc.stderr.strip().splitlines() or ["(no output)"])[-1]
        raise RuntimeError(f"exit {proc.returncode}: {tail}")
    return proc


def copy_project(src: Path, dest_root: Path) -> Path:
    dest = dest_root / src.name
    shutil.copytree(src, dest)
    for path in [dest, *dest.rglob("*")]:  # the corpus is r-x; make the copy writable
        path.chmod(path.stat().st_mode | 0o200)
    return dest


def lock_count(project: Path) -> int:
    text = (project / "uv.lock").read_text(encoding="utf-8")
    return text.count("\n[[package]]\n")


def bench_project(project: Path, platform: str, runs: int) -> dict[str, Any]:
    flags = {"platform": platform}
    row: dict[str, Any] = {
        "project": project.name,
        "lock-bytes": (project / "uv.lock").stat().st_size,
        "packages": lock_count(project),
    }
    cli_args = ["-m", "uvbuild", "plan", "--json", "--platform", platform, str(project)]
    try:
        document = json.loads(run_cli(cli_args).stdout)
    except (RuntimeError, json.JSONDecodeError) as exc:
        row["error"] = str(exc)
        return row
    row["heavy"] = len(document.get("heavy", []))
    row["light"] = len(document.get("light", []))
    row["lock-check"] = document.get("lock-check")
    row["wall"] = summary(timed_runs(lambda: run_cli(cli_args), runs))

    def parse() -> Any:
        return read_project(project), read_lock(project / "uv.lock")

    def select_and_hash() -> Any:
        # As make_plan does after reading the files: config, then select, split and hash.
        if "requires_python" in inspect.signature(resolve_config).parameters:
            config = resolve_config(proj, flags, lock_data.requires_python)
        else:
            config = resolve_config(proj, flags)
        return plan_from(proj, config, lock_data, str(project / "uv.lock"))

    proj, lock_data = parse()
    try:
        select_and_hash()
    except UvbuildError as exc:  # the CLI succeeded, so this is a bench/uvbuild mismatch
        row["error"] = f"in-process plan failed: {exc}"
        return row
    row["parse"] = summary(timed_runs(parse, runs))
    row["select+hash"] = summary(timed_runs(select_and_hash, runs))
    row["make_plan"] = summary(timed_runs(lambda: make_plan(project, flags), runs))
    row["uv-lock-check"] = summary(timed_runs(lambda: check_lock(project), runs))
    return row


def ms(value: float | None) -> str:
    return "-" if value is None else f"{value * 1000:.0f}"


def print_table(rows: list[dict[str, Any]], baselines: dict[str, dict[str, float]]) -> None:
    out = sys.stdout
    out.write("\nuvbuild plan --json: times in ms as best/median\n\n")
    head = (
        f"{'project':<38} {'lock KB':>7} {'pkgs':>4} {'heavy':>5} {'light':>5} "
        f"{'wall':>11} {'make_plan':>11} {'parse':>11} {'select+hash':>11} {'uv check':>11}"
    )
    out.write(head + "\n" + "-" * len(head) + "\n")
    for row in rows:
        if "error" in row:
            out.write(f"{row['project']:<38} FAILED: {row['error']}\n")
            continue

        def cell(key: str, row: dict[str, Any] = row) -> str:
            return f"{ms(row[key]['best'])}/{ms(row[key]['median'])}"

        out.write(
            f"{row['project']:<38} {row['lock-bytes'] // 1024:>7} {row['packages']:>4} "
            f"{row['heavy']:>5} {row['light']:>5} {cell('wall'):>11} {cell('make_plan'):>11} "
            f"{cell('parse'):>11} {cell('select+hash'):>11} {cell('uv-lock-check'):>11}\n"
        )
    out.write("\nbaselines (subprocess wall, best/median ms):\n")
    for name, times in baselines.items():
        out.write(f"  {name:<34} {ms(times['best'])}/{ms(times['median'])}\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=(
            "Time `uvbuild plan --json` end to end (subprocess wall time) and its in-process "
            "work on every uv.lock of the corpus; the headline is the largest lock "
            f"({HEADLINE}), goal < {GOAL_SECONDS:g} s."
        )
    )
    parser.add_argument(
        "--corpus",
        type=Path,
        default=DEFAULT_CORPUS,
        help="corpus directory (one project per subdirectory; default: %(default)s)",
    )
    parser.add_argument("--runs", type=int, default=5, help="timed runs per measurement (5)")
    parser.add_argument("--platform", default="linux/amd64", help="target platform (%(default)s)")
    parser.add_argument(
        "--headline", default=HEADLINE, help="project the goal is checked on (%(default)s)"
    )
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    args = parser.parse_args(argv)

    projects = sorted(
        (p for p in args.corpus.iterdir() if (p / "uv.lock").is_file()),
        key=lambda p: -(p / "uv.lock").stat().st_size,
    )
    if not projects:
        parser.error(f"no project with a uv.lock under {args.corpus}")
    started = time.perf_counter()
    baselines = {
        "python -c pass": summary(timed_runs(lambda: run_cli(["-c", "pass"]), args.runs)),
        "python -c 'import uvbuild.cli'": summary(
            timed_runs(lambda: run_cli(["-c", "import uvbuild.cli"]), args.runs)
        ),
    }
    rows = []
    with tempfile.TemporaryDirectory(prefix="uvbuild-bench-plan-") as tmp:
        for src in projects:
            print(f"benchmarking {src.name} ...", file=sys.stderr, flush=True)
            rows.append(bench_project(copy_project(src, Path(tmp)), args.platform, args.runs))
    total = time.perf_counter() - started

    headline = next((r for r in rows if r["project"] == args.headline), None)
    verdict: dict[str, Any] = {"project": args.headline, "goal-seconds": GOAL_SECONDS}
    if headline and "wall" in headline:
        median = headline["wall"]["median"]
        verdict |= {
            "median-wall-seconds": median,
            "pass": median < GOAL_SECONDS,
            "startup-share": baselines["python -c 'import uvbuild.cli'"]["median"] / median,
        }
    if args.json:
        json.dump(
            {
                "schema": "uvbuild.bench-plan/1",
                "python": sys.version.split()[0],
                "runs": args.runs,
                "platform": args.platform,
                "projects": rows,
                "baselines": baselines,
                "goal": verdict,
                "total-seconds": total,
            },
            sys.stdout,
            indent=2,
        )
        sys.stdout.write("\n")
        return 0 if verdict.get("pass") else 1
    print_table(rows, baselines)
    print()
    if "median-wall-seconds" in verdict:
        print(
            f"goal: `uvbuild plan --json` on {args.headline} under {GOAL_SECONDS:g} s wall: "
            f"median {verdict['median-wall-seconds']:.3f} s -> "
            f"{'PASS' if verdict['pass'] else 'FAIL'} "
            f"(interpreter start-up + imports are {verdict['startup-share']:.0%} of it)"
        )
    else:
        print(f"goal: not measured, {args.headline} missing or failed")
    print(f"total benchmark time: {total:.1f} s ({args.runs} runs per measurement + 1 warm-up)")
    return 0 if verdict.get("pass") else 1


if __name__ == "__main__":
    sys.exit(main())
