"""Trust nothing by name (issue #11, item 5), on a real engine and the local registry.

A base tag holds 16 hex digits of the base key, and anyone can tag or push an image under
that name. uvbuild uses a base found by its tag only when its ``io.uvbuild.key`` label is
the plan's full key: another image under the tag in the engine is built over (the tag
moves to the new base), another image under the tag in the registry stops the build with
one line and exit 2, before anything is built or pushed.

Each test makes its own base repository: the local ones are removed afterwards, the
registry ones (``127.0.0.1:5000/uvbuild-test/<uuid>/base``) have their manifests deleted
(the ``pushed`` fixture).
"""

from __future__ import annotations

import json
import os
import subprocess
import uuid
from pathlib import Path

from tests import synth
from tests.integration.helpers import (
    MANIFEST_TYPES,
    api,
    docker,
    error_lines,
    image_exists,
    plan_base,
    registry_tags,
    unique_repo,
)
from tests.integration.uvrun import uvbuild as run_uvbuild

OTHER_KEY = "0" * 64


def uvbuild(*args: str) -> subprocess.CompletedProcess[str]:
    return run_uvbuild(*args, timeout=600, env={**os.environ, "NO_COLOR": "1"})


def key_label(ref: str) -> str | None:
    labels = json.loads(docker("image", "inspect", "--format", "{{json .Config.Labels}}", ref))
    return (labels or {}).get("io.uvbuild.key")


def manifest_digest(host: str, name: str, tag: str) -> str | None:
    status, headers, _ = api(
        host, f"/v2/{name}/manifests/{tag}", "HEAD", {"Accept": MANIFEST_TYPES}
    )
    return (
        {k.lower(): v for k, v in headers.items()}.get("docker-content-digest")
        if status == 200
        else None
    )


def test_a_local_tag_holding_another_image_is_rebuilt(
    small_project, base_images: dict[str, str], image_cleanup
) -> None:
    app = small_project(unique_repo("trust"))
    base = plan_base(app.path)
    tag = image_cleanup.tag("app")
    # An unrelated image (the python image, no io.uvbuild.key label) under the base tag.
    docker("tag", base_images["python_image"], image_cleanup.add(base["tag"]))

    proc = uvbuild("build", "--network", "host", "--json", "-t", tag, str(app.path))

    assert proc.returncode == 0, proc.stderr[-4000:]
    summary = json.loads(proc.stdout)
    assert summary["base"]["action"] == "rebuilt"
    warning = f"base {base['tag']} in the engine is not this plan's base (no io.uvbuild.key label"
    assert warning in proc.stderr
    assert [w for w in summary["warnings"] if w.startswith(warning)]
    assert "==> building base" in proc.stderr
    # The tag moved to the new base; the python image keeps its own tag.
    assert key_label(base["tag"]) == base["key"]
    assert image_exists(base_images["python_image"])
    assert synth.installed_distributions(tag) == synth.expected_distributions(app.path)

    again = uvbuild("-v", "build", "--network", "host", "--json", "-t", tag, str(app.path))
    assert again.returncode == 0, again.stderr[-4000:]
    assert json.loads(again.stdout)["base"]["action"] == "reused"
    assert "is not this plan's base" not in again.stderr
    # The label comes with the existence check: one docker call finds and trusts the base.
    before_app = again.stderr.partition("building the app")[0]
    looks = [
        line for line in before_app.splitlines() if line.startswith("$ ") and base["tag"] in line
    ]
    assert len(looks) == 1 and "image inspect --format" in looks[0]
    assert "{{json .Config.Labels}}" in looks[0]


def test_a_registry_tag_holding_another_image_is_refused(
    small_project, pushed, registry: str, image_cleanup, tmp_path: Path
) -> None:
    base_repo = pushed()
    name = base_repo.split("/", 1)[1]
    app = small_project(base_repo)
    base = plan_base(app.path)
    tag16 = base["tag"].rsplit(":", 1)[1]
    # Someone else's image under the base tag in the registry: a one-file image labelled
    # with another key, pushed, then dropped from the engine (a "second machine").
    context = tmp_path / "other"
    context.mkdir()
    (context / "other.txt").write_text(f"not a uvbuild base {uuid.uuid4().hex}\n")
    (context / "Dockerfile").write_text(
        f'FROM scratch\nCOPY other.txt /\nLABEL io.uvbuild.key="{OTHER_KEY}"\n'
    )
    docker("buildx", "build", "--builder", "default", "--load", "-t", base["tag"], str(context))
    docker("push", base["tag"])
    docker("image", "rm", base["tag"])
    digest = manifest_digest(registry, name, tag16)
    assert digest and registry_tags(registry, name) == [tag16]
    tag = image_cleanup.tag("app")
    image_cleanup.add(base["tag"])

    for flags in ((), ("--push-base",), ("--push-base", "--rebuild-base")):
        proc = uvbuild("build", "--network", "host", *flags, "-t", tag, str(app.path))

        assert proc.returncode == 2, (flags, proc.stderr[-4000:])
        assert "Traceback" not in proc.stderr
        (line,) = error_lines(proc.stderr)
        assert proc.stderr.rstrip().endswith(line)
        assert line.startswith(f"error: base {base['tag']} in the registry is not this plan's base")
        assert f"io.uvbuild.key {OTHER_KEY}" in line and base["key"] in line
        assert "--base-repo (tool.uvbuild.base-repo)" in line
        # Nothing was built, tagged or pushed: the registry's tag is the other image still.
        assert "==> building" not in proc.stderr and "==> pushing" not in proc.stderr
        assert not image_exists(base["tag"]) and not image_exists(tag)
        assert registry_tags(registry, name) == [tag16]
        assert manifest_digest(registry, name, tag16) == digest
