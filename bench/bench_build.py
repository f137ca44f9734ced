"""Benchmark uvbuild against the plain uv Dockerfile on the synthetic heavy project.

One run, one engine. The synthetic ``synthapp`` (tests/synth.py) installs fake-torch and
fake-nvidia-cuda-cu12 with incompressible payloads (``--heavy-mb`` in total, default
1200 MiB) plus a dozen small "light" packages, all served by a loopback PEP 691 index.

Recipes:

* plain: ``synth.plain_dockerfile`` -- uv's documented single-stage Dockerfile
  (``uv sync --frozen --no-install-project`` with a cache mount, then ``COPY . .`` and a
  second sync), built with ``docker buildx build --network host --load``.
* uvbuild: ``python -m uvbuild build <project> --network host -t <tag> --json`` with
  ``[tool.uvbuild]`` heavy = synth.HEAVY_PATTERNS, the same python and uv images, and a
  base repository unique to this run.

Scenarios, per recipe: cold build (build cache pruned and every image of the benchmark
removed first; the uv cache mount lives in the build cache, so it is emptied too), rebuild
after one light bump (lightpkg-a 1.0.0 -> 1.1.0, re-locked against the same index, so the
base key is stable), and a no-op rebuild. Seconds are the wall time of the build command.
New bytes are the uncompressed sizes, read from ``docker save``, of the layers whose diff id
is not in the previous image of the same recipe (for the cold build: not in the python
image).

A cold build needs an empty cache, which also wipes the other recipe's cache, so the
recipes run one after the other within a repetition (cold, bump, no-op) and alternate which
goes first between repetitions (``--repeat``); medians over repetitions are reported.

It prunes ALL build cache of the default builder (``docker buildx prune -af``) before each
cold build and at the end, and removes every image it tagged.

``--seed`` builds uv issue #9324's Dockerfile instead (``SEED_DOCKERFILE``: its FROM
images replaced by the offline ones, its apt line by a local stand-in), unchanged by both
recipes: ``docker buildx build -f`` it, against ``uvbuild build -f`` it (uvbuild cuts it at
its first ``uv sync`` and builds the keyed layers on what comes before).

``--layers`` measures something else: a torch-only bump (fake-torch 2.0.1 -> 2.0.2, both
pinning the same fake CUDA) on a project whose heavy set is fake-torch, fake-nvidia-cuda-cu12
and fake-nvidia-cudnn-cu12, built by uvbuild with one heavy layer (``layer-mode =
"single"``) and with layer groups ``cuda`` and ``torch``: rebuild seconds and new bytes,
against the goal "new bytes at most torch's share of the heavy set plus 5%".
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from tests import synth  # noqa: E402

PYTHON_IMAGE = "uvbuild-test/python:3.11-bookworm"
UV_IMAGE = "uvbuild-test/uv:0.13.9"
BUMP_PACKAGE = "lightpkg-a"
BUMP_VERSION = synth.LIGHT_VERSIONS[1]
RECIPES = ("plain", "uvbuild")
SCENARIOS = ("cold", "bump", "noop")
#: (scenario, package bumped before it or None, its new version)
Scenario = tuple[str, "str | None", "str | None"]
DEFAULT_SCENARIOS: tuple[Scenario, ...] = (
    ("cold", None, None),
    ("bump", BUMP_PACKAGE, BUMP_VERSION),
    ("noop", None, None),
)
ML_SCENARIOS: tuple[Scenario, ...] = (
    ("cold", None, None),
    ("small", BUMP_PACKAGE, BUMP_VERSION),
    ("mid", synth.ML_MID_BUMP, synth.ML_MID_VERSIONS[1]),
    ("noop", None, None),
)
#: --shape ml goals, as ratios uvbuild/plain (mid-bytes: to the mid package's installed
#: size plus the pool layer's)
ML_GOALS = {
    "small-seconds": 0.10,
    "small-bytes": 0.01,
    "mid-seconds": 0.25,
    "mid-bytes": 1.2,
    "cold-seconds": 1.05,
    "noop-seconds": 2.0,
}
GOALS = {"bump-speedup": 5.0, "new-bytes-ratio": 20.0, "cold-slowdown-pct": 15.0}
# uv issue #9324's Dockerfile, with local images and a stand-in for its apt-get line
SEED_DOCKERFILE = """\
FROM {python_image}
SHELL ["/bin/sh", "-exc"]
ARG DEBIAN_FRONTEND=noninteractive
ARG python_version=3.11
COPY --link --from={uv_image} /uv /usr/local/bin/uv
RUN mkdir -p /opt/system && echo "apt-get install stand-in" > /opt/system/installed
ENV UV_PYTHON="python$python_version" UV_PYTHON_DOWNLOADS=never UV_PROJECT_ENVIRONMENT=/app \\
    UV_LINK_MODE=copy PYTHONFAULTHANDLER=1 PYTHONUNBUFFERED=1 UV_COMPILE_BYTECODE=1 PYTHONOPTIMIZE=1
WORKDIR /project
COPY pyproject.toml uv.lock /project/
RUN --mount=type=cache,target=/root/.cache/uv uv sync --no-dev --no-install-project --frozen
COPY . /project
RUN --mount=type=cache,target=/root/.cache/uv uv sync --no-dev --frozen
"""
SEED_FILE = "Dockerfile.seed"


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def docker(*args: str, timeout: float = 600, check: bool = True) -> str:
    proc = subprocess.run(
        ["docker", *args], capture_output=True, text=True, timeout=timeout, check=False
    )
    if check and proc.returncode != 0:
        raise RuntimeError(f"docker {' '.join(args)} failed ({proc.returncode}): {proc.stderr}")
    return proc.stdout


def image_id(image: str) -> str:
    return docker("image", "inspect", "--format", "{{.Id}}", image).strip()


def diff_ids(image: str) -> list[str]:
    return json.loads(docker("image", "inspect", "--format", "{{json .RootFS.Layers}}", image))


def layer_sizes(image: str, wanted: set[str]) -> dict[str, int]:
    """Exact uncompressed tar size of each ``wanted`` layer of ``image``, from a streamed
    ``docker save`` (layer blobs are named by their diff id in the saved layout)."""
    if not wanted:
        return {}
    sizes: dict[str, int] = {}
    with subprocess.Popen(["docker", "save", image], stdout=subprocess.PIPE) as proc:
        assert proc.stdout is not None
        with tarfile.open(fileobj=proc.stdout, mode="r|") as archive:
            for member in archive:
                if not member.isfile():
                    continue
                name = member.name
                if name.startswith("blobs/sha256/"):
                    digest = "sha256:" + name.rsplit("/", 1)[1]
                    if digest in wanted:
                        sizes[digest] = member.size
        if proc.wait() != 0:
            raise RuntimeError(f"docker save {image} failed ({proc.returncode})")
    missing = wanted - sizes.keys()
    if missing:
        raise RuntimeError(f"docker save {image}: no blob for layer(s) {sorted(missing)}")
    return sizes


def new_bytes(image: str, previous: str) -> tuple[int, int]:
    """(bytes, count) of the layers of ``image`` whose diff id ``previous`` lacks."""
    old = set(diff_ids(previous))
    new = {d for d in diff_ids(image) if d not in old}
    return sum(layer_sizes(image, new).values()), len(new)


HEAVY_SIZE = """\
import importlib.metadata as m, json, os, re
pats = [re.compile(p.replace("*", ".*")) for p in {patterns!r}]
total = 0
for d in m.distributions():
    name = re.sub(r"[-_.]+", "-", d.metadata["Name"]).lower()
    if any(p.fullmatch(name) for p in pats):
        for f in d.files or []:
            path = d.locate_file(f)
            if os.path.isfile(path):
                total += os.path.getsize(path)
print(json.dumps(total))
"""


def heavy_installed_bytes(
    image: str, python: str = "/opt/venv/bin/python", patterns: list[str] | None = None
) -> int:
    script = HEAVY_SIZE.format(patterns=synth.HEAVY_PATTERNS if patterns is None else patterns)
    out = docker("run", "--rm", "--network", "none", image, python, "-c", script)
    return int(out.strip().splitlines()[-1])


STEP_NAME = re.compile(r"^#(\d+) (\[.*|exporting to .*|importing .*|resolve .*)$")
STEP_DONE = re.compile(r"^#(\d+) DONE (\d+(?:\.\d+)?)s$")
STEP_EXPORT = re.compile(r"^#(\d+) (exporting layers|exporting to image) (\d+(?:\.\d+)?)s done$")


def step_times(progress: str) -> list[tuple[str, float]]:
    """(step name, seconds) of every finished step in BuildKit ``--progress plain`` output,
    slowest first; several builds in one output (uvbuild's base and app) are told apart by
    a step number named again. ``exporting layers`` is its own entry."""
    steps: list[tuple[str, float]] = []
    names: dict[str, str] = {}
    for line in progress.splitlines():
        line = line.rstrip()
        if m := STEP_EXPORT.match(line):
            steps.append((m.group(2), float(m.group(3))))
        elif m := STEP_NAME.match(line):
            number, name = m.groups()
            if number not in names:
                names[number] = name
            elif names[number] != name:  # the next build's numbering
                names = {number: name}
        elif (m := STEP_DONE.match(line)) and m.group(1) in names:
            steps.append((names[m.group(1)], float(m.group(2))))
    return sorted(steps, key=lambda step: -step[1])


@dataclass
class Measurement:
    recipe: str
    scenario: str
    repetition: int
    seconds: float
    new_bytes: int
    new_layers: int
    image: str
    base_action: str | None = None
    uvbuild: dict[str, Any] | None = None  # uvbuild's own JSON summary, layers trimmed
    steps: list[tuple[str, float]] = field(default_factory=list)  # slowest build steps


@dataclass
class Bench:
    args: argparse.Namespace
    work: Path
    index: synth.IndexServer | None
    template: Path
    run_id: str = field(default_factory=lambda: uuid.uuid4().hex[:8])
    measurements: list[Measurement] = field(default_factory=list)
    heavy_bytes: int | None = None
    problems: list[str] = field(default_factory=list)
    scenarios: tuple[Scenario, ...] = DEFAULT_SCENARIOS
    #: installed bytes per distribution of uvbuild's mid-bump image (--shape ml)
    installed: dict[str, int] = field(default_factory=dict)
    #: what heavy_bytes counts
    heavy_patterns: list[str] = field(default_factory=lambda: list(synth.HEAVY_PATTERNS))
    #: the last build's BuildKit progress (plain)
    last_progress: str = ""

    @property
    def repos(self) -> dict[str, str]:
        return {
            "plain": f"uvbuild-bench/plain-{self.run_id}",
            "uvbuild": f"uvbuild-bench/app-{self.run_id}",
            "base": f"uvbuild-bench/base-{self.run_id}",
        }

    # -- engine state ------------------------------------------------------------------
    def remove_images(self) -> None:
        refs = []
        for repo in self.repos.values():
            out = docker("image", "ls", repo, "--format", "{{.Repository}}:{{.Tag}}")
            refs += [line for line in out.splitlines() if line and not line.endswith(":<none>")]
        if refs:
            docker("image", "rm", "-f", *refs, timeout=600)

    def reset(self) -> None:
        self.remove_images()
        docker("buildx", "prune", "-af", timeout=1200)

    @property
    def python(self) -> str:
        """The interpreter of the image's venv."""
        return "/app/bin/python" if self.args.seed else "/opt/venv/bin/python"

    # -- builds --------------------------------------------------------------------------
    def build_plain(self, project: Path, tag: str) -> tuple[float, None, None]:
        if self.args.seed:
            return self.build_seed_plain(project, tag), None, None
        images = {"python_image": self.args.python_image, "uv_image": self.args.uv_image}
        result = synth.plain_build(project, tag, images, timeout=3600)
        self.last_progress = result.stderr
        return result.seconds, None, None

    def build_seed_plain(self, project: Path, tag: str) -> float:
        """``docker buildx build`` of the #9324 Dockerfile, as it is."""
        start = time.monotonic()
        proc = subprocess.run(
            [
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
                str(project / SEED_FILE),
                str(project),
            ],
            capture_output=True,
            text=True,
            timeout=3600,
            check=False,
        )
        seconds = time.monotonic() - start
        if proc.returncode != 0:
            raise RuntimeError(f"docker buildx build {tag} failed: {proc.stderr[-4000:]}")
        self.last_progress = proc.stderr
        return seconds

    def build_uvbuild(self, project: Path, tag: str) -> tuple[float, str, dict[str, Any]]:
        cmd = [
            sys.executable,
            "-m",
            "uvbuild",
            "build",
            str(project),
            "--network",
            "host",
            "-t",
            tag,
            "--json",
            "--progress",
            "plain",
            *(["-f", str(project / SEED_FILE)] if self.args.seed else []),
        ]
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
        start = time.monotonic()
        proc = subprocess.run(
            cmd, capture_output=True, text=True, cwd=REPO, env=env, timeout=3600, check=False
        )
        seconds = time.monotonic() - start
        if proc.returncode != 0:
            tail = "\n".join(proc.stderr.splitlines()[-40:])
            raise RuntimeError(f"{' '.join(cmd)} failed ({proc.returncode}):\n{tail}")
        self.last_progress = proc.stderr
        summary = json.loads(proc.stdout)
        for warning in summary.get("warnings", []):
            self.problems.append(f"uvbuild warning ({tag}): {warning}")
        image = summary.get("image", {})
        trimmed = {
            "base": summary.get("base"),
            "image": {k: v for k, v in image.items() if k != "layers"},
            "warnings": summary.get("warnings"),
            # the app image's layers that the base lacks: the light layers, pool and app
            "layers": [
                {k: layer.get(k) for k in ("diff-id", "size", "created-by")}
                for layer in image.get("layers", [])
                if not layer.get("shared-with-base")
            ],
        }
        return seconds, summary["base"]["action"], trimmed

    def build(self, recipe: str, project: Path, tag: str) -> tuple[float, str | None, Any]:
        if recipe == "plain":
            return self.build_plain(project, tag)
        return self.build_uvbuild(project, tag)

    # -- one recipe: cold, bump, no-op ------------------------------------------------
    def fresh_project(self, recipe: str, repetition: int) -> Path:
        dest = self.work / f"{recipe}-{repetition}"
        shutil.copytree(self.template, dest)
        if self.args.seed:
            images = {"python_image": self.args.python_image, "uv_image": self.args.uv_image}
            (dest / SEED_FILE).write_text(SEED_DOCKERFILE.format(**images))
        return dest

    def run_recipe(self, recipe: str, repetition: int) -> None:
        project = self.fresh_project(recipe, repetition)
        repo = self.repos[recipe]
        log(f"rep {repetition} {recipe}: removing bench images, pruning build cache")
        self.reset()
        previous = self.args.python_image
        for scenario, package, version in self.scenarios:
            if package is not None and version is not None:
                self.bump(project, package, version)
            tag = f"{repo}:{scenario}-{repetition}"
            if scenario == "noop":
                # a no-op is the same command again (a Makefile target run twice): the same
                # tag, so uvbuild's start-ahead record of the last command matches it as it
                # would for a user; the image it replaces is compared by its id
                tag, previous = previous, image_id(previous)
            log(f"rep {repetition} {recipe}: {scenario} build -> {tag}")
            seconds, action, summary = self.build(recipe, project, tag)
            added, count = new_bytes(tag, previous)
            log(
                f"rep {repetition} {recipe}: {scenario} {seconds:.1f} s, "
                f"{added / 1e6:.1f} MB new in {count} layer(s)"
                + (f", base {action}" if action else "")
            )
            steps = step_times(self.last_progress)
            log(
                f"rep {repetition} {recipe}: {scenario} slowest steps: "
                + "; ".join(f"{name[:70]} {sec:.1f} s" for name, sec in steps[:4])
            )
            measurement = Measurement(
                recipe, scenario, repetition, seconds, added, count, tag, action, summary, steps
            )
            self.measurements.append(measurement)
            if scenario == "cold" and recipe == "plain" and self.heavy_bytes is None:
                self.heavy_bytes = heavy_installed_bytes(tag, self.python, self.heavy_patterns)
            if package is not None:
                self.check_installed(project, tag)
            if scenario == "mid" and recipe == "uvbuild":
                self.installed = installed_by_distribution(tag, self.python)
            previous = tag

    def bump(self, project: Path, package: str, version: str) -> None:
        """Move ``package`` to ``version`` in the project and its lock."""
        synth.bump(project, package, version)

    def check_installed(self, project: Path, image: str) -> None:
        expected = synth.expected_distributions(project)
        got = synth.installed_distributions(image, python=self.python)
        if got != expected:
            diff = sorted(set(got.items()) ^ set(expected.items()))
            self.problems.append(f"{image}: installed distributions differ from uv.lock: {diff}")

    def run(self) -> None:
        for repetition in range(self.args.repeat):
            order = RECIPES if repetition % 2 == 0 else tuple(reversed(RECIPES))
            for recipe in order:
                self.run_recipe(recipe, repetition)

    # -- results -----------------------------------------------------------------------
    def median(self, recipe: str, scenario: str, attr: str) -> float:
        values = [
            getattr(m, attr)
            for m in self.measurements
            if m.recipe == recipe and m.scenario == scenario
        ]
        return statistics.median(values)

    def results(self) -> dict[str, Any]:
        table = {
            scenario: {
                recipe: {
                    "seconds": self.median(recipe, scenario, "seconds"),
                    "new-bytes": self.median(recipe, scenario, "new_bytes"),
                }
                for recipe in RECIPES
            }
            for scenario in SCENARIOS
        }

        def ratio(a: float, b: float) -> float | None:
            return a / b if b else None

        bump = table["bump"]
        cold = table["cold"]
        ratios = {
            "bump-speedup": ratio(bump["plain"]["seconds"], bump["uvbuild"]["seconds"]),
            "new-bytes-ratio": ratio(bump["plain"]["new-bytes"], bump["uvbuild"]["new-bytes"]),
            "cold-slowdown-pct": (cold["uvbuild"]["seconds"] / cold["plain"]["seconds"] - 1) * 100,
            "noop-seconds": {r: table["noop"][r]["seconds"] for r in RECIPES},
        }
        goals = {
            "bump-speedup": ratios["bump-speedup"] is not None
            and ratios["bump-speedup"] >= GOALS["bump-speedup"],
            # zero new bytes for uvbuild (ratio None) meets the goal when plain adds some
            "new-bytes-ratio": (
                ratios["new-bytes-ratio"] >= GOALS["new-bytes-ratio"]
                if ratios["new-bytes-ratio"] is not None
                else bump["plain"]["new-bytes"] > 0
            ),
            "cold-slowdown-pct": ratios["cold-slowdown-pct"] <= GOALS["cold-slowdown-pct"],
        }
        return {"table": table, "ratios": ratios, "goals": goals}


def mb(value: float) -> str:
    return f"{value / 1e6:,.1f} MB"


def print_report(bench: Bench, results: dict[str, Any], total: float, out: Any) -> None:
    args = bench.args
    table, ratios, goals = results["table"], results["ratios"], results["goals"]
    w = out.write
    w(
        f"\nsynthetic project: heavy set {args.heavy_mb:g} MiB (fake-torch + "
        f"fake-nvidia-cuda-cu12; {args.heavy_modules} Python modules in fake-torch), "
        f"{len(synth.LIGHT_PACKAGES)} light packages; "
        f"repetitions: {args.repeat} (medians)\n"
    )
    if bench.heavy_bytes is not None:
        w(f"heavy packages installed in the image: {mb(bench.heavy_bytes)}\n")
    w("\n")
    head = (
        f"{'scenario':<22} {'plain s':>9} {'uvbuild s':>10} {'plain new':>13} {'uvbuild new':>13}"
    )
    w(head + "\n" + "-" * len(head) + "\n")
    labels = {
        "cold": "cold (pruned cache)",
        "bump": f"bump {BUMP_PACKAGE}",
        "noop": "no-op rebuild",
    }
    for scenario in SCENARIOS:
        row = table[scenario]
        w(
            f"{labels[scenario]:<22} {row['plain']['seconds']:>9.1f} "
            f"{row['uvbuild']['seconds']:>10.1f} {mb(row['plain']['new-bytes']):>13} "
            f"{mb(row['uvbuild']['new-bytes']):>13}\n"
        )
    w(
        "\nnew bytes: uncompressed layers whose diff id the recipe's previous image lacks "
        "(cold: vs the python image)\n\n"
    )

    def show(value: float | None, fmt: str) -> str:
        return "inf (uvbuild added 0 bytes)" if value is None else format(value, fmt)

    def verdict(key: str) -> str:
        return "PASS" if goals[key] else "FAIL"

    w(
        f"light-bump speedup (plain/uvbuild):   {show(ratios['bump-speedup'], '.1f')}x   "
        f"goal >= {GOALS['bump-speedup']:g}x   {verdict('bump-speedup')}\n"
    )
    w(
        f"new-bytes ratio (plain/uvbuild):      {show(ratios['new-bytes-ratio'], ',.0f')}x   "
        f"goal >= {GOALS['new-bytes-ratio']:g}x   {verdict('new-bytes-ratio')}\n"
    )
    w(
        f"cold slowdown (uvbuild/plain - 1):    {ratios['cold-slowdown-pct']:+.1f}%   "
        f"goal <= {GOALS['cold-slowdown-pct']:g}%   {verdict('cold-slowdown-pct')}\n"
    )
    noop = ratios["noop-seconds"]
    w(
        f"no-op rebuild:                        plain {noop['plain']:.1f} s, "
        f"uvbuild {noop['uvbuild']:.1f} s\n"
    )
    actions: dict[str, list[str]] = {}
    for m in bench.measurements:
        if m.recipe == "uvbuild" and m.base_action not in actions.setdefault(m.scenario, []):
            actions[m.scenario].append(str(m.base_action))
    w(f"uvbuild base action:                  {actions}\n")
    if bench.problems:
        w("\nproblems:\n" + "".join(f"  - {p}\n" for p in bench.problems))
    w(f"\ntotal benchmark time: {total:.0f} s\n")


# -- --shape ml: a project shaped like real ML locks --------------------------------------

ML_LABELS = {
    "cold": "cold build (pruned cache)",
    "small": f"small bump ({BUMP_PACKAGE})",
    "mid": f"mid bump ({synth.ML_MID_BUMP})",
    "noop": "no-op rebuild",
}


def pool_layer(layers: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The pool's layer among uvbuild's app layers: the deps stage's ``uv sync
    --no-install-project`` (the light layers are ``COPY --link``s, the app's sync installs
    the project)."""
    for layer in layers:
        created = layer.get("created-by") or ""
        if "uv sync" in created and "--no-install-project" in created:
            return layer
    return None


def median_of(measurements: list[Measurement], recipe: str, scenario: str, attr: str) -> float:
    values = [
        getattr(m, attr) for m in measurements if m.recipe == recipe and m.scenario == scenario
    ]
    return statistics.median(values)


def ml_results(
    measurements: list[Measurement], installed: dict[str, int], mid_name: str
) -> dict[str, Any]:
    """Medians, ratios uvbuild/plain and ML_GOALS verdicts of the scenarios cold, small,
    mid and noop. ``installed``: bytes per distribution in uvbuild's mid-bump image;
    ``mid_name``: the package the mid bump moved."""
    scenarios = [name for name, _, _ in ML_SCENARIOS]
    table = {
        scenario: {
            recipe: {
                "seconds": median_of(measurements, recipe, scenario, "seconds"),
                "new-bytes": median_of(measurements, recipe, scenario, "new_bytes"),
            }
            for recipe in RECIPES
        }
        for scenario in scenarios
    }

    def ratio(scenario: str, key: str) -> float | None:
        plain = table[scenario]["plain"][key]
        return table[scenario]["uvbuild"][key] / plain if plain else None

    mid_uv = next((m for m in measurements if m.recipe == "uvbuild" and m.scenario == "mid"), None)
    pool = pool_layer((mid_uv.uvbuild or {}).get("layers", [])) if mid_uv else None
    pool_bytes = int(pool["size"]) if pool and pool.get("size") is not None else None
    mid_installed = installed.get(mid_name)
    mid_budget = (
        mid_installed + pool_bytes if mid_installed is not None and pool_bytes is not None else None
    )
    mid_new = table["mid"]["uvbuild"]["new-bytes"]
    ratios = {
        "small-seconds": ratio("small", "seconds"),
        "small-bytes": ratio("small", "new-bytes"),
        "mid-seconds": ratio("mid", "seconds"),
        "mid-bytes": mid_new / mid_budget if mid_budget else None,
        "cold-seconds": ratio("cold", "seconds"),
        "noop-seconds": ratio("noop", "seconds"),
    }
    goals = {key: value is not None and value <= ML_GOALS[key] for key, value in ratios.items()}
    return {
        "table": table,
        "ratios": ratios,
        "goals": goals,
        "mid-package": mid_name,
        "mid-installed-bytes": mid_installed,
        "pool-layer-bytes": pool_bytes,
        "mid-bytes-budget": mid_budget,
    }


def ml_markdown(results: dict[str, Any], labels: dict[str, str]) -> str:
    """The results as a markdown table (for a closing note)."""
    table, ratios, goals = results["table"], results["ratios"], results["goals"]

    def x(value: float | None) -> str:
        return "n/a" if value is None else f"{value:.3g}x"

    def verdict(key: str) -> str:
        return "PASS" if goals[key] else "FAIL"

    seconds_goal = {
        "cold": "cold-seconds",
        "small": "small-seconds",
        "mid": "mid-seconds",
        "noop": "noop-seconds",
    }
    lines = [
        "| scenario | plain | uvbuild | uvbuild/plain (goal) | plain new | uvbuild new "
        "| bytes goal |",
        "|---|---:|---:|---|---:|---:|---|",
    ]
    for scenario in table:
        row = table[scenario]
        key = seconds_goal[scenario]
        time_cell = f"{x(ratios[key])} (≤ {ML_GOALS[key]:g}x) {verdict(key)}"
        if scenario == "small":
            bytes_cell = (
                f"{x(ratios['small-bytes'])} of plain (≤ {ML_GOALS['small-bytes']:g}x) "
                f"{verdict('small-bytes')}"
            )
        elif scenario == "mid":
            budget = results["mid-bytes-budget"]
            bytes_cell = (
                f"{x(ratios['mid-bytes'])} of {results['mid-package']} + pool"
                + (f" = {mb(budget)}" if budget else "")
                + f" (≤ {ML_GOALS['mid-bytes']:g}x) {verdict('mid-bytes')}"
            )
        else:
            bytes_cell = ""
        lines.append(
            f"| {labels[scenario]} | {row['plain']['seconds']:.1f} s "
            f"| {row['uvbuild']['seconds']:.1f} s | {time_cell} "
            f"| {mb(row['plain']['new-bytes'])} | {mb(row['uvbuild']['new-bytes'])} "
            f"| {bytes_cell} |"
        )
    return "\n".join(lines) + "\n"


def print_ml_report(bench: Bench, results: dict[str, Any], total: float, out: Any) -> None:
    args = bench.args
    w = out.write
    mid_mb = sum(py + native for _, py, native in synth.ML_MID) * args.mid_scale
    w(
        f"\nsynthetic ML-shaped project: heavy set {args.heavy_mb:g} MiB (fake-torch + "
        f"fake-nvidia-cuda-cu12; {args.heavy_modules} Python modules in fake-torch), "
        f"{len(synth.ML_MID)} mid-size light packages (~{mid_mb:.0f} MiB installed), "
        f"{len(synth.LIGHT_PACKAGES) + len(synth.ML_SMALL)} small ones; "
        f"repetitions: {args.repeat} (medians)\n"
    )
    if bench.heavy_bytes is not None:
        w(f"heavy packages installed in the image: {mb(bench.heavy_bytes)}\n")
    if results["mid-installed-bytes"] is not None:
        w(f"{synth.ML_MID_BUMP} installed: {mb(results['mid-installed-bytes'])}; ")
    if results["pool-layer-bytes"] is not None:
        w(f"uvbuild's pool layer: {mb(results['pool-layer-bytes'])}")
    w("\n\n" + ml_markdown(results, ML_LABELS))
    w(
        "\nnew bytes: uncompressed layers whose diff id the recipe's previous image lacks "
        "(cold: vs the python image)\n"
    )
    print_steps(bench.measurements, out)
    if bench.problems:
        w("\nproblems:\n" + "".join(f"  - {p}\n" for p in bench.problems))
    w(f"\ntotal benchmark time: {total:.0f} s\n")


def print_steps(measurements: list[Measurement], out: Any, count: int = 3) -> None:
    """The slowest BuildKit steps of each build of the first repetition."""
    out.write("\nslowest build steps (first repetition):\n")
    for m in measurements:
        if m.repetition == 0:
            top = "; ".join(f"{name[:60]} {sec:.1f} s" for name, sec in m.steps[:count])
            out.write(f"  {m.recipe:<8} {m.scenario:<6} {top}\n")


# -- --layers: single heavy layer against layer groups, torch-only bump -----------------

LAYOUTS = ("single", "groups")
LAYER_GROUPS = {"cuda": ["fake-nvidia-*"], "torch": [synth.TORCH]}
LAYER_GOAL_SLACK = 0.05

# installed bytes per distribution: its RECORD's files and the bytecode compiled for them
# (not in RECORD: uv compiles after installing)
INSTALLED_BY_DIST = """\
import glob, importlib.metadata as m, json, os, re
out = {}
for d in m.distributions():
    name = re.sub(r"[-_.]+", "-", d.metadata["Name"]).lower()
    total = 0
    for f in d.files or []:
        path = str(d.locate_file(f))
        if os.path.isfile(path):
            total += os.path.getsize(path)
            if path.endswith(".py"):
                head, tail = os.path.split(path)
                pattern = os.path.join(head, "__pycache__", glob.escape(tail[:-3]) + ".*.pyc")
                total += sum(os.path.getsize(c) for c in glob.glob(pattern))
    out[name] = total
print(json.dumps(out))
"""


def installed_by_distribution(image: str, python: str = "/opt/venv/bin/python") -> dict[str, int]:
    out = docker("run", "--rm", "--network", "none", image, python, "-c", INSTALLED_BY_DIST)
    return json.loads(out.strip().splitlines()[-1])


@dataclass
class LayerBench:
    args: argparse.Namespace
    work: Path
    index: synth.IndexServer
    run_id: str = field(default_factory=lambda: uuid.uuid4().hex[:8])
    rows: dict[str, dict[str, Any]] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    installed: dict[str, int] = field(default_factory=dict)

    def repo(self, layout: str) -> str:
        return f"uvbuild-bench/layers-{layout}-{self.run_id}"

    def remove_images(self) -> None:
        refs = []
        for layout in LAYOUTS:
            for repo in (self.repo(layout), self.repo(layout) + "-base"):
                out = docker("image", "ls", repo, "--format", "{{.Repository}}:{{.Tag}}")
                refs += [x for x in out.splitlines() if x and not x.endswith(":<none>")]
        if refs:
            docker("image", "rm", "-f", *refs, timeout=600)

    def project(self, layout: str) -> Path:
        torch_from = synth.LAYER_TORCH_VERSIONS[0]
        config = {
            "heavy": synth.HEAVY_PATTERNS,
            "base-image": self.args.python_image,
            "uv-image": self.args.uv_image,
            "base-repo": self.repo(layout) + "-base",
            "layer-mode": layout,
            "layers": LAYER_GROUPS,
        }
        dependencies = [
            *synth.default_dependencies(torch_version=torch_from),
            f"{synth.CUDNN}=={synth.CUDNN_VERSIONS[0]}",
        ]
        path = self.work / f"layers-{layout}"
        synth.make_project(
            path, self.index.url, dependencies=dependencies, tool_uvbuild=config, lock_now=True
        )
        return path

    def run_layout(self, layout: str) -> None:
        log(f"layers {layout}: removing bench images, pruning build cache")
        self.remove_images()
        docker("buildx", "prune", "-af", timeout=1200)
        project = self.project(layout)
        helper = Bench(self.args, self.work, self.index, project)
        cold_tag = f"{self.repo(layout)}:cold"
        log(f"layers {layout}: cold build -> {cold_tag}")
        cold_seconds, _, cold = helper.build_uvbuild(project, cold_tag)
        if not self.installed:
            self.installed = installed_by_distribution(cold_tag)
        synth.bump(project, synth.TORCH, synth.LAYER_TORCH_VERSIONS[1])
        tag = f"{self.repo(layout)}:torch"
        log(f"layers {layout}: torch-only bump -> {tag}")
        seconds, action, summary = helper.build_uvbuild(project, tag)
        added, count = new_bytes(tag, cold_tag)
        base_added, base_count = new_bytes(summary["base"]["tag"], cold["base"]["tag"])
        log(
            f"layers {layout}: torch bump {seconds:.1f} s, {added / 1e6:.1f} MB new in "
            f"{count} layer(s) (base: {base_added / 1e6:.1f} MB in {base_count})"
        )
        helper.check_installed(project, tag)
        self.problems += helper.problems
        self.rows[layout] = {
            "cold-seconds": cold_seconds,
            "bump-seconds": seconds,
            "bump-base-seconds": summary["base"]["seconds"],
            "new-bytes": added,
            "new-layers": count,
            "new-base-bytes": base_added,
            "base-action": action,
        }

    def run(self) -> None:
        for layout in LAYOUTS:
            self.run_layout(layout)

    def results(self) -> dict[str, Any]:
        heavy_names = (synth.TORCH, synth.CUDA, synth.CUDNN)
        heavy = sum(self.installed.get(n, 0) for n in heavy_names)
        torch = self.installed.get(synth.TORCH, 0)
        share = torch / heavy if heavy else 0.0
        limit = (share + LAYER_GOAL_SLACK) * heavy
        single, groups = self.rows["single"], self.rows["groups"]
        return {
            "table": self.rows,
            "heavy-installed-bytes": heavy,
            "torch-installed-bytes": torch,
            "torch-share": share,
            "goal-new-bytes": limit,
            "speedup": single["bump-seconds"] / groups["bump-seconds"],
            "new-bytes-ratio": single["new-bytes"] / groups["new-bytes"]
            if groups["new-bytes"]
            else None,
            "goals": {"torch-bump-new-bytes": groups["new-bytes"] <= limit},
        }


def print_layer_report(bench: LayerBench, results: dict[str, Any], total: float, out: Any) -> None:
    w = out.write
    w(
        f"\nsynthetic project: heavy set fake-torch ({results['torch-installed-bytes'] / 1e6:,.1f}"
        f" MB installed), fake-nvidia-cuda-cu12 and fake-nvidia-cudnn-cu12: "
        f"{mb(results['heavy-installed-bytes'])} installed; torch's share "
        f"{results['torch-share'] * 100:.1f}%\n"
        f"scenario: cold build, then fake-torch {' -> '.join(synth.LAYER_TORCH_VERSIONS)} "
        "(same fake CUDA); one run\n\n"
    )
    head = (
        f"{'layout':<18} {'cold s':>8} {'bump s':>8} {'base s':>8} "
        f"{'new bytes':>13} {'new base':>13}"
    )
    w(head + "\n" + "-" * len(head) + "\n")
    names = {"single": "single layer", "groups": "groups cuda+torch"}
    for layout in LAYOUTS:
        row = results["table"][layout]
        w(
            f"{names[layout]:<18} {row['cold-seconds']:>8.1f} {row['bump-seconds']:>8.1f} "
            f"{row['bump-base-seconds']:>8.1f} {mb(row['new-bytes']):>13} "
            f"{mb(row['new-base-bytes']):>13}\n"
        )
    w(
        "\nnew bytes: uncompressed layers of the bumped image (new base: of its base) whose "
        "diff id the cold one lacks\n\n"
    )
    ok = results["goals"]["torch-bump-new-bytes"]
    groups = results["table"]["groups"]["new-bytes"]
    w(
        f"torch-bump speedup (single/groups):   {results['speedup']:.1f}x\n"
        f"new bytes with groups:                {mb(groups)}   goal <= "
        f"{mb(results['goal-new-bytes'])} (torch share + 5%)   {'PASS' if ok else 'FAIL'}\n"
    )
    if bench.problems:
        w("\nproblems:\n" + "".join(f"  - {p}\n" for p in bench.problems))
    w(f"\ntotal benchmark time: {total:.0f} s\n")


def main_layers(args: argparse.Namespace, tmp: Path, started: float) -> int:
    with sigterm_as_interrupt(), synth.IndexServer() as index:
        log(f"writing synthetic wheels to {tmp}")
        wheels = synth.populate_index(tmp / "wheels", heavy_mb=args.heavy_mb)
        wheels += synth.layer_wheels(tmp / "wheels", heavy_mb=args.heavy_mb)
        synth.add_to_index(index, wheels)
        bench = LayerBench(args, tmp, index)
        try:
            bench.run()
        finally:
            with contextlib.suppress(Exception):
                bench.remove_images()
    total = time.monotonic() - started
    results = bench.results()
    print_layer_report(bench, results, total, sys.stderr if args.json else sys.stdout)
    if args.json:
        document = {
            "schema": "uvbuild.bench-layers/1",
            "engine": engine_versions(),
            "heavy-mb": args.heavy_mb,
            **results,
            "problems": bench.problems,
            "total-seconds": total,
        }
        json.dump(document, sys.stdout, indent=2)
        sys.stdout.write("\n")
    return 0 if all(results["goals"].values()) and not bench.problems else 1


def engine_versions() -> dict[str, str]:
    server = docker("version", "--format", "{{.Server.Version}}", check=False).strip()
    buildx = docker("buildx", "version", check=False).strip()
    return {"server": server, "buildx": buildx}


@contextlib.contextmanager
def sigterm_as_interrupt() -> Iterator[None]:
    def handler(signum: int, _frame: Any) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=(
            "Compare uvbuild with the plain uv Dockerfile on a synthetic project with >= 1 GB "
            "of heavy packages: cold build, rebuild after one light bump, no-op rebuild "
            "(seconds and bytes of new layers). Prunes ALL build cache of the default "
            "builder before each cold build and at the end."
        )
    )
    parser.add_argument(
        "--heavy-mb",
        type=float,
        default=1200,
        help="MiB of heavy packages installed (fake-torch + fake-nvidia-cuda-cu12, half "
        "each; the index holds two versions of each, so twice that on disk) (%(default)s)",
    )
    parser.add_argument(
        "--heavy-modules",
        type=int,
        default=0,
        help="small Python modules inside fake-torch, as a real torch wheel carries ~10k: "
        "reinstalling and byte-compiling them is part of a real rebuild's cost (%(default)s)",
    )
    parser.add_argument(
        "--repeat", type=int, default=1, help="repetitions; medians are reported (1)"
    )
    parser.add_argument("--python-image", default=PYTHON_IMAGE, help="(%(default)s)")
    parser.add_argument("--uv-image", default=UV_IMAGE, help="(%(default)s)")
    parser.add_argument(
        "--workdir", type=Path, help="parent of the temporary directory (default: $TMPDIR)"
    )
    parser.add_argument(
        "--json", action="store_true", help="print the results as JSON on stdout (report on stderr)"
    )
    parser.add_argument(
        "--seed",
        action="store_true",
        help="build uv issue #9324's Dockerfile unchanged with both recipes "
        "(docker buildx build -f, uvbuild build -f)",
    )
    parser.add_argument(
        "--layers",
        action="store_true",
        help="instead: a torch-only bump with one heavy layer against layer groups "
        "(cuda, torch); rebuild seconds and new bytes",
    )
    parser.add_argument(
        "--shape",
        choices=("default", "ml"),
        default="default",
        help="default: a dozen tiny light packages, one light bump; ml: shaped like real ML "
        "locks (18 mid-size light packages, 42 small), a small and a mid bump (%(default)s)",
    )
    parser.add_argument(
        "--mid-scale",
        type=float,
        default=1.0,
        help="--shape ml: scale the mid-size packages' sizes by this factor (%(default)s)",
    )
    parser.add_argument(
        "--docker-host",
        help="engine to run against (sets DOCKER_HOST for every docker and uvbuild call; "
        "default: DOCKER_HOST as set, else the default engine). The benchmark prunes all "
        "build cache of that engine: point it at a private one",
    )
    args = parser.parse_args(argv)
    if args.repeat < 1:
        parser.error("--repeat must be at least 1")
    if args.layers and args.shape != "default":
        parser.error("--layers has its own project; leave out --shape")
    if args.mid_scale <= 0:
        parser.error("--mid-scale must be positive")
    if args.docker_host:
        os.environ["DOCKER_HOST"] = args.docker_host
    log(f"engine: {os.environ.get('DOCKER_HOST') or 'the default (DOCKER_HOST unset)'}")
    if args.heavy_mb * (1 << 20) < 1e9:
        log(f"note: --heavy-mb {args.heavy_mb:g} installs less than 1 GB of heavy packages")
    for image in (args.python_image, args.uv_image):
        docker("image", "inspect", "--format", "{{.Id}}", image)

    started = time.monotonic()
    tmp = Path(tempfile.mkdtemp(prefix="uvbuild-bench-build-", dir=args.workdir))
    bench: Bench | None = None
    status = 0
    try:
        if args.layers:
            return main_layers(args, tmp, started)
        with sigterm_as_interrupt(), synth.IndexServer() as index:
            log(f"writing synthetic wheels ({2 * args.heavy_mb:g} MiB heavy) to {tmp}")
            wheels = synth.populate_index(
                tmp / "wheels", heavy_mb=args.heavy_mb, heavy_modules=args.heavy_modules
            )
            ml = args.shape == "ml"
            if ml:
                log("writing the ML-shaped light packages")
                wheels += synth.ml_wheels(tmp / "wheels", mid_scale=args.mid_scale)
            synth.add_to_index(index, wheels)
            config = {
                "heavy": synth.HEAVY_PATTERNS,
                "base-image": args.python_image,
                "uv-image": args.uv_image,
            }
            scenarios = ML_SCENARIOS if ml else DEFAULT_SCENARIOS
            bench = Bench(args, tmp, index, tmp / "template", scenarios=scenarios)
            config["base-repo"] = bench.repos["base"]
            synth.make_project(
                bench.template,
                index.url,
                dependencies=synth.ml_dependencies() if ml else None,
                tool_uvbuild=config,
                lock_now=True,
            )
            bench.run()
        total = time.monotonic() - started
        report_out = sys.stderr if args.json else sys.stdout
        if ml:
            results = ml_results(bench.measurements, bench.installed, synth.ML_MID_BUMP)
            print_ml_report(bench, results, total, report_out)
        else:
            results = bench.results()
            print_report(bench, results, total, report_out)
        if args.json:
            document = {
                "schema": "uvbuild.bench-build-ml/1" if ml else "uvbuild.bench-build/1",
                "engine": engine_versions(),
                "heavy-mb": args.heavy_mb,
                "heavy-modules": args.heavy_modules,
                "dockerfile": "uv#9324 (seed)" if args.seed else "generated",
                "heavy-installed-bytes": bench.heavy_bytes,
                "repeat": args.repeat,
                **results,
                "goal-thresholds": ML_GOALS if ml else GOALS,
                "measurements": [asdict(m) for m in bench.measurements],
                "problems": bench.problems,
                "total-seconds": total,
            }
            json.dump(document, sys.stdout, indent=2)
            sys.stdout.write("\n")
        status = 0 if all(results["goals"].values()) and not bench.problems else 1
    except KeyboardInterrupt:
        log("interrupted; cleaning up")
        status = 130
    finally:
        if bench is not None:
            with contextlib.suppress(Exception):
                bench.remove_images()
        log("pruning build cache, removing temporary files")
        docker("buildx", "prune", "-af", timeout=1200, check=False)
        shutil.rmtree(tmp, ignore_errors=True)
    return status


if __name__ == "__main__":
    sys.exit(main())
