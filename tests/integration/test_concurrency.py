"""Runs at once: two `uvbuild build` runs of one project build its base once (issue #4);
`uvbuild gc` while a build runs never removes the base it uses, builds of two keys at once
both succeed, and two engines sharing one registry push one base content (issue 13).

The projects have a loopback index of their own whose wheel downloads can be held for a
few seconds (``IndexServer.file_delay``), so a build is still running when the other
command arrives; a fresh index URL also means a fresh base key, never built before.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import threading
import uuid
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from tests import synth
from tests.integration import engines
from tests.integration.helpers import tool_uvbuild
from tests.integration.uvrun import uvbuild

REPO = Path(__file__).resolve().parents[2]
UVBUILD_BUILD = (sys.executable, "-m", "uvbuild", "build", "--network", "host", "--json")


@pytest.fixture
def slow_index() -> Iterator[synth.IndexServer]:
    with tempfile.TemporaryDirectory(prefix="uvbuild-concurrency-wheels-") as tmp:
        wheels = synth.populate_index(tmp, heavy_mb=16)
        with synth.IndexServer() as server:
            synth.add_to_index(server, wheels)
            yield server


def test_two_runs_at_once_build_the_base_once(
    slow_index: synth.IndexServer, base_images: dict[str, str], tmp_path: Path
) -> None:
    repo = f"uvbuild-test/synth-concurrency-{uuid.uuid4().hex[:8]}"
    project = synth.make_project(
        tmp_path / "app",
        slow_index.url,
        tool_uvbuild={
            "heavy": synth.HEAVY_PATTERNS,
            "base-image": base_images["python_image"],
            "uv-image": base_images["uv_image"],
            "base-repo": f"{repo}-base",
        },
        lock_now=True,
    )
    proc = subprocess.run(
        [sys.executable, "-m", "uvbuild", "plan", "--json", str(project.path)],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    )
    base_tag = json.loads(proc.stdout)["base"]["tag"]
    slow_index.file_delay = 4.0  # each heavy wheel download waits inside the base's RUN
    env = {**os.environ, "NO_COLOR": "1", "XDG_CACHE_HOME": str(tmp_path / "cache")}
    tags = [f"{repo}:run{i}" for i in (1, 2)]
    runs = [
        subprocess.Popen(
            [*UVBUILD_BUILD, "-t", tag, str(project.path)],
            cwd=REPO,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
            text=True,
        )
        for tag in tags
    ]
    try:
        outputs = [run.communicate(timeout=600) for run in runs]
        codes = [run.returncode for run in runs]
        assert codes == [0, 0], [err[-3000:] for _, err in outputs]
        summaries = [json.loads(out) for out, _ in outputs]
        actions = sorted(summary["base"]["action"] for summary in summaries)
        assert actions == ["built", "reused"], actions
        errs = [err for _, err in outputs]
        assert sum(err.count("==> building base") for err in errs) == 1
        assert sum(err.count("[uvbuild-base") > 0 for err in errs) == 1
        builder = next(i for i, s in enumerate(summaries) if s["base"]["action"] == "built")
        waiter = errs[1 - builder]
        assert f"waiting for pid {runs[builder].pid}" in waiter, waiter[-3000:]
        assert f"which is building base {base_tag}" in waiter
        assert f"reusing base {base_tag}" in waiter
        for summary in summaries:
            assert summary["base"]["tag"] == base_tag
        assert summaries[0]["image"]["layers"][0] == summaries[1]["image"]["layers"][0]
    finally:
        for run in runs:
            if run.poll() is None:
                run.kill()
                run.wait()
        subprocess.run(
            ["docker", "image", "rm", "-f", base_tag, *tags], capture_output=True, check=False
        )


# -- issue 13: gc while a build runs, two keys at once, two engines on one registry ----------


def _project(
    root: Path, index: synth.IndexServer, base_images: dict[str, str], base_repo: str, **kwargs: Any
) -> synth.SyntheticProject:
    return synth.make_project(
        root, index.url, tool_uvbuild=tool_uvbuild(base_images, base_repo), lock_now=True, **kwargs
    )


def _base_tag(project: Path, env: Mapping[str, str]) -> str:
    proc = uvbuild("plan", "--json", str(project), env=env)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return json.loads(proc.stdout)["base"]["tag"]


def _remove(project: Path, env: Mapping[str, str], refs: list[str]) -> None:
    """The images, then the project's bases and the build cache records behind them
    (``uvbuild gc --keep 0`` prunes those by id), then any base tag still left."""
    docker = ["docker", "image", "rm", "-f"]
    subprocess.run([*docker, *refs], env=env, capture_output=True, check=False)
    uvbuild("gc", "--keep", "0", str(project), env=env)
    subprocess.run([*docker, *refs], env=env, capture_output=True, check=False)


class Run:
    """A ``uvbuild build --json`` in the background; ``saw(text)`` waits for a line of its
    stderr that holds ``text``."""

    def __init__(self, args: list[str], env: Mapping[str, str]) -> None:
        self.proc = subprocess.Popen(
            [*UVBUILD_BUILD, *args],
            cwd=REPO,
            env=dict(env),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
            text=True,
        )
        self.lines: list[str] = []
        self.changed = threading.Condition()
        self.stdout = ""
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            with self.changed:
                self.lines.append(line)
                self.changed.notify_all()
        with self.changed:
            self.lines.append("")  # the end
            self.changed.notify_all()

    def saw(self, text: str, timeout: float = 600) -> bool:
        with self.changed:
            return self.changed.wait_for(
                lambda: any(text in line for line in self.lines) or "" in self.lines, timeout
            ) and any(text in line for line in self.lines)

    def finish(self, timeout: float = 600) -> tuple[int, dict[str, Any] | None, str]:
        assert self.proc.stdout is not None
        self.stdout = self.proc.stdout.read()
        code = self.proc.wait(timeout)
        self.reader.join(timeout)
        stderr = "".join(self.lines)
        return code, json.loads(self.stdout) if code == 0 else None, stderr

    def kill(self) -> None:
        """Stop it if it still runs, and close its pipes."""
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        self.reader.join(60)
        for pipe in (self.proc.stdout, self.proc.stderr):
            if pipe is not None:
                pipe.close()


@pytest.fixture
def index() -> Iterator[synth.IndexServer]:
    """Wheels of their own (a fresh seed): no image of an earlier run has these layers."""
    with (
        tempfile.TemporaryDirectory(prefix="uvbuild-concurrency-wheels-") as tmp,
        synth.IndexServer() as server,
    ):
        seed = uuid.uuid4().int % 1_000_000
        synth.add_to_index(server, synth.populate_index(tmp, heavy_mb=16, seed=seed))
        yield server


def test_gc_while_a_build_runs_keeps_the_base_it_uses(
    index: synth.IndexServer, base_images: dict[str, str], tmp_path: Path
) -> None:
    repo = f"uvbuild-test/synth-concurrency-gc-{uuid.uuid4().hex[:8]}"
    project = _project(tmp_path / "app", index, base_images, f"{repo}-base")
    env = {**os.environ, "NO_COLOR": "1", "XDG_CACHE_HOME": str(tmp_path / "cache")}
    base_tag = _base_tag(project.path, env)
    refs = [base_tag, f"{repo}:first", f"{repo}:second"]
    try:
        first = Run(["-t", refs[1], str(project.path)], env)
        code, summary, stderr = first.finish()
        first.kill()
        assert code == 0 and summary is not None, stderr[-3000:]
        assert summary["base"]["action"] == "built"
        subprocess.run(["docker", "image", "rm", refs[1]], capture_output=True, check=True)
        # a light bump: the same base, an app build that downloads a wheel, held 12 s
        light = synth.LIGHT_PACKAGES[1]
        project.bump(light, synth.LIGHT_VERSIONS[1])
        assert _base_tag(project.path, env) == base_tag
        index.file_delay = 12.0
        second = Run(["-t", refs[2], str(project.path)], env)
        try:
            assert second.saw("building the app on the base"), "".join(second.lines)[-3000:]
            gc = uvbuild("gc", "--keep", "0", "--json", str(project.path), env=env)
            assert gc.returncode == 0, gc.stderr[-2000:]
            report = json.loads(gc.stdout)
            assert report["removed"] == [], report
            kept = {tag: k["reason"] for k in report["kept"] for tag in k["tags"]}
            assert kept == {base_tag: "a running build uses it"}, report
            code, summary, stderr = second.finish()
        finally:
            second.kill()
        assert code == 0 and summary is not None, stderr[-3000:]
        assert summary["base"]["action"] == "reused" and summary["base"]["tag"] == base_tag
        inspect = ["docker", "image", "inspect", base_tag]
        assert subprocess.run(inspect, capture_output=True, check=False).returncode == 0
    finally:
        index.file_delay = 0.0
        _remove(project.path, env, refs)


def test_builds_of_two_keys_at_once_both_succeed(
    index: synth.IndexServer, base_images: dict[str, str], tmp_path: Path
) -> None:
    repo = f"uvbuild-test/synth-concurrency-keys-{uuid.uuid4().hex[:8]}"
    env = {**os.environ, "NO_COLOR": "1", "XDG_CACHE_HOME": str(tmp_path / "cache")}
    projects = [
        _project(tmp_path / f"app{i}", index, base_images, f"{repo}-base", torch_version=torch)
        for i, torch in enumerate(synth.TORCH_VERSIONS)
    ]
    tags = [_base_tag(p.path, env) for p in projects]
    assert tags[0] != tags[1]
    refs = [*tags, f"{repo}:app0", f"{repo}:app1"]
    index.file_delay = 2.0  # both base builds are still downloading when the other starts
    runs = [Run(["-t", refs[2 + i], str(p.path)], env) for i, p in enumerate(projects)]
    try:
        results = [run.finish() for run in runs]
        for code, summary, stderr in results:
            assert code == 0 and summary is not None, stderr[-3000:]
            assert summary["base"]["action"] == "built"
            assert "waiting for" not in stderr  # different keys never wait for each other
        assert [r[1]["base"]["tag"] for r in results if r[1]] == tags
    finally:
        index.file_delay = 0.0
        for run in runs:
            run.kill()
        for project in projects:
            _remove(project.path, env, refs)


@pytest.fixture(scope="module")
def other_engine(base_images: dict[str, str]) -> Iterator[engines.Engine]:
    """A second engine on this machine (another "machine" for the registry test)."""
    reason = engines.available()
    if reason is not None:
        if os.environ.get("UVBUILD_REQUIRE_DOCKER") == "1":
            pytest.fail(f"{reason} (UVBUILD_REQUIRE_DOCKER=1)", pytrace=False)
        pytest.skip(reason)
    with engines.engine() as engine:
        engine.load(base_images["python_image"], base_images["uv_image"])
        yield engine


def _repo_digests(env: Mapping[str, str], ref: str) -> list[str]:
    proc = subprocess.run(
        ["docker", "image", "inspect", "--format", "{{json .RepoDigests}}", ref],
        env=dict(env),
        capture_output=True,
        text=True,
        check=True,
    )
    return [d.split("@", 1)[1] for d in json.loads(proc.stdout) or []]


def test_two_engines_on_one_registry_push_one_base_content(
    other_engine: engines.Engine,
    index: synth.IndexServer,
    base_images: dict[str, str],
    pushed: Callable[[str], str],
    tmp_path: Path,
    record_property: pytest.RecordProperty,
) -> None:
    """Two machines (two engines, two cache directories: no shared lock) build one key at
    once with ``--push-base``: both succeed; a run whose registry got the base while it
    built it does not push it again, and whatever each pushed is the one manifest the
    registry holds under the base tag (the base build is reproducible)."""
    base_repo = pushed("base")
    project = _project(tmp_path / "app", index, base_images, base_repo)
    envs = [
        {**os.environ, "NO_COLOR": "1", "XDG_CACHE_HOME": str(tmp_path / "cache-a")},
        {**other_engine.env(), "NO_COLOR": "1", "XDG_CACHE_HOME": str(tmp_path / "cache-b")},
    ]
    base_tag = _base_tag(project.path, envs[0])
    assert _base_tag(project.path, envs[1]) == base_tag
    app = f"uvbuild-test/synth-concurrency-two-engines-{uuid.uuid4().hex[:8]}:app"
    runs = [Run(["--push-base", "-t", app, str(project.path)], env) for env in envs]
    try:
        results = [run.finish() for run in runs]
        for code, summary, stderr in results:
            assert code == 0 and summary is not None, stderr[-3000:]
            assert summary["base"]["tag"] == base_tag
        proc = subprocess.run(
            [
                "docker",
                "buildx",
                "imagetools",
                "inspect",
                base_tag,
                "--format",
                "{{json .Manifest}}",
            ],
            capture_output=True,
            text=True,
            check=True,
        )
        in_registry = json.loads(proc.stdout)["digest"]
        pushers = [i for i, r in enumerate(results) if r[1] and r[1]["base"]["pushed"]]
        assert pushers, [r[1]["base"] for r in results if r[1]]
        for i in pushers:  # both when both asked the registry before either had pushed
            assert _repo_digests(envs[i], base_tag) == [in_registry], (i, results[i][1])
        for i in set(range(2)) - set(pushers):
            assert "reached its registry meanwhile" in results[i][2], results[i][2][-3000:]
        record_property("bases_pushed", len(pushers))
    finally:
        for run in runs:
            run.kill()
        _remove(project.path, envs[0], [base_tag, app])
