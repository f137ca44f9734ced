"""uvbuild.core.render.run_instructions: the index secrets mounted into every RUN that runs uv."""

from __future__ import annotations

from tests.core.plans import PYPI, TORCH_INDEX
from tests.core.render.stages import stage
from uvbuild.core import render
from uvbuild.core.render import dockerfile_names


def test_every_uv_run_mounts_the_secrets_and_exports_them_in_its_shell(private):
    text = render.dockerfile(private)
    # the only ARGs are uv's Python mirrors; no credential is an ARG
    assert "ENV UV_INDEX" not in text and "ARG UV_INDEX" not in text
    assert {line for line in text.splitlines() if line.startswith("ARG ")} == {
        f"ARG {name}" for name in dockerfile_names.PYTHON_MIRRORS
    }
    for name in ("uvbuild-base", "uvbuild-deps", "uvbuild-app"):
        body = stage(text, name)
        run = body[body.rindex("\nRUN ") :]
        assert "--mount=type=secret,id=uv-index-pytorch-username \\" in run
        assert "--mount=type=secret,id=uv-index-pytorch-password \\" in run
        assert (
            "if [ -f /run/secrets/uv-index-pytorch-password ]; then export "
            'UV_INDEX_PYTORCH_PASSWORD="$(cat /run/secrets/uv-index-pytorch-password)"; fi'
        ) in run
        # the exports come before uv runs, in the same shell
        assert run.index("export UV_INDEX_PYTORCH_USERNAME") < run.index(" uv ")
    base = stage(text, "uvbuild-base")
    # the named index: uv matches the credentials by its name
    assert f"--default-index pytorch={TORCH_INDEX} -r" in base
    assert f"--index-url {PYPI} -r" in base  # the other index needs none
    assert "-path /run/secrets " in base  # never touched by the clamp
