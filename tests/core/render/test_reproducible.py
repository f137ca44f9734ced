"""uvbuild.core.render.reproducible: the epoch and the mtime clamp of base and layer RUNs."""

from __future__ import annotations

import os
import subprocess

from tests.core.render.stages import stage
from uvbuild.core import render
from uvbuild.core.render import dockerfile_names, reproducible


def test_every_base_and_layer_run_sets_the_epoch_and_clamps_mtimes(layered, two_indexes):
    for plan in (layered, two_indexes):
        text = render.dockerfile(plan)
        for name in [dockerfile_names.layer_stage_name(g) for g in plan.layers] + ["uvbuild-base"]:
            body = stage(text, name)
            runs = body.count("\nRUN ")
            assert runs >= 2  # uv, then the venv
            assert body.count("export SOURCE_DATE_EPOCH=") == runs
            assert body.count("find / -xdev") == runs
            assert "COPY --from=" not in body  # a COPY would date /bin with the build time
        # the app stages are the user's: no epoch there
        assert "SOURCE_DATE_EPOCH" not in stage(text, "uvbuild-deps")
        assert "SOURCE_DATE_EPOCH" not in stage(text, "uvbuild-app")
        assert "ENV SOURCE_DATE_EPOCH" not in text


def test_clamp_leaves_mounts_and_engine_files_alone(two_indexes):
    base = stage(render.dockerfile(two_indexes), "uvbuild-base")
    clamp = next(line for line in base.splitlines() if "-newer" in line and "/opt/venv" in line)
    for path in (
        "/proc",
        "/sys",
        "/dev",
        "/etc/hosts",
        "/etc/resolv.conf",
        dockerfile_names.UV_CACHE,
    ):
        assert f"-path {path} " in clamp
    assert f"-path {dockerfile_names.HEAVY_MOUNT} " in clamp
    assert "-xdev" in clamp and f"-newer {reproducible.RUN_START}" in clamp


def test_run_start_marker_clamps_what_the_run_wrote(tmp_path):
    """The find/touch of a RUN, run here on a scratch tree: new files get the epoch, older
    ones keep their time."""
    old = tmp_path / "old"
    old.write_text("x")
    os.utime(old, (1_000_000, 1_000_000))
    marker = tmp_path / "start"
    marker.write_text("")
    os.utime(marker, (2_000_000, 2_000_000))
    new = tmp_path / "dir" / "new"
    new.parent.mkdir()
    new.write_text("y")
    script = (
        f"find {tmp_path} \\( -path {marker} \\) -prune -o \\( -newer {marker} \\) "
        '-exec touch -h -d "@$SOURCE_DATE_EPOCH" {} +'
    )
    subprocess.run(["sh", "-c", script], check=True, env={**os.environ, "SOURCE_DATE_EPOCH": "5"})
    assert int(old.stat().st_mtime) == 1_000_000
    assert int(new.stat().st_mtime) == 5 and int(new.parent.stat().st_mtime) == 5
