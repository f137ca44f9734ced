"""Fuzz the planner for a given time: damaged pyproject.toml, uv.lock, Dockerfile and
.python-version files (tests/damage.py), planned in-process as ``uvbuild plan`` and
``uvbuild dockerfile`` plan them (no ``uv lock --check``, no engine).

Each failure is a *problem*: an exception other than UvbuildError ("crash"), a
UvbuildError whose message is more than one line ("multi-line") or names no file
("no-file"), or planning that outlasts ``--deadline`` ("hang"). Problems are told apart by
kind and the deepest line of uvbuild's code they come from; Hypothesis shrinks each new one
to a minimal example, which is printed (the seed project and the damage done) and written,
as a project directory, under ``--out``. Then the search goes on, past the known ones,
until ``--seconds`` are up.

Seeds: the fixture projects, and the uv.lock corpus (``--corpus``, default
$UVBUILD_CORPUS or ../shared/corpus; each project also under each Dockerfile of
tests/fixtures/dockerfiles). It writes only under ``--out`` (default: a new temporary
directory) and a temporary directory of its own; no Hypothesis database.

    python bench/fuzz_plan.py --seconds 300
    python bench/fuzz_plan.py --seconds 60 --no-corpus --json

Exit status: 0 when nothing was found, 1 otherwise.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from hypothesis import HealthCheck, Phase, given, settings  # noqa: E402
from hypothesis.configuration import set_hypothesis_home_dir  # noqa: E402

from tests import damage  # noqa: E402


class _Found(AssertionError):
    """The problem the current Hypothesis run shrinks."""


Found = dict[tuple[str, str], tuple[damage.Problem, damage.Damaged]]


def search(
    seeds: list[damage.Seed], seconds: float, deadline: float, chunk: int, progress: bool
) -> tuple[Found, dict[str, int]]:
    """Hypothesis runs of ``chunk`` examples each until ``seconds`` are up; the problems
    found (signature -> problem, minimal example) and the counts."""
    work = Path(tempfile.mkdtemp(prefix="uvbuild-fuzz-work-"))
    set_hypothesis_home_dir(work / "hypothesis")
    found: Found = {}
    counts = {"examples": 0, "runs": 0}
    target: list[tuple[str, str]] = []  # the signature this run shrinks (one at most)

    @settings(
        max_examples=chunk,
        database=None,
        deadline=None,
        derandomize=False,
        print_blob=False,
        phases=(Phase.generate, Phase.shrink),
        suppress_health_check=list(HealthCheck),
        report_multiple_bugs=False,
    )
    @given(case=damage.damaged(seeds))
    def one(case: damage.Damaged) -> None:
        counts["examples"] += 1
        with tempfile.TemporaryDirectory(dir=work) as tmp:
            project = Path(tmp) / "project"
            case.write(project)
            problem = damage.outcome(project, deadline)
        if problem is None:
            return
        signature = problem.signature
        if signature in found and signature not in target:
            return  # known: look for others
        if not target:
            target.append(signature)
        if signature == target[0]:
            found[signature] = (problem, case)  # the last one is Hypothesis's minimal
            raise _Found(str(problem))
        found.setdefault(signature, (problem, case))  # another one: kept, shrunk later

    started = shown = time.monotonic()
    try:
        while time.monotonic() < started + seconds:
            target.clear()
            counts["runs"] += 1
            with contextlib.suppress(_Found):
                one()
            if progress and time.monotonic() >= shown + 15:
                shown = time.monotonic()
                print(
                    f"{shown - started:6.0f} s  {counts['examples']} examples, "
                    f"{len(found)} problem(s)",
                    file=sys.stderr,
                    flush=True,
                )
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return found, counts


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=60.0, help="how long to search")
    parser.add_argument(
        "--corpus",
        type=Path,
        default=Path(os.environ.get("UVBUILD_CORPUS") or REPO.parent / "shared" / "corpus"),
    )
    parser.add_argument("--no-corpus", action="store_true", help="the fixture projects only")
    parser.add_argument("--deadline", type=float, default=20.0, help="seconds per example")
    parser.add_argument("--chunk", type=int, default=25, help="examples per Hypothesis run")
    parser.add_argument("--jobs", type=int, default=1, help="searching processes")
    parser.add_argument("--out", type=Path, help="where minimal examples go (default: a tmp dir)")
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    args = parser.parse_args(argv)

    seeds = damage.fixture_seeds()
    if not args.no_corpus:
        seeds += damage.corpus_seeds(args.corpus)
    out = args.out or Path(tempfile.mkdtemp(prefix="uvbuild-fuzz-"))
    started = time.monotonic()
    how = (seeds, args.seconds, args.deadline, args.chunk)
    if args.jobs <= 1:
        runs = [search(*how, not args.json)]
    else:  # each process its own search; the first one shows its progress
        with ProcessPoolExecutor(args.jobs) as pool:
            futures = [
                pool.submit(search, *how, i == 0 and not args.json) for i in range(args.jobs)
            ]
            runs = [f.result() for f in futures]
    found: Found = {}
    counts = {"examples": 0, "runs": 0}
    for problems, run_counts in runs:
        for key in counts:
            counts[key] += run_counts[key]
        for signature, (problem, case) in problems.items():
            if signature not in found or len(case.steps) < len(found[signature][1].steps):
                found[signature] = (problem, case)

    results = []
    for number, (problem, case) in enumerate(found.values(), start=1):
        where = out / f"{number:02d}-{problem.kind}"
        case.write(where)
        results.append(
            {
                "kind": problem.kind,
                "where": problem.where,
                "message": problem.message,
                "seed": case.seed.name,
                "steps": list(case.steps),
                "project": str(where),
            }
        )
    elapsed = round(time.monotonic() - started, 1)
    if args.json:
        document = {"seconds": elapsed, **counts, "seeds": len(seeds), "problems": results}
        print(json.dumps(document, indent=2))
    else:
        print(
            f"{counts['examples']} examples in {elapsed} s ({counts['runs']} runs, "
            f"{len(seeds)} seeds): {len(results)} problem(s)"
        )
        for result in results:
            print(f"\n{result['kind']} at {result['where']}: {result['message']}")
            print(f"  seed {result['seed']}, minimal damage:")
            for step in result["steps"]:
                print(f"    {step}")
            print(f"  project: {result['project']}")
    return 1 if results else 0


if __name__ == "__main__":
    sys.exit(main())
