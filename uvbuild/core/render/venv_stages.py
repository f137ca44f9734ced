"""What the stages that hold the venv share: where they start (FROM, uv, uv's settings),
the Python uv would download (and the ``uvbuild-python`` stage that adds it), and the
venv itself.

A generated build copies uv into the image and sets uv's settings with ENV. A seed build
(the user's Dockerfile cut at its sync) keeps the user's own environment: its RUNs bind
uvbuild's uv and export uv's settings in their own shell.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Iterable

from packaging.utils import canonicalize_name

from uvbuild.core.model import BuildPlan
from uvbuild.core.render.dockerfile_names import PYTHON_MIRRORS, PYTHON_STAGE, UV_CACHE, UV_MOUNT
from uvbuild.core.render.reproducible import reproducible_steps
from uvbuild.core.render.run_instructions import run_instruction, uv_cache_mount
from uvbuild.core.user_dockerfile.seed_system import SYSTEM_STAGE

# Settings of the user's environment that would make uvbuild's installs read other
# indexes or files than the lock's (the requirements name the index of each package).
_FOREIGN_UV_SETTINGS = (
    "UV_INDEX",
    "UV_INDEX_URL",
    "UV_DEFAULT_INDEX",
    "UV_EXTRA_INDEX_URL",
    "UV_FIND_LINKS",
    "UV_CONSTRAINT",
    "UV_OVERRIDE",
    "UV_BUILD_CONSTRAINT",
    "UV_NO_BINARY",
    "UV_SYSTEM_PYTHON",
)


def venv_stage_start(plan: BuildPlan, stage: str) -> list[str]:
    """The first lines every stage that holds the venv shares (BuildKit builds them once)."""
    if plan.seed is not None:
        # the user's stage sets its own environment, which the final image keeps: uvbuild
        # adds no ENV and no /bin/uv, and its RUNs set uv's settings in their own shell
        return [f"FROM {_below(plan)} AS {stage}", *plan.system.args]
    # uv comes in by a RUN, not a COPY: a COPY into /bin/ gives the directory the time of
    # the build, and this RUN sets it to a fixed one (0: the layer holds no package).
    copy_uv = reproducible_steps(0, [f"cp {UV_MOUNT}/uv {UV_MOUNT}/uvx /bin/"], [], [UV_MOUNT])
    start = [
        f"FROM {_below(plan)} AS {stage}",
        run_instruction(
            [f"--mount=type=bind,from={plan.config.uv_image},target={UV_MOUNT}"], copy_uv
        ),
        _uv_environment(plan),
    ]
    if plan.config.python_downloads == "automatic":
        start += _python_install(plan)
    return start


def _below(plan: BuildPlan) -> str:
    """What the layer and base stages start FROM: the base image, the user's system stage,
    or the stage that adds the Python the user's sync would download."""
    if plan.system is None:
        return plan.config.resolved_base_image
    return PYTHON_STAGE if python_stage_needed(plan) else SYSTEM_STAGE


def _uv_environment(plan: BuildPlan) -> str:
    config = plan.config
    return _env_instruction(
        [
            ("UV_LINK_MODE", "copy"),
            ("UV_PYTHON_DOWNLOADS", "never"),
            ("UV_PYTHON", plan.target.python),
            ("UV_PROJECT_ENVIRONMENT", config.venv),
            ("UV_COMPILE_BYTECODE", "1" if config.compile_bytecode else "0"),
            ("VIRTUAL_ENV", config.venv),
        ]
    )


def _env_instruction(pairs: Iterable[tuple[str, str]]) -> str:
    body = " \\\n    ".join(f"{key}={_quote(value)}" for key, value in pairs)
    return f"ENV {body}"


def _quote(value: str) -> str:
    return value if re.fullmatch(r"[A-Za-z0-9_./:@+=,-]+", value) else f'"{value}"'


def python_stage_needed(plan: BuildPlan) -> bool:
    """Whether a seed build adds the stage that installs the Python the user's sync would
    download: uv may download it there and the system part does not install one."""
    seed = plan.seed
    return (
        seed is not None
        and seed.python_downloads == "automatic"
        and not plan.system.installs_python
    )


def python_stage(plan: BuildPlan) -> str:
    """``uvbuild-python``: the system part, and the interpreter the user's sync would
    download when the system part has none."""
    return "\n".join(
        [f"FROM {SYSTEM_STAGE} AS {PYTHON_STAGE}", *plan.system.args, *_python_install(plan)]
    )


def _python_install(plan: BuildPlan) -> list[str]:
    """An interpreter for the target where the image has none, as ``uv sync`` would get
    one: ``uv python find`` finds what uv would use; else ``uv python install`` (into
    UV_PYTHON_INSTALL_DIR, from the mirrors the build args name)."""
    python = shlex.quote(
        plan.seed.python_request if plan.seed and plan.seed.python_request else plan.target.python
    )
    install = (
        f"{{ uv python find {python} >/dev/null 2>&1 || "
        f"UV_PYTHON_DOWNLOADS=automatic uv python install {python}; }}"
    )
    steps = reproducible_steps(
        0, [*seed_exports(plan), install], [], [UV_CACHE, *seed_mounted_paths(plan)]
    )
    return [
        *(f"ARG {name}" for name in PYTHON_MIRRORS),
        run_instruction([uv_cache_mount(), *seed_mounts(plan)], steps),
    ]


def seed_mounts(plan: BuildPlan) -> list[str]:
    """A seed build's RUNs bind uvbuild's uv instead of copying it into the image."""
    if plan.seed is None:
        return []
    return [f"--mount=type=bind,from={plan.config.uv_image},target={UV_MOUNT}"]


def seed_mounted_paths(plan: BuildPlan) -> list[str]:
    """Where :func:`seed_mounts` mounts things, for the mtime clamp to leave out."""
    return [UV_MOUNT] if plan.seed is not None else []


def seed_exports(plan: BuildPlan) -> list[str]:
    """uv's settings for a seed build's RUN, in its own shell: the user's sync's
    interpreter and venv, uvbuild's uv first on PATH."""
    if plan.seed is None:
        return []
    python = plan.seed.python_request or plan.target.python
    pairs = [
        ("PATH", f"{UV_MOUNT}:$PATH"),
        ("UV_LINK_MODE", "copy"),
        ("UV_PYTHON", python),
        ("UV_PROJECT_ENVIRONMENT", plan.config.venv),
        ("VIRTUAL_ENV", plan.config.venv),
    ]
    exports = " ".join(f'{key}="{value}"' for key, value in pairs)
    return [f"unset {' '.join(_FOREIGN_UV_SETTINGS)}", f"export {exports}"]


def make_venv(plan: BuildPlan) -> str:
    """``uv venv`` as ``uv sync`` makes the venv: with the project's name as its prompt
    (pyvenv.cfg and the activate scripts carry it)."""
    venv = shlex.quote(plan.config.venv)
    name = canonicalize_name(plan.project_name) if plan.project_name else None
    prompt = f" --prompt {shlex.quote(name)}" if name else ""
    if plan.seed is None:
        return f"uv venv{prompt} {venv}"
    # the user's system part may have made the venv itself (`uv venv` before the sync)
    return f"{{ [ -e {venv}/pyvenv.cfg ] || uv venv{prompt} {venv}; }}"
