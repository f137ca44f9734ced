"""How a stage installs a layer's packages: ``uv pip install`` of its requirement files,
each from the index the lock records; their bytecode; and the files the install added,
gathered for a ``COPY --link``.
"""

from __future__ import annotations

import shlex
from collections.abc import Iterable

from uvbuild.core.model import BuildPlan, LayerGroup
from uvbuild.core.render.dockerfile_names import HEAVY_MOUNT
from uvbuild.core.render.requirements import HeavyFile

# The venv's listing before an install: what is not in it, the install added.
VENV_BEFORE = "/tmp/uvbuild-venv-before"


def install_commands(plan: BuildPlan, files: Iterable[HeavyFile]) -> list[str]:
    named = {url.rstrip("/"): name for name, url in plan.credential_indexes}
    commands = []
    for heavy in files:
        # uv compiles nothing here: _compile_steps does, once the files have their final
        # mtimes (see there)
        command = ["uv", "pip", "install", "--python", plan.config.venv, "--no-deps"]
        if heavy.hashed:
            command.append("--require-hashes")
        name = named.get(heavy.index.rstrip("/"))
        if name is None:
            command += ["--index-url", heavy.index]
        else:
            # a named index: uv takes its credentials from UV_INDEX_<NAME>_USERNAME/_PASSWORD
            command += ["--default-index", f"{name}={heavy.index}"]
        command += ["-r", f"{HEAVY_MOUNT}/{heavy.name}"]
        commands.append("UV_COMPILE_BYTECODE=0 " + shlex.join(command))
    return [*commands, *_compile_steps(plan)]


def _compile_steps(plan: BuildPlan) -> list[str]:
    """Bytecode for the heavy packages, as timestamp ``.pyc`` files written after every
    source file has the epoch as its mtime: each ``.pyc`` records that mtime, so it is the
    same in every build, Python accepts it without hashing the source, and the app's
    ``uv sync`` (which recompiles any ``.pyc`` whose header is not the timestamp one it
    expects, checked-hash files included) leaves it alone."""
    if not plan.config.compile_bytecode:
        return []
    venv = shlex.quote(plan.config.venv)
    return [
        f'find {venv} -exec touch -h -d "@$SOURCE_DATE_EPOCH" {{}} +',
        # uv ignores files that do not compile (test data, Python 2 leftovers): so do we
        f"{{ {venv}/bin/python -m compileall -q -j 0 --invalidation-mode timestamp "
        f"{venv}/lib || true; }}",
    ]


# A layer stage keeps exactly what its install added to the venv: every path that did not
# exist before and whose parent did (the top of each new tree: a package directory, its
# .dist-info, a console script in bin/) moves to ``target`` at the same relative place.
# The venv's own files (pyvenv.cfg, the interpreter links, activate scripts) stay behind,
# so the base keeps the ones its own `uv venv` wrote, as a single install would.
def move_added_files(target: str) -> str:
    return (
        "find . | awk 'NR == FNR { old[$0]; next } "
        '!($0 in old) { parent = $0; sub("/[^/]*$", "", parent); if (parent in old) print }\' '
        f"{VENV_BEFORE} - | \\\n"
        "    while IFS= read -r path; do "
        f'mkdir -p "{target}/${{path%/*}}" && mv "$path" "{target}/$path" || exit 1; done'
    )


def layer_comment(group: LayerGroup) -> str:
    """The comment over the stage that installs ``group``: its packages and its key."""
    packages = " ".join(c.selected.name for c in group.packages)
    return f"# layer {group.name}: {packages}\n# key {group.key}"
