"""uvbuild.docker.facts.build_output: what a failed build's output says (the step and its
error, a full disk)."""

from __future__ import annotations

from uvbuild.docker.facts.build_output import disk_full, failing_step


def test_failing_step_without_a_step_block_gives_the_solver_verdict():
    lines = [
        "#8 [uvbuild-deps 3/3] RUN uv sync --frozen",
        "#8 0.512 error: Failed to fetch",
        '#8 ERROR: process "/bin/sh -c uv sync" did not complete successfully: exit code: 2',
        "------",
        'ERROR: failed to solve: process "/bin/sh -c uv sync" did not complete: exit code: 2',
    ]
    assert failing_step(lines) == ('process "/bin/sh -c uv sync" did not complete: exit code: 2')


def test_failing_step_names_the_buildkit_step_and_its_error():
    lines = [
        "#9 [uvbuild-base 3/3] RUN uv venv /opt/venv && uv pip install -r heavy-1.txt",
        "#9 0.3 error: Failed to download `fake-nvidia-broken-cu12==1.0.0`",
        '#9 ERROR: process "/bin/sh -c uv venv" did not complete successfully: exit code: 2',
        "------",
        " > [uvbuild-base 3/3] RUN uv venv /opt/venv && uv pip install -r heavy-1.txt:",
        "0.3 error: Failed to download `fake-nvidia-broken-cu12==1.0.0`",
        "0.3   Caused by: HTTP status client error (404 Not Found)",
        "------",
        "Dockerfile:9",
        'ERROR: failed to solve: process "/bin/sh -c uv venv" did not complete successfully: '
        "exit code: 2",
    ]
    assert failing_step(lines) == (
        "[uvbuild-base 3/3] RUN uv venv /opt/venv && uv pip install -r heavy-1.txt: "
        "0.3 error: Failed to download `fake-nvidia-broken-cu12==1.0.0`"
    )


def test_failing_step_falls_back_to_the_step_error():
    lines = [
        "#5 [uvbuild-base 2/4] RUN uv venv /opt/venv",
        '#5 ERROR: process "/bin/sh -c uv venv" did not complete successfully: exit code: 1',
        "some trailing noise",
    ]
    assert failing_step(lines) == (
        '#5 ERROR: process "/bin/sh -c uv venv" did not complete successfully: exit code: 1'
    )


def test_failing_step_without_an_error_line():
    assert failing_step(["#1 DONE 0.1s", "all good"]) is None
    assert failing_step([]) is None


def test_disk_full_finds_enospc_in_buildkit_and_uv_words():
    assert disk_full(["#5 DONE", "ERROR: failed to solve: write /x: no space left on device"]) == (
        "failed to solve: write /x: no space left on device"
    )
    uv = "  x Failed to write to the cache: No space left on device (os error 28)"
    assert disk_full(["#7 0.3 Resolved 3 packages", uv]) == (
        "x Failed to write to the cache: No space left on device"
    )
    long = "error: " + "a/" * 120 + " no space left on device: more"
    found = disk_full([long])
    assert found is not None and found.startswith("…") and found.endswith("left on device")
    assert len(found) == 140
    cp = "#8 0.411 cp: error copying '/tmp/uv' to '/bin/uv': No space left on device"
    assert disk_full([cp]) == "cp: error copying '/tmp/uv' to '/bin/uv': No space left on device"
    assert disk_full(["ERROR: failed to solve: exit code: 1"]) is None
