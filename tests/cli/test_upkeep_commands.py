"""uvbuild.cli.upkeep_commands: ``doctor`` without an engine, outside a project, on a broken
project."""

from __future__ import annotations

import json

from tests.cli.projects import copy_project, no_lock
from tests.clirun import DEAD_SOCKET, PLAN_ARGS, run_main
from tests.paths import FIXTURES


def test_doctor_without_an_engine(capsys, monkeypatch):
    monkeypatch.setenv("DOCKER_HOST", DEAD_SOCKET)
    got, out, err = run_main(capsys, "doctor", str(FIXTURES / "two_indexes"), *PLAN_ARGS)
    assert got == 4
    assert "Traceback" not in out + err
    (line,) = err.splitlines()
    assert line.startswith("error: engine: no Docker engine answers at DOCKER_HOST=")
    assert "start the engine" in line
    assert any(row.startswith("fail  engine") for row in out.splitlines())
    assert out.splitlines()[-1].endswith("skipped")


def test_doctor_json_without_an_engine(capsys, monkeypatch):
    monkeypatch.setenv("DOCKER_HOST", DEAD_SOCKET)
    got, out, err = run_main(capsys, "doctor", "--json", str(FIXTURES / "two_indexes"))
    assert got == 4
    document = json.loads(out)
    assert document["schema"] == "uvbuild.doctor/1"
    assert document["ok"] is False
    failed = [c["name"] for c in document["checks"] if c["status"] == "fail"]
    assert failed == ["engine"]
    assert len(err.splitlines()) == 1


def test_doctor_outside_a_project_warns(capsys, monkeypatch, tmp_path):
    monkeypatch.setenv("DOCKER_HOST", DEAD_SOCKET)
    got, out, _err = run_main(capsys, "doctor", "--json", str(tmp_path))
    assert got == 4  # the engine, not the missing project
    project = next(c for c in json.loads(out)["checks"] if c["name"] == "project")
    assert project["status"] == "warn" and project["required"] is False


def test_doctor_on_a_broken_project_exits_with_its_code(capsys, monkeypatch, tmp_path):
    monkeypatch.setenv("DOCKER_HOST", DEAD_SOCKET)
    project = copy_project(tmp_path)
    no_lock(project)
    got, out, err = run_main(capsys, "doctor", "--json", str(project))
    assert got == 4  # the engine check comes first and fails too
    project_check = next(c for c in json.loads(out)["checks"] if c["name"] == "project")
    assert project_check["status"] == "fail" and "`uv lock`" in project_check["detail"]
    assert "(and 1 more failed check)" in err
