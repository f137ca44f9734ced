"""uvbuild.docker.engine without an engine: a fake `docker` script streams, fails and is
interrupted; a missing docker CLI."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from tests.fakes import docker_on_path
from uvbuild.docker.engine import Engine
from uvbuild.docker.facts.faults import FIX_CLI, FIX_DISK, FIX_ENGINE
from uvbuild.docker.requests import BuildRequest
from uvbuild.errors import BuildFailed, ConfigError, EngineUnavailable, Interrupted

# -- the build child: streaming, failure, interrupts (a fake `docker` script, no engine) ---------

FAKE_DOCKER = """#!/bin/sh
# A stand-in for `docker buildx build`: prints, then waits; records the signal it gets.
trap 'echo "got $SIG" > "$MARK"; kill $child 2>/dev/null; exit 1' INT TERM
echo "#1 [internal] load build definition"
if [ "$MODE" = fail ]; then
  echo " > [uvbuild-base 2/2] RUN false:"
  echo "0.1 error: boom"
  echo "------"
  echo "ERROR: failed to solve: process did not complete successfully: exit code: 1"
  exit 1
fi
if [ "$MODE" = full ]; then
  echo " > [uvbuild-base 3/3] RUN uv pip install:"
  echo "0.4 error: Failed to write to the cache: No space left on device (os error 28)"
  echo "------"
  echo "ERROR: failed to solve: process did not complete successfully: exit code: 2"
  exit 1
fi
if [ "$MODE" = wait ]; then
  echo "#2 [uvbuild-base 2/2] RUN uv pip install"
  sleep 30 &
  child=$!
  wait
fi
exit 0
"""


@pytest.fixture
def fake_docker(tmp_path, monkeypatch):
    docker_on_path(tmp_path, monkeypatch, FAKE_DOCKER.replace("$SIG", "signal"))
    monkeypatch.setenv("MARK", str(tmp_path / "mark"))
    return tmp_path / "mark"


def test_build_streams_the_output(fake_docker, monkeypatch):
    monkeypatch.setenv("MODE", "ok")
    lines: list[str] = []
    Engine().build(BuildRequest(context="."), lines.append, step="the base build")
    assert lines == ["#1 [internal] load build definition"]


def test_failed_build_names_the_step(fake_docker, monkeypatch):
    monkeypatch.setenv("MODE", "fail")
    with pytest.raises(BuildFailed) as info:
        Engine().build(BuildRequest(context="."), lambda _line: None, step="the base build")
    assert str(info.value) == "the base build failed: [uvbuild-base 2/2] RUN false: 0.1 error: boom"


def test_build_out_of_disk_space_says_the_engine_disk_is_full(fake_docker, monkeypatch):
    monkeypatch.setenv("MODE", "full")
    with pytest.raises(BuildFailed) as info:
        Engine().build(BuildRequest(context="."), lambda _line: None, step="the base build")
    assert str(info.value) == (
        "the base build failed: the engine's disk is full (0.4 error: Failed to write to the "
        f"cache: No space left on device); {FIX_DISK}"
    )
    assert "uvbuild gc" in FIX_DISK and "docker builder prune" in FIX_DISK


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, IndexError):
        return False
    return state != "Z"


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="needs /proc")
@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_interrupted_build_stops_the_child_group(fake_docker, monkeypatch, signum):
    """The CLI's handler raises Interrupted in the main thread; the build forwards the
    signal to the child's process group and returns only once the group is gone."""
    monkeypatch.setenv("MODE", "wait")
    children: list[int] = []

    def on_signal(number, _frame):
        raise Interrupted(f"interrupted by {signal.Signals(number).name}", number)

    def on_line(line: str) -> None:
        if "RUN" in line:
            time.sleep(0.1)  # the script's `sleep` has started
            children.extend(_group(roots[0]))
            threading.Timer(0.2, os.kill, (os.getpid(), signum)).start()

    roots: list[int] = []
    real_popen = subprocess.Popen

    def popen(*args, **kwargs):
        process = real_popen(*args, **kwargs)
        roots.append(process.pid)
        return process

    monkeypatch.setattr(subprocess, "Popen", popen)
    previous = signal.signal(signum, on_signal)
    try:
        with pytest.raises(Interrupted) as info:
            Engine().build(BuildRequest(context="."), on_line, step="the base build")
    finally:
        signal.signal(signum, previous)
    assert info.value.exit_code == 128 + signum
    assert fake_docker.read_text().strip() == "got signal"
    assert roots[0] in children and len(children) >= 2  # the script and its sleep
    assert not [pid for pid in children if _alive(pid)]


# -- a missing docker CLI --------------------------------------------------------------------


def test_missing_cli_is_engine_unavailable(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    engine = Engine()
    assert engine.docker_path() is None
    for verb in (engine.check, engine.engine_info, engine.buildx_version, engine.inspect_builder):
        with pytest.raises(EngineUnavailable) as info:
            verb()
        assert str(info.value) == f"the docker CLI (docker) is not on PATH; {FIX_CLI}"
    with pytest.raises(EngineUnavailable):
        engine.image_exists("x:y")
    # a dry run still prints the commands a user would type
    assert engine.command_line(["buildx", "build", "."]) == "docker buildx build ."


def _group(pgid: int) -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                if os.getpgid(int(entry.name)) == pgid:
                    pids.append(int(entry.name))
    return pids


# -- the labels of a base, in the engine and in its registry (#11, item 5) ------------------

INSPECTING_DOCKER = """#!/bin/sh
# A stand-in for `docker image inspect` and `docker buildx imagetools inspect`.
echo "$*" >> "$CALLS"
case "$*" in
  image\\ inspect\\ --format\\ *labels*\\ base:labelled)
    echo '{"labels":{"io.uvbuild.key":"'"$KEY"'","io.uvbuild.base":"1"},"layers":["sha256:l"]}' ;;
  image\\ inspect\\ --format\\ *labels*\\ base:bare)
    echo '{"labels":null,"layers":[]}' ;;
  image\\ inspect\\ --format\\ *labels*\\ Bad:Ref)
    echo "invalid reference format: repository name (library/Bad) must be lowercase" >&2
    exit 1 ;;
  image\\ inspect\\ --format\\ *labels*\\ base:down)
    echo "Cannot connect to the Docker daemon at unix:///x.sock. Is the docker daemon running?" >&2
    exit 1 ;;
  image\\ inspect\\ --format\\ *labels*\\ base:gone)
    echo "Error response from daemon: No such image: base:gone" >&2; exit 1 ;;
  "image inspect --format {{json .RootFS.Layers}} base:labelled") echo '["sha256:fresh"]' ;;
  "image tag sha256:new base:labelled") ;;
  "buildx imagetools inspect --format {{json .}} r:5000/b:t")
    echo '{"manifest": {"digest": "sha256:d"}, "image": {"rootfs": {"diff_ids": ["sha256:l"]},'
    echo ' "config": {"Labels": {"io.uvbuild.key": "'"$KEY"'"}}}}' ;;
  "buildx imagetools inspect --raw r:5000/b:t") echo '{"layers": [{"size": 7}]}' ;;
  *) echo "unexpected: $*" >&2; exit 2 ;;
esac
"""


@pytest.fixture
def inspecting_docker(tmp_path, monkeypatch):
    docker_on_path(tmp_path, monkeypatch, INSPECTING_DOCKER)
    monkeypatch.setenv("CALLS", str(tmp_path / "calls"))
    monkeypatch.setenv("KEY", "k" * 64)
    return tmp_path / "calls"


def test_image_labels_answers_existence_and_labels_in_one_call(inspecting_docker):
    engine = Engine()
    assert engine.image_labels("base:labelled") == {
        "io.uvbuild.base": "1",
        "io.uvbuild.key": "k" * 64,
    }
    assert engine.image_labels("base:bare") == {}
    assert engine.image_labels("base:gone") is None
    assert len(inspecting_docker.read_text().splitlines()) == 3
    # the layers came with the labels: the layer report asks no more
    assert engine.diff_ids("base:labelled") == ["sha256:l"] and engine.diff_ids("base:bare") == []
    assert len(inspecting_docker.read_text().splitlines()) == 3
    engine.tag("sha256:new", "base:labelled")  # uvbuild moved the tag: asked again
    assert engine.diff_ids("base:labelled") == ["sha256:fresh"]


def test_image_labels_without_an_engine_says_so_as_check_does(inspecting_docker, monkeypatch):
    # a run that took the builder's kept answer learns here that the engine is down
    monkeypatch.setenv("DOCKER_HOST", "unix:///x.sock")
    with pytest.raises(EngineUnavailable) as info:
        Engine().image_labels("base:down")
    assert str(info.value).startswith(
        "no Docker engine answers at DOCKER_HOST=unix:///x.sock (Cannot connect to the Docker"
    )
    assert str(info.value).endswith(FIX_ENGINE)


def test_image_labels_of_a_malformed_ref_is_a_config_error(inspecting_docker):
    with pytest.raises(ConfigError, match="'Bad:Ref' is not a valid image reference"):
        Engine().image_labels("Bad:Ref")


def test_registry_image_carries_the_config_labels(inspecting_docker):
    image = Engine().registry_image("r:5000/b:t", "linux/amd64")
    assert image is not None
    assert image.label("io.uvbuild.key") == "k" * 64
    assert (image.digest, image.diff_ids, image.layer_bytes) == ("sha256:d", ("sha256:l",), 7)


# -- the digests of the images a base starts from (#11, item 4) ------------------------------

DIGEST_DOCKER = """#!/bin/sh
# A stand-in for `docker image inspect` and `imagetools inspect` of images' digests.
echo "$*" >> "$CALLS"
case "$*" in
  image\\ inspect*\\ local:1\\ built:1)
    echo '{"id":"sha256:aaaa","repo-digests":["other/x@sha256:oooo","local@sha256:rrrr"]}'
    echo '{"id":"sha256:bbbb","repo-digests":[]}' ;;
  image\\ inspect*\\ local:1\\ nowhere:1)
    echo '{"id":"sha256:aaaa","repo-digests":["other/x@sha256:oooo","local@sha256:rrrr"]}'
    echo "Error: No such image: nowhere:1" >&2; exit 1 ;;
  image\\ inspect*\\ local:1)
    echo '{"id":"sha256:aaaa","repo-digests":["other/x@sha256:oooo","local@sha256:rrrr"]}' ;;
  image\\ inspect*\\ built:1) echo '{"id":"sha256:bbbb","repo-digests":[]}' ;;
  image\\ inspect*\\ dead:1)
    echo "Cannot connect to the Docker daemon at unix:///x.sock. Is the docker daemon running?" >&2
    exit 1 ;;
  image\\ inspect*) echo "Error response from daemon: No such image: $7" >&2; exit 1 ;;
  *imagetools\\ inspect*\\ local:1) echo '{"digest": "sha256:upup", "size": 1}' ;;
  *imagetools\\ inspect*\\ remote:1) echo '{"digest": "sha256:rere", "size": 1}' ;;
  *imagetools\\ inspect*\\ offline:1)
    echo 'ERROR: failed to do request: dial tcp: lookup registry-1.docker.io: no such host' >&2
    exit 1 ;;
  *imagetools\\ inspect*) echo "ERROR: docker.io/library/$7: not found" >&2; exit 1 ;;
  *) echo "unexpected: $*" >&2; exit 2 ;;
esac
"""


@pytest.fixture
def digest_docker(tmp_path, monkeypatch):
    docker_on_path(tmp_path, monkeypatch, DIGEST_DOCKER)
    monkeypatch.setenv("CALLS", str(tmp_path / "calls"))
    return tmp_path / "calls"


def test_image_digest_prefers_the_engine_then_the_registry(digest_docker):
    engine = Engine()
    assert engine.image_digest("local:1") == "sha256:rrrr"  # its repo digest for that name
    assert engine.image_digest("built:1") == "sha256:bbbb"  # a local build: the image ID
    assert engine.image_digest("remote:1") == "sha256:rere"
    assert engine.image_digest("nowhere:1") is None
    assert len(digest_docker.read_text().splitlines()) == 6  # 2 + 2 + 1 + 1


def test_image_digest_with_pull_asks_the_registry_first(digest_docker):
    engine = Engine()
    assert engine.image_digest("local:1", pull=True) == "sha256:upup"
    assert engine.image_digest("built:1", pull=True) == "sha256:bbbb"  # not in the registry


def test_image_digest_without_an_answer_is_engine_unavailable(digest_docker, monkeypatch):
    monkeypatch.setenv("DOCKER_HOST", "unix:///x.sock")
    with pytest.raises(EngineUnavailable, match="no Docker engine answers at DOCKER_HOST"):
        Engine().image_digest("dead:1")
    with pytest.raises(EngineUnavailable, match=r"registry docker\.io did not answer"):
        Engine().image_digest("offline:1")


def test_image_digests_ask_the_engine_once_for_all(digest_docker):
    got = Engine().image_digests(["local:1", "built:1", "local:1"])
    assert got == {"local:1": "sha256:rrrr", "built:1": "sha256:bbbb"}
    assert len(digest_docker.read_text().splitlines()) == 1


def test_image_digests_ask_one_by_one_when_the_engine_lacks_one(digest_docker):
    got = Engine().image_digests(["local:1", "nowhere:1"])
    assert got == {"local:1": "sha256:rrrr", "nowhere:1": None}
    asked = digest_docker.read_text().splitlines()
    # the joint inspect, then each alone, then the registry for the one the engine lacks
    assert len(asked) == 4 and "imagetools" in asked[-1] and asked[-1].endswith("nowhere:1")


def test_image_digests_with_pull_ask_the_registry_first(digest_docker):
    got = Engine().image_digests(["local:1", "built:1"], pull=True)
    assert got == {"local:1": "sha256:upup", "built:1": "sha256:bbbb"}


# -- the builder, images and layers as docker commands: no python-on-whales ---------------------

BUILDER_DOCKER = """#!/bin/sh
echo "$*" >> "$CALLS"
case "$*" in
  buildx\\ inspect\\ gone)
    echo 'ERROR: no builder "gone" found' >&2; exit 1 ;;
  buildx\\ inspect\\ odd) echo "something else entirely" ;;
  buildx\\ inspect\\ box)
    cat <<'TEXT'
Name:          box
Driver:        docker-container
Last Activity: 2026-12-01 10:00:00 +0000 UTC

Nodes:
Name:      box0
Endpoint:  unix:///var/run/docker.sock
Status:    inactive
Platforms:
TEXT
    ;;
  buildx\\ inspect*)
    cat <<'TEXT'
Name:          default
Driver:        docker
Last Activity: 2026-12-01 10:00:00 +0000 UTC

Nodes:
Name:             default
Endpoint:         default
Status:           running
BuildKit version: v0.13.1
Platforms:        linux/amd64, linux/amd64/v2, linux/386
Labels:
 org.mobyproject.buildkit.worker.moby.host-gateway-ip: 172.17.0.1
GC Policy rule#0:
 All:           false
TEXT
    ;;
  image\\ inspect*RootFS*\\ app:1) echo '["sha256:l1","sha256:l2"]' ;;
  image\\ inspect*repo-digests*\\ app:1) echo '{"id":"sha256:app","repo-digests":[]}' ;;
  image\\ inspect*\\ Bad:1)
    echo 'invalid reference format: repository name must be lowercase' >&2; exit 1 ;;
  image\\ inspect*\\ app:1) echo 'sha256:app' ;;
  image\\ inspect*) echo "Error: No such image: missing:1" >&2; exit 1 ;;
  image\\ history*)
    echo '{"CreatedBy":"RUN uv sync","Size":"2000"}'
    echo '{"CreatedBy":"COPY . . # buildkit","Size":"0"}'
    echo '{"CreatedBy":"ENV A=1","Size":"0"}' ;;
  image\\ tag\\ app:1\\ Bad:2)
    echo 'Error parsing reference: "Bad:2": invalid reference format' >&2
    exit 1 ;;
  image\\ tag*) ;;
  *) echo "unexpected: $*" >&2; exit 2 ;;
esac
"""


@pytest.fixture
def builder_docker(tmp_path, monkeypatch):
    docker_on_path(tmp_path, monkeypatch, BUILDER_DOCKER)
    monkeypatch.setenv("CALLS", str(tmp_path / "calls"))
    return tmp_path / "calls"


def test_check_is_one_buildx_inspect_and_keeps_the_platforms(builder_docker):
    engine = Engine()
    info = engine.check()
    assert (info.name, info.driver, info.buildkit, info.running) == (
        "default",
        "docker",
        "v0.13.1",
        True,
    )
    assert engine.builder_platforms() == ("linux/amd64", "linux/amd64/v2", "linux/386")
    assert builder_docker.read_text().splitlines() == ["buildx inspect"]  # no `buildx ls`


def test_an_inactive_container_builder_counts_as_running(builder_docker):
    info = Engine(builder="box").inspect_builder()
    assert (info.driver, info.running) == ("docker-container", True)
    assert Engine(builder="box").builder_platforms() == ()


def test_a_missing_builder_names_it_and_the_fix(builder_docker):
    with pytest.raises(EngineUnavailable) as info:
        Engine(builder="gone").inspect_builder()
    assert str(info.value).startswith(
        "buildx builder 'gone' cannot be used (ERROR: no builder \"gone\" found); list builders"
    )


def test_a_builder_text_that_does_not_read_is_asked_through_python_on_whales(builder_docker):
    # python-on-whales reads the name from the first line, then looks for it in `buildx ls`,
    # which this stand-in does not know: the answer is that the builder cannot be used
    with pytest.raises(Exception):  # noqa: B017 -- whatever python-on-whales raises
        Engine(builder="odd").check()
    assert builder_docker.read_text().splitlines()[:2] == ["buildx inspect odd"] * 2


def test_images_tags_and_layers_are_docker_commands(builder_docker):
    engine = Engine()
    assert engine.image_exists("app:1") and not engine.image_exists("missing:1")
    with pytest.raises(ConfigError, match="'Bad:1' is not a valid image reference"):
        engine.image_exists("Bad:1")
    assert engine.diff_ids("app:1") == ["sha256:l1", "sha256:l2"]
    with pytest.raises(BuildFailed, match="image missing:1 is not in the engine"):
        engine.diff_ids("missing:1")
    layers = engine.image_layers("app:1")
    assert [(x.diff_id, x.size, x.created_by) for x in layers] == [
        ("sha256:l1", 0, "COPY . . # buildkit"),
        ("sha256:l2", 2000, "RUN uv sync"),
    ]
    engine.tag("app:1", "app:2")
    with pytest.raises(ConfigError, match="'Bad:2' is not a valid image reference"):
        engine.tag("app:1", "Bad:2")


def test_a_build_loads_no_python_on_whales(builder_docker, tmp_path):
    code = (
        "import sys; from uvbuild.docker.engine import Engine; e = Engine(); e.check(); "
        "e.image_digests(['app:1']); e.image_layers('app:1'); e.tag('app:1', 'a:2'); "
        "print('python_on_whales' in sys.modules, 'pydantic' in sys.modules)"
    )
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True
    )
    assert done.stdout.split() == ["False", "False"]


def test_a_build_forgets_the_layers_seen_under_the_tags_it_writes(fake_docker, monkeypatch):
    monkeypatch.setenv("MODE", "ok")
    engine = Engine()
    engine._seen_layers.update({"app:1": ("sha256:x",), "base:1": ("sha256:y",)})
    engine.build(BuildRequest(context=".", tags=("app:1",)), lambda _line: None, step="app")
    assert engine._seen_layers == {"base:1": ("sha256:y",)}
