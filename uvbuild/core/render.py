"""BuildPlan -> the generated Dockerfile.

The files its stages read come from :mod:`uvbuild.core.requirements` (the heavy
requirements), :mod:`uvbuild.core.credentials` (the index secrets) and
:mod:`uvbuild.core.ignore` (the ignore file).

Stages:
  uvbuild-layer-<group>  (only with two or more layer groups) one per group of heavy
                packages: the same venv as the base, that group installed, and the files
                the install added moved to /uvbuild-layer with the venv's layout
  uvbuild-base  the base image, a venv and exactly the heavy packages, installed by name
                from the index the lock records (so a later ``uv sync`` keeps them); with
                layer groups it creates the venv and takes each group's files with
                ``COPY --link``, so a group's layer does not depend on the layers below it
  uvbuild-layers-light-<n>  the light layers (grouping.pool_layers), shared out among a
                few stages (grouping.light_stages), FROM the system image, never from the
                base: each installs its layers one after the other into the venv and moves
                each one's files to /uvbuild-layer/<layer>
  uvbuild-deps  the light layers (``COPY --link``) and the pool: ``uv sync --frozen
                --no-install-project``
  uvbuild-app   the project itself: ``uv sync --frozen --no-editable``; both syncs compile
                only the files they install

The heavy requirements reach the base stage through the named context ``uvbuild-heavy``,
so nothing is written into the user's tree. When the base already exists, the app build
passes ``--build-context uvbuild-base=docker-image://<tag>``, which replaces the stage.

Reproducible base: every RUN of the base and layer stages sets ``SOURCE_DATE_EPOCH`` in its
own shell (uv's bytecode compiler then writes checked-hash ``.pyc`` files, which embed no
mtime) and ends by setting the mtime of everything it wrote to that epoch, so two builds
of one key give the same layers whether or not the engine rewrites timestamps.

Private indexes: the indexes of ``index-credentials`` get their user name and password as
BuildKit secrets, mounted as files into each RUN that runs uv and exported into uv's
environment inside that RUN's shell only.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Iterable

from packaging.utils import canonicalize_name

from uvbuild import __version__
from uvbuild.core.credentials import SECRETS_DIR, index_secrets
from uvbuild.core.hashing import LAYER_RECIPE_VERSION, RECIPE_VERSION
from uvbuild.core.model import BuildPlan, LayerGroup, Request
from uvbuild.core.requirements import (
    HeavyFile,
    heavy_files,
    layer_epoch,
    requirement_files,
    source_date_epoch,
)
from uvbuild.core.seed_system import SYSTEM_STAGE

BASE_STAGE = "uvbuild-base"
# uv's mirrors for Python downloads: build args of the stages that may install Python
PYTHON_MIRRORS = ("UV_PYTHON_INSTALL_MIRROR", "UV_PYTHON_DOWNLOADS_JSON_URL")
PYTHON_STAGE = "uvbuild-python"
LAYER_STAGE_PREFIX = "uvbuild-layer-"
LIGHT_STAGE_PREFIX = "uvbuild-layers-light-"
# Depends on every light stage and holds nothing: built (cache only) beside the base, so
# the light layers are installed while the base is, not after it.
LIGHT_WARM_STAGE = "uvbuild-layers-light"
# Where a layer stage gathers the files its install added, laid out as in the venv.
LAYER_DIR = "/uvbuild-layer"
VENV_BEFORE = "/tmp/uvbuild-venv-before"
DEPS_STAGE = "uvbuild-deps"
APP_STAGE = "uvbuild-app"
HEAVY_CONTEXT = "uvbuild-heavy"
HEAVY_MOUNT = "/tmp/uvbuild-heavy"
APP_DIR = "/app"
UV_CACHE = "/root/.cache/uv"
UV_MOUNT = "/tmp/uvbuild-uv"
# Written at the start of a base or layer RUN: what is newer was written by the RUN.
RUN_START = "/tmp/uvbuild-run-start"
LABEL_PREFIX = "io.uvbuild"
# The base key, in full: the tag holds only its first 16 hex digits, so a base found by
# tag is trusted only when this label equals the plan's key.
KEY_LABEL = f"{LABEL_PREFIX}.key"

_USES_BASE = re.compile(
    rf"^\s*FROM\s+(?:--\S+\s+)*{BASE_STAGE}(?:\s|$)"
    rf"|^\s*(?:COPY|ADD)\s+(?:--\S+\s+)*?--from={BASE_STAGE}(?:\s|$)"
    rf"|^\s*RUN\s+(?:--\S+\s+)*?--mount=\S*\bfrom={BASE_STAGE}(?:[\s,]|$)",
    re.IGNORECASE | re.MULTILINE,
)


def _mount_points(plan: BuildPlan, *others: str) -> list[str]:
    """Where a base or layer RUN mounts things: uv's cache, ``others``, the secrets."""
    return [UV_CACHE, *others, *([SECRETS_DIR] if plan.credential_indexes else [])]


def _seed_mount_points(plan: BuildPlan) -> list[str]:
    return [UV_MOUNT] if plan.seed is not None else []


def _secret_mounts(plan: BuildPlan) -> list[str]:
    return [f"--mount=type=secret,id={s.id}" for s in index_secrets(plan)]


def _secret_exports(plan: BuildPlan) -> list[str]:
    """Shell steps that give uv the mounted credentials, in this RUN's shell only."""
    return [
        f'if [ -f {s.path} ]; then export {s.env}="$(cat {s.path})"; fi'
        for s in index_secrets(plan)
    ]


def sync_flags(request: Request) -> list[str]:
    """The ``uv sync`` flags that select the same packages as the plan."""
    if request.only_dev:  # uv's order: --only-dev > --no-dev > --dev
        dev = "--only-dev"
    else:
        dev = "--no-dev" if request.no_dev else "--dev" if request.dev else ""
    # in this order: a flag with a tuple repeats once per value, one with a bool stands alone
    given: tuple[tuple[str, tuple[str, ...] | bool], ...] = (
        ("--package", request.members),
        ("--all-packages", request.all_packages),
        ("--all-extras", request.all_extras),
        ("--extra", request.extras),
        ("--group", request.groups),
        ("--only-group", request.only_groups),
        (dev, bool(dev)),
        ("--no-extra", request.no_extras),
        ("--no-group", request.no_groups),
        ("--all-groups", request.all_groups),
        ("--no-default-groups", request.no_default_groups),
    )
    flags: list[str] = []
    for flag, value in given:
        if isinstance(value, bool):
            flags += [flag] if value else []
        else:
            for item in value:
                flags += [flag, item]
    return flags


def _env(pairs: Iterable[tuple[str, str]]) -> str:
    body = " \\\n    ".join(f"{key}={_quote(value)}" for key, value in pairs)
    return f"ENV {body}"


def _quote(value: str) -> str:
    return value if re.fullmatch(r"[A-Za-z0-9_./:@+=,-]+", value) else f'"{value}"'


def _cache_mount() -> str:
    return f"--mount=type=cache,target={UV_CACHE}"


def base_labels(plan: BuildPlan) -> dict[str, str]:
    packages = " ".join(f"{s.name}=={s.version}" for s in plan.heavy)
    labels = {
        f"{LABEL_PREFIX}.base": "1",
        KEY_LABEL: plan.key,
        f"{LABEL_PREFIX}.project": plan.project_name or "",
        f"{LABEL_PREFIX}.recipe": RECIPE_VERSION,
        f"{LABEL_PREFIX}.platform": plan.target.platform,
        f"{LABEL_PREFIX}.packages": packages,
    }
    if plan.layers:
        labels[f"{LABEL_PREFIX}.layer-recipe"] = LAYER_RECIPE_VERSION
        labels[f"{LABEL_PREFIX}.layers"] = " ".join(group.name for group in plan.layers)
        for group in plan.layers:
            labels[f"{LABEL_PREFIX}.layer.{group.name}.key"] = group.key
    return labels


def layer_stage_name(group: LayerGroup) -> str:
    return f"{LAYER_STAGE_PREFIX}{group.name}"


def _base_env(plan: BuildPlan) -> str:
    config = plan.config
    return _env(
        [
            ("UV_LINK_MODE", "copy"),
            ("UV_PYTHON_DOWNLOADS", "never"),
            ("UV_PYTHON", plan.target.python),
            ("UV_PROJECT_ENVIRONMENT", config.venv),
            ("UV_COMPILE_BYTECODE", "1" if config.compile_bytecode else "0"),
            ("VIRTUAL_ENV", config.venv),
        ]
    )


def _install_commands(plan: BuildPlan, files: Iterable[HeavyFile]) -> list[str]:
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


def _clamp_paths(roots: Iterable[str], mounts: Iterable[str]) -> str:
    """Set the mtime of everything this RUN wrote (newer than RUN_START), and of everything
    under ``roots``, to SOURCE_DATE_EPOCH. The image's lower layers stay as they are; the
    mounts (uv's cache, the requirements, the secrets) are left out."""
    # the engine bind-mounts /etc/hosts, /etc/hostname and /etc/resolv.conf (read-only)
    skip = ["/proc", "/sys", "/dev", "/etc/hosts", "/etc/hostname", "/etc/resolv.conf", *mounts]
    prune = " -o ".join(f"-path {shlex.quote(path)}" for path in skip)
    keep = "".join(
        f" -o -path {shlex.quote(root)} -o -path {shlex.quote(root + '/*')}" for root in roots
    )
    return (
        f"find / -xdev \\( {prune} \\) -prune -o \\( -newer {RUN_START}{keep} \\) "
        '-exec touch -h -d "@$SOURCE_DATE_EPOCH" {} + && \\\n'
        f'    rm {RUN_START} && touch -h -d "@$SOURCE_DATE_EPOCH" /tmp'
    )


def _reproducible(
    epoch: int, steps: list[str], roots: Iterable[str], mounts: Iterable[str]
) -> list[str]:
    """``steps`` with SOURCE_DATE_EPOCH set before and the mtimes clamped after (of
    everything they wrote and everything under ``roots``; ``mounts`` are left out)."""
    # RUN_START is dated two seconds back: a file written in the same clock tick still
    # counts as newer.
    start = f'touch -d "@$(($(date +%s) - 2))" {RUN_START}'
    return [f"export SOURCE_DATE_EPOCH={epoch}", start, *steps, _clamp_paths(roots, mounts)]


def _labels(plan: BuildPlan) -> str:
    return "LABEL " + " \\\n      ".join(f'{k}="{v}"' for k, v in base_labels(plan).items())


def _below(plan: BuildPlan) -> str:
    """What the layer and base stages start FROM: the base image, the user's system stage,
    or the stage that adds the Python the user's sync would download."""
    if plan.system is None:
        return plan.config.resolved_base_image
    return PYTHON_STAGE if python_stage_needed(plan) else SYSTEM_STAGE


def _stage_start(plan: BuildPlan, stage: str) -> list[str]:
    """The first lines every stage that holds the venv shares (BuildKit builds them once)."""
    if plan.seed is not None:
        # the user's stage sets its own environment, which the final image keeps: uvbuild
        # adds no ENV and no /bin/uv, and its RUNs set uv's settings in their own shell
        return [f"FROM {_below(plan)} AS {stage}", *plan.system.args]
    # uv comes in by a RUN, not a COPY: a COPY into /bin/ gives the directory the time of
    # the build, and this RUN sets it to a fixed one (0: the layer holds no package).
    copy_uv = _reproducible(0, [f"cp {UV_MOUNT}/uv {UV_MOUNT}/uvx /bin/"], [], [UV_MOUNT])
    start = [
        f"FROM {_below(plan)} AS {stage}",
        _run([f"--mount=type=bind,from={plan.config.uv_image},target={UV_MOUNT}"], copy_uv),
        _base_env(plan),
    ]
    if plan.config.python_downloads == "automatic":
        start += _python_install(plan)
    return start


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
    steps = _reproducible(
        0, [*_seed_exports(plan), install], [], [UV_CACHE, *_seed_mount_points(plan)]
    )
    return [
        *(f"ARG {name}" for name in PYTHON_MIRRORS),
        _run([_cache_mount(), *_seed_mounts(plan)], steps),
    ]


def _seed_mounts(plan: BuildPlan) -> list[str]:
    """A seed build's RUNs bind uvbuild's uv instead of copying it into the image."""
    if plan.seed is None:
        return []
    return [f"--mount=type=bind,from={plan.config.uv_image},target={UV_MOUNT}"]


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


def _seed_exports(plan: BuildPlan) -> list[str]:
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


def _make_venv(plan: BuildPlan) -> str:
    """``uv venv`` as ``uv sync`` makes the venv: with the project's name as its prompt
    (pyvenv.cfg and the activate scripts carry it)."""
    venv = shlex.quote(plan.config.venv)
    name = canonicalize_name(plan.project_name) if plan.project_name else None
    prompt = f" --prompt {shlex.quote(name)}" if name else ""
    if plan.seed is None:
        return f"uv venv{prompt} {venv}"
    # the user's system part may have made the venv itself (`uv venv` before the sync)
    return f"{{ [ -e {venv}/pyvenv.cfg ] || uv venv{prompt} {venv}; }}"


# A layer stage keeps exactly what its install added to the venv: every path that did not
# exist before and whose parent did (the top of each new tree: a package directory, its
# .dist-info, a console script in bin/) moves to LAYER_DIR at the same relative place.
# The venv's own files (pyvenv.cfg, the interpreter links, activate scripts) stay behind,
# so the base keeps the ones its own `uv venv` wrote, as a single install would.
def _new_tops(target: str) -> str:
    return (
        "find . | awk 'NR == FNR { old[$0]; next } "
        '!($0 in old) { parent = $0; sub("/[^/]*$", "", parent); if (parent in old) print }\' '
        f"{VENV_BEFORE} - | \\\n"
        "    while IFS= read -r path; do "
        f'mkdir -p "{target}/${{path%/*}}" && mv "$path" "{target}/$path" || exit 1; done'
    )


def layer_stage(plan: BuildPlan, group: LayerGroup) -> str:
    """``uvbuild-layer-<group>``: the group's packages installed alone into a venv like
    the base's, and what they added gathered in LAYER_DIR for ``COPY --link``."""
    venv = shlex.quote(plan.config.venv)
    files = [f for f in requirement_files(plan) if f.layer == group.name]
    mounts = _file_mounts(files)
    steps = [
        *_seed_exports(plan),
        *_secret_exports(plan),
        _make_venv(plan),
        f"cd {venv}",
        f"find . > {VENV_BEFORE}",
        *_install_commands(plan, files),
        f"mkdir {LAYER_DIR}",
        _new_tops(LAYER_DIR),
    ]
    steps = _reproducible(
        layer_epoch(group),
        steps,
        [plan.config.venv, LAYER_DIR],
        _mount_points(plan, HEAVY_MOUNT, *_seed_mount_points(plan)),
    )
    return "\n".join(
        [
            f"# layer {group.name}: {' '.join(c.selected.name for c in group.packages)}",
            f"# key {group.key}",
            *_stage_start(plan, layer_stage_name(group)),
            _run([_cache_mount(), *_seed_mounts(plan), *mounts, *_secret_mounts(plan)], steps),
        ]
    )


def light_stage_name(number: int) -> str:
    return f"{LIGHT_STAGE_PREFIX}{number}"


def _light_layer_steps(plan: BuildPlan, group: LayerGroup, files: list[HeavyFile]) -> list[str]:
    """One light layer's install in a light stage's venv, with the epoch of its own wheels
    (so its bytes do not depend on its stage mates), and what it added moved to its own
    directory under LAYER_DIR; the venv is left as ``uv venv`` made it for the next."""
    target = f"{LAYER_DIR}/{group.name}"
    return [
        *_written_files(files),
        f"export SOURCE_DATE_EPOCH={layer_epoch(group)}",
        f"find . > {VENV_BEFORE}",
        *_install_commands(plan, files),
        f"mkdir -p {target}",
        _new_tops(target),
        f'find {target} -exec touch -h -d "@$SOURCE_DATE_EPOCH" {{}} +',
    ]


def _written_files(files: Iterable[HeavyFile]) -> list[str]:
    """The requirements files written by the RUN itself, where a mount would read them:
    each file bind-mounted from the uvbuild-heavy context is one more load of that context
    in every build (measured: 0.3 to 0.5 s each, on a no-op rebuild too), and a light
    layer's few lines are as well in the RUN's text, which BuildKit's cache key covers."""
    steps = []
    for heavy in files:
        lines = " ".join(shlex.quote(line) for line in heavy.text.splitlines())
        steps.append(f"printf '%s\\n' {lines} > {HEAVY_MOUNT}/{heavy.name}")
    return steps


def light_stage(plan: BuildPlan, number: int, groups: tuple[LayerGroup, ...]) -> str:
    """``uvbuild-layers-light-<n>``: the light layers of one stage installed one after the
    other into a venv like the base's, each one's files in ``LAYER_DIR/<layer>`` for its
    own ``COPY --link``. Nothing else of the stage reaches the image, so its other files
    keep the times they got."""
    venv = shlex.quote(plan.config.venv)
    every_file = requirement_files(plan)
    files = {group.name: [f for f in every_file if f.layer == group.name] for group in groups}
    steps = [*_seed_exports(plan), *_secret_exports(plan), _make_venv(plan), f"cd {venv}"]
    steps.append(f"mkdir -p {HEAVY_MOUNT}")
    for group in groups:
        steps += _light_layer_steps(plan, group, files[group.name])
    comments = [
        f"# layer {group.name}: {' '.join(c.selected.name for c in group.packages)}\n"
        f"# key {group.key}"
        for group in groups
    ]
    return "\n".join(
        [
            *comments,
            *_stage_start(plan, light_stage_name(number)),
            _run([_cache_mount(), *_seed_mounts(plan), *_secret_mounts(plan)], steps),
        ]
    )


def light_warm_stage(plan: BuildPlan) -> str:
    """``uvbuild-layers-light``: on the first light stage, a RUN that binds the others; its
    build has every light stage built, and leaves only BuildKit's cache behind."""
    names = [light_stage_name(n) for n in range(1, len(plan.light_stages) + 1)]
    mounts = [f"--mount=type=bind,from={name},target=/tmp/{name}" for name in names[1:]]
    return "\n".join([f"FROM {names[0]} AS {LIGHT_WARM_STAGE}", _run(mounts, ["true"])])


def _file_mounts(files: Iterable[HeavyFile]) -> list[str]:
    """One bind mount per requirements file: a stage's cache key then covers its own files
    only, not the other layers' in the same context."""
    return [
        f"--mount=type=bind,from={HEAVY_CONTEXT},source={f.name},target={HEAVY_MOUNT}/{f.name}"
        for f in files
    ]


def _run(mounts: list[str], steps: list[str]) -> str:
    """``RUN <mounts> <steps joined with &&>``, one mount or step a line."""
    lines = [*mounts, " && \\\n    ".join(steps)]
    return "RUN " + " \\\n    ".join(lines)


def base_stage(plan: BuildPlan) -> str:
    venv = plan.config.venv
    if plan.layers:
        copies = [
            f"COPY --link --from={layer_stage_name(group)} {LAYER_DIR}/ {venv}/"
            for group in plan.layers
        ]
        # The venv alone holds no package: its files take the epoch 0, so a group's bump
        # leaves this layer as it is, as it leaves the other groups' layers.
        create = _reproducible(
            0,
            [*_seed_exports(plan), _make_venv(plan)],
            [venv],
            [UV_CACHE, *_seed_mount_points(plan)],
        )
        return "\n".join(
            [
                *_stage_start(plan, BASE_STAGE),
                _run([_cache_mount(), *_seed_mounts(plan)], create),
                *copies,
                _labels(plan),
            ]
        )
    install = [
        *_seed_exports(plan),
        *_secret_exports(plan),
        _make_venv(plan),
        *_install_commands(plan, heavy_files(plan)),
    ]
    mounts = [
        _cache_mount(),
        *_seed_mounts(plan),
        *_file_mounts(heavy_files(plan)),
        *_secret_mounts(plan),
    ]
    return "\n".join(
        [
            *_stage_start(plan, BASE_STAGE),
            _run(
                mounts,
                _reproducible(
                    source_date_epoch(plan),
                    install,
                    [venv],
                    _mount_points(plan, HEAVY_MOUNT, *_seed_mount_points(plan)),
                ),
            ),
            _labels(plan),
        ]
    )


def light_copies(plan: BuildPlan) -> list[str]:
    """The light layers on the base, one ``COPY --link`` each: their stages start from the
    system image, not from the base, so a heavy change leaves them alone and a light one
    rebuilds only its own layer."""
    venv = plan.config.venv
    return [
        f"COPY --link --from={light_stage_name(plan.light_stage_of(group.name))} "
        f"{LAYER_DIR}/{group.name}/ {venv}/"
        for group in plan.light_layers
    ]


# Written before the deps and app stages' `uv sync`: what is newer, the sync installed.
SYNC_START = "/tmp/uvbuild-sync-start"


def _sync_steps(plan: BuildPlan, command: list[str]) -> list[str]:
    """``command`` (a ``uv sync``), and with compile-bytecode the bytecode of exactly the
    files it installed. uv's own compile step walks the whole venv: every layer's files,
    which their stages compiled already, are read again on each light rebuild. So uv
    compiles nothing here and ``compileall`` takes only the ``.py`` files whose inode
    changed since the marker (-cnewer: a fresh file, whatever mtime uv gave it), as
    timestamp ``.pyc`` files like uv's, in one process per core as uv's compiler runs;
    failures are ignored, as uv ignores them."""
    if not plan.config.compile_bytecode:
        return [shlex.join(command)]
    venv = shlex.quote(plan.config.venv)
    return [
        f'touch -d "@$(($(date +%s) - 2))" {SYNC_START}',
        "UV_COMPILE_BYTECODE=0 " + shlex.join(command),
        f"{{ find {venv}/lib -name '*.py' -cnewer {SYNC_START} -print0 | "
        f'xargs -0 -r -P "$(nproc 2>/dev/null || echo 1)" -n 256 '
        f"{venv}/bin/python -m compileall -q --invalidation-mode timestamp || true; }}",
        f"rm {SYNC_START}",
    ]


def deps_stage(plan: BuildPlan) -> str:
    flags = sync_flags(plan.request)
    scope = "--no-install-workspace" if plan.members else "--no-install-project"
    copies = ["COPY pyproject.toml uv.lock ./"]
    for member in plan.members:
        copies.append(f"COPY {member}/pyproject.toml {member}/pyproject.toml")
    steps = _sync_steps(plan, ["uv", "sync", "--frozen", scope, *flags])
    return "\n".join(
        [
            f"FROM {BASE_STAGE} AS {DEPS_STAGE}",
            *light_copies(plan),
            f"WORKDIR {APP_DIR}",
            *copies,
            _run([_cache_mount(), *_secret_mounts(plan)], [*_secret_exports(plan), *steps]),
        ]
    )


def app_stage(plan: BuildPlan) -> str:
    steps = _sync_steps(
        plan, ["uv", "sync", "--frozen", "--no-editable", *sync_flags(plan.request)]
    )
    return "\n".join(
        [
            f"FROM {DEPS_STAGE} AS {APP_STAGE}",
            "COPY . .",
            _run([_cache_mount(), *_secret_mounts(plan)], [*_secret_exports(plan), *steps]),
            f'ENV PATH="{plan.config.venv}/bin:$PATH"',
        ]
    )


def _header(plan: BuildPlan, syntax: str | None) -> list[str]:
    header = [] if syntax is None else [f"# syntax={syntax}"]
    source = f" from {plan.dockerfile.path}" if plan.seed is not None else ""
    return [
        *header,
        f"# Generated by uvbuild {__version__}{source} for "
        f"{plan.project_name or plan.project_dir}.",
        f"# Base key {plan.key} -> {plan.tag}",
        f"# Build it with `uvbuild build`, which passes the named context {HEAVY_CONTEXT}",
        f"# (the heavy requirements) or replaces the {BASE_STAGE} stage with the built base.",
    ]


def _keyed_stages(plan: BuildPlan) -> list[str]:
    """The stages below the app: the user's system part (if any), the Python stage, the
    layer groups and the base."""
    parts: list[str] = []
    system = plan.system
    if system is not None:
        parts += list(system.head)
        stage = [system.system_from, *system.system]
        if system.system_run is not None:
            stage.append(system.system_run)
        parts.append("\n".join(stage))
    if python_stage_needed(plan):
        parts.append(python_stage(plan))
    parts += [layer_stage(plan, group) for group in plan.layers]
    parts.append(base_stage(plan))
    parts += [
        light_stage(plan, number, groups)
        for number, groups in enumerate(plan.light_stage_groups, start=1)
    ]
    if plan.light_stages:
        parts.append(light_warm_stage(plan))
    return parts


def seed_app(plan: BuildPlan) -> str:
    """The user's sync stage from the sync on, on the base, and the rest of their file."""
    split = plan.seed
    name = f" AS {split.stage_name}" if split.stage_name else ""
    stage = [
        f"FROM {BASE_STAGE}{name}",
        *split.system.args,
        *light_copies(plan),
        *split.prelude,
        split.sync_run,
    ]
    return "\n\n".join(["\n".join(stage), *split.rest])


def dockerfile(plan: BuildPlan, *, syntax: str | None = None) -> str:
    if plan.seed is not None:
        syntax = syntax or plan.seed.syntax
        parts = ["\n".join(_header(plan, syntax)), *_keyed_stages(plan), seed_app(plan)]
        return "\n\n".join(parts) + "\n"
    parts = [
        "\n".join(_header(plan, syntax)),
        *_keyed_stages(plan),
        deps_stage(plan),
        app_stage(plan),
    ]
    return "\n\n".join(parts) + "\n"


def uses_base(dockerfile_text: str) -> bool:
    """Whether a user Dockerfile refers to the base (``FROM uvbuild-base``, ``--from=``).

    Comment lines do not count: a commented-out ``# COPY --from=uvbuild-base`` uses nothing.
    """
    code = "\n".join(
        line for line in dockerfile_text.splitlines() if not line.lstrip().startswith("#")
    )
    return _USES_BASE.search(code) is not None
