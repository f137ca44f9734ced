"""uvbuild.docker.facts.build_output: what a build's output says (the failed step and
its error, a full disk, heavy packages of the base installed again)."""

from __future__ import annotations

from uvbuild.docker.facts.build_output import disk_full, failing_step, wasted_base


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


def test_wasted_base_warns_on_a_reinstalled_heavy_package():
    lines = ["#9 1.2 Installed 2 packages in 3ms", "#9 1.2  + fake-torch==2.0.0", " + six==1.0"]
    (warning,) = wasted_base(lines, ["fake-torch"], "/opt/venv")
    assert "fake-torch" in warning and "reinstalled" in warning
    assert "six" not in warning


def test_wasted_base_normalises_names():
    (warning,) = wasted_base([" - Fake_Torch==1.0", " + Fake_Torch==2.0"], ["fake-torch"], "/v")
    assert "heavy package(s) from the base: fake-torch;" in warning


def test_wasted_base_warns_on_a_recreated_venv():
    lines = ["#9 0.3 Removed virtual environment at: /opt/venv", " + fake-torch==2.0.0"]
    (warning,) = wasted_base(lines, ["fake-torch"], "/opt/venv")
    assert "recreated the virtual environment /opt/venv" in warning


def test_wasted_base_is_silent_for_light_packages():
    lines = [" + six==1.17.0", " - idna==3.9", " + idna==3.10", "Resolved 12 packages"]
    assert wasted_base(lines, ["fake-torch", "nvidia-cublas-cu12"], "/opt/venv") == []


def test_wasted_base_leaves_out_the_layer_stages():
    lines = [
        "#14 [uvbuild-layers-light-1 4/4] RUN uv venv --prompt synthapp /opt/venv",
        "#14 0.171 Creating virtual environment at: /opt/venv",
        "#14 0.3  + midpkg-a==1.0.0",
        "#15 [uvbuild-deps 3/3] RUN uv sync --frozen --no-install-project",
        "#15 0.4  + six==1.17.0",
    ]
    assert wasted_base(lines, ["midpkg-a"], "/opt/venv") == []
    (warning,) = wasted_base([*lines, "#15 0.5  + midpkg-a==1.0.0"], ["midpkg-a"], "/opt/venv")
    assert "midpkg-a" in warning
