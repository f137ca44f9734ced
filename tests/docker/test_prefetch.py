"""Answers started ahead (uvbuild.docker.process's AHEAD table, uvbuild.docker.prefetch's
record): taken once when asked exactly again, dropped before anything that could make them
wrong, recorded for the next run of the same invocation. The programs are small scripts
named ``docker`` and ``uv`` that log each start, so a test sees what really ran."""

from __future__ import annotations

import json
import os
import stat
import time
from pathlib import Path

import pytest

from uvbuild.docker import prefetch, process

IMAGE_ID = "sha256:" + "ab" * 32


@pytest.fixture
def programs(tmp_path, monkeypatch):
    """``docker`` and ``uv`` on PATH that append their arguments to runs.log and print
    them; ``docker ... missing`` fails."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    log = tmp_path / "runs.log"
    for name in ("docker", "uv"):
        script = bin_dir / name
        script.write_text(
            "#!/bin/sh\n"
            f'echo "{name} $*" >> {log}\n'
            f'echo "{name} $*"\n'
            'case "$*" in *missing*) echo "No such image" >&2; exit 1;; esac\n'
        )
        script.chmod(script.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    yield bin_dir, log
    process.stop_ahead()


def runs(log: Path) -> list[str]:
    return log.read_text().splitlines() if log.exists() else []


def wait_for(log: Path, count: int) -> None:
    deadline = time.monotonic() + 10
    while len(runs(log)) < count and time.monotonic() < deadline:
        time.sleep(0.01)


def test_an_answer_started_ahead_is_taken_once(programs, tmp_path):
    bin_dir, log = programs
    inspect = [str(bin_dir / "docker"), "image", "inspect", "app:dev"]
    assert process.start_ahead(inspect)
    wait_for(log, 1)
    done = process.run(inspect, 30)
    assert (done.returncode, done.stdout) == (0, "docker image inspect app:dev\n")
    assert runs(log) == ["docker image inspect app:dev"]
    process.run(inspect, 30)  # taken already: asked again
    assert len(runs(log)) == 2


def test_only_the_same_command_in_the_same_directory_takes_it(programs, tmp_path):
    bin_dir, log = programs
    check = [str(bin_dir / "uv"), "lock", "--check"]
    process.start_ahead(check, cwd=tmp_path)
    wait_for(log, 1)
    process.start(check, 30)()  # another directory (the current one)
    process.start([*check, "--offline"], 30, cwd=tmp_path)()
    assert len(runs(log)) == 3
    assert process.start(check, 30, cwd=tmp_path)().stdout == "uv lock --check\n"
    assert len(runs(log)) == 3


def test_only_read_only_verbs_start_ahead(programs):
    bin_dir, _log = programs
    docker = str(bin_dir / "docker")
    assert not process.start_ahead([docker, "image", "tag", "a", "b"])
    assert not process.start_ahead([docker, "buildx", "build", "."])
    assert not process.start_ahead([str(bin_dir / "uv"), "lock"])


def test_a_build_drops_the_snapshots_but_not_the_answers_by_image_id(programs, tmp_path):
    bin_dir, log = programs
    docker = str(bin_dir / "docker")
    by_tag = [docker, "image", "inspect", "--format", "{{.Id}}", "app:dev"]
    by_id = [docker, "image", "history", "--format", "{{json .}}", IMAGE_ID]
    process.start_ahead(by_tag)
    process.start_ahead(by_id)
    wait_for(log, 2)
    process.stream([docker, "buildx", "build", "."], lambda _line: None)
    process.run(by_tag, 30)
    process.run(by_id, 30)
    assert runs(log)[2:] == [
        "docker buildx build .",
        "docker image inspect --format {{.Id}} app:dev",  # asked again after the build
    ]


def test_a_change_drops_every_answer(programs):
    bin_dir, log = programs
    docker = str(bin_dir / "docker")
    by_id = [docker, "image", "history", IMAGE_ID]
    process.start_ahead(by_id)
    wait_for(log, 1)
    process.run([docker, "image", "rm", IMAGE_ID], 30)
    process.run(by_id, 30)
    assert runs(log)[1:] == [f"docker image rm {IMAGE_ID}", f"docker image history {IMAGE_ID}"]


def test_read_only_commands_keep_the_snapshots(programs):
    bin_dir, log = programs
    docker = str(bin_dir / "docker")
    by_tag = [docker, "image", "inspect", "app:dev"]
    process.start_ahead(by_tag)
    wait_for(log, 1)
    process.run([docker, "buildx", "inspect"], 30)
    process.run(by_tag, 30)
    assert runs(log)[1:] == ["docker buildx inspect"]


def test_what_an_image_id_fixes():
    docker = "/usr/bin/docker"
    layers = [docker, "image", "inspect", "--format", "{{json .RootFS.Layers}}", IMAGE_ID]
    assert process.by_image_id(layers)
    assert process.by_image_id([docker, "image", "history", "--no-trunc", IMAGE_ID])
    # its tags move: a snapshot
    assert not process.by_image_id([docker, "image", "inspect", "--format", "{{json .}}", IMAGE_ID])
    assert not process.by_image_id([docker, "image", "inspect", IMAGE_ID])
    assert not process.by_image_id([*layers[:5], "app:dev"])
    assert not process.by_image_id([*layers, "app:dev"])


def test_a_failed_answer_about_an_image_id_is_asked_again(programs):
    """(the image may exist by now: a build made it)"""
    bin_dir, log = programs
    docker = str(bin_dir / "docker")
    assert not process.by_image_id([docker, "image", "inspect", IMAGE_ID, "app:dev"])
    # the script fails on "missing" (here the --format value, not an image)
    failing = [docker, "image", "history", "--format", "missing", IMAGE_ID]
    assert process.by_image_id(failing)
    process.start_ahead(failing)
    wait_for(log, 1)
    assert process.start(failing, 30)().returncode == 1
    assert len(runs(log)) == 2


def test_stop_ahead_stops_what_was_not_taken_and_returns_what_was_asked(programs):
    bin_dir, _log = programs
    docker = str(bin_dir / "docker")
    process.record_asked()
    process.start_ahead([docker, "image", "inspect", "never-asked"])
    process.run([docker, "image", "inspect", "asked"], 30)
    process.run([docker, "image", "tag", "a", "b"], 30)  # not a verb of AHEAD
    assert process.stop_ahead() == [([docker, "image", "inspect", "asked"], None)]
    assert process.stop_ahead() == []  # recording ended


def test_the_record_starts_next_time_what_this_invocation_asked(programs, tmp_path):
    bin_dir, log = programs
    docker = str(bin_dir / "docker")
    inspect = [docker, "image", "inspect", "app:dev"]
    argv = ["build", ".", "-t", "app:dev"]
    first = prefetch.Prefetch(argv, tmp_path, cwd="/project")
    first.begin()
    assert first.started == []
    process.run(inspect, 30)
    first.end()
    record = json.loads((tmp_path / prefetch.FILE_NAME).read_text())
    assert record[first.key]["commands"] == [{"argv": inspect, "cwd": None}]
    # -q and --json print differently but ask the same: the same record
    second = prefetch.Prefetch(["-q", *argv, "--json"], tmp_path, cwd="/project")
    assert second.key == first.key
    second.begin()
    assert second.started == [{"argv": inspect, "cwd": None}]
    wait_for(log, 2)
    process.run(inspect, 30)
    second.end()
    assert len(runs(log)) == 2  # the second run's inspect was the one started ahead
    other = prefetch.Prefetch(argv, tmp_path, cwd="/elsewhere")
    other.begin()
    assert other.started == []


def test_the_record_starts_only_this_runs_programs_and_verbs(programs, tmp_path):
    bin_dir, _log = programs
    prefetch_file = tmp_path / prefetch.FILE_NAME
    run = prefetch.Prefetch(["build"], tmp_path, cwd="/p")
    entries = [
        {"argv": ["/usr/local/bin/not-docker", "image", "inspect", "x"], "cwd": None},
        {"argv": [str(tmp_path / "docker"), "image", "inspect", "x"], "cwd": None},
        {"argv": [str(bin_dir / "docker"), "image", "rm", "x"], "cwd": None},
        {"argv": [str(bin_dir / "uv"), "lock", "--check"], "cwd": str(tmp_path / "gone")},
        {"argv": "docker image inspect x", "cwd": None},
        {"argv": [str(bin_dir / "docker"), "image", "inspect", "ok"], "cwd": None},
    ]
    prefetch_file.write_text(json.dumps({run.key: {"at": 1, "commands": entries}}))
    run.begin()
    assert run.started == [entries[-1]]


def test_no_prefetch_starts_nothing(programs, tmp_path, monkeypatch):
    monkeypatch.setenv(prefetch.OFF, "1")
    assert prefetch.begin(["build"]) is None


def test_an_unreadable_record_is_no_record(programs, tmp_path):
    (tmp_path / prefetch.FILE_NAME).write_text("{not json")
    run = prefetch.Prefetch(["build"], tmp_path, cwd="/p")
    run.begin()
    assert run.started == []
    run.end()  # nothing asked: nothing kept, and no error
