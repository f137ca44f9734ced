"""BuildPlan -> the generated Dockerfile and the files its base stage reads.

Stages:
  uvbuild-layer-<group>  (only with two or more layer groups) one per group of heavy
                packages: the same venv as the base, that group installed, and the files
                the install added moved to /uvbuild-layer with the venv's layout
  uvbuild-base  the base image, a venv and exactly the heavy packages, installed by name
                from the index the lock records (so a later ``uv sync`` keeps them); with
                layer groups it creates the venv and takes each group's files with
                ``COPY --link``, so a group's layer does not depend on the layers below it
  uvbuild-deps  the light dependencies: ``uv sync --frozen --no-install-project``
  uvbuild-app   the project itself: ``uv sync --frozen --no-editable``

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
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timezone

from uvbuild import __version__
from uvbuild.core.hashing import LAYER_RECIPE_VERSION, RECIPE_VERSION
from uvbuild.core.model import BuildPlan, LayerGroup, Request, SelectedPackage

BASE_STAGE = "uvbuild-base"
LAYER_STAGE_PREFIX = "uvbuild-layer-"
# Where a layer stage gathers the files its install added, laid out as in the venv.
LAYER_DIR = "/uvbuild-layer"
VENV_BEFORE = "/tmp/uvbuild-venv-before"
DEPS_STAGE = "uvbuild-deps"
APP_STAGE = "uvbuild-app"
HEAVY_CONTEXT = "uvbuild-heavy"
HEAVY_MOUNT = "/tmp/uvbuild-heavy"
APP_DIR = "/app"
UV_CACHE = "/root/.cache/uv"
SECRETS_DIR = "/run/secrets"
UV_MOUNT = "/tmp/uvbuild-uv"
# Written at the start of a base or layer RUN: what is newer was written by the RUN.
RUN_START = "/tmp/uvbuild-run-start"
LABEL_PREFIX = "io.uvbuild"

# What a generated build never needs from the project directory, on top of the user's
# own .dockerignore: a local venv would only bloat the app layer.
DEFAULT_IGNORES = (
    ".venv",
    "**/__pycache__",
    "**/*.pyc",
    ".pytest_cache",
    ".mypy_cache",
    ".ruff_cache",
    ".tox",
    ".nox",
)

_USES_BASE = re.compile(
    rf"^\s*FROM\s+(?:--\S+\s+)*{BASE_STAGE}(?:\s|$)"
    rf"|^\s*(?:COPY|ADD)\s+(?:--\S+\s+)*?--from={BASE_STAGE}(?:\s|$)"
    rf"|^\s*RUN\s+(?:--\S+\s+)*?--mount=\S*\bfrom={BASE_STAGE}(?:[\s,]|$)",
    re.IGNORECASE | re.MULTILINE,
)


@dataclass(frozen=True, slots=True)
class HeavyFile:
    """One requirements file: the heavy packages that come from one index."""

    name: str
    index: str
    text: str
    hashed: bool
    layer: str | None = None  # the layer group it installs; None: the single base layer


def heavy_files(plan: BuildPlan) -> tuple[HeavyFile, ...]:
    """Pinned, hashed requirements, one file per index (and per layer group), in a stable
    order: ``heavy-<n>.txt``, or ``layer-<group>-<n>.txt`` with layer groups."""
    if not plan.layers:
        return _requirement_files(plan.heavy, "heavy", None)
    files: list[HeavyFile] = []
    for group in plan.layers:
        selected = tuple(choice.selected for choice in group.packages)
        files += _requirement_files(selected, f"layer-{group.name}", group.name)
    return tuple(files)


def _requirement_files(
    heavy: Iterable[SelectedPackage], prefix: str, layer: str | None
) -> tuple[HeavyFile, ...]:
    by_index: dict[str, list[SelectedPackage]] = {}
    for selected in heavy:
        by_index.setdefault(selected.package.source.location, []).append(selected)
    files = []
    for number, index in enumerate(sorted(by_index), start=1):
        packages = sorted(by_index[index], key=lambda s: s.name)
        # --require-hashes is all or nothing, and a few indexes publish no hashes.
        hashed = all(s.wheel is not None and s.wheel.hash for s in packages)
        lines = []
        for selected in packages:
            line = f"{selected.name}=={selected.version}"
            if hashed and selected.wheel is not None:
                line += f" --hash={selected.wheel.hash}"
            lines.append(line)
        text = "\n".join(lines) + "\n"
        files.append(HeavyFile(f"{prefix}-{number}.txt", index, text, hashed, layer))
    return tuple(files)


def upload_epoch(wheels: Iterable[SelectedPackage]) -> int:
    """The newest ``upload-time`` of the selected wheels, in seconds since 1970, when every
    one has an upload time; else 0. A layer's files and the image's creation time take it
    as ``SOURCE_DATE_EPOCH``: the same packages always give the same number."""
    newest = 0
    for selected in wheels:
        stamp = selected.wheel.upload_time if selected.wheel is not None else None
        if not stamp:
            return 0
        try:
            moment = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
        except ValueError:
            return 0
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=timezone.utc)
        newest = max(newest, int(moment.timestamp()))
    return newest


def source_date_epoch(plan: BuildPlan) -> int:
    """``SOURCE_DATE_EPOCH`` of the base image: its creation time and history times, and
    with one layer that layer's mtimes."""
    return upload_epoch(plan.heavy)


def layer_epoch(group: LayerGroup) -> int:
    """The mtimes of one layer group's files: from that group's wheels only, so another
    group's bump leaves this layer's bytes alone."""
    return upload_epoch(choice.selected for choice in group.packages)


@dataclass(frozen=True, slots=True)
class IndexSecret:
    """One credential of an index: the BuildKit secret id and uv's variable for it."""

    index: str
    id: str
    env: str

    @property
    def path(self) -> str:
        return f"{SECRETS_DIR}/{self.id}"


def index_env_name(name: str) -> str:
    """uv's spelling: ``UV_INDEX_<NAME>`` with the name upper-cased and every other
    character than a letter or digit turned into ``_``."""
    return "UV_INDEX_" + re.sub(r"[^A-Z0-9]", "_", name.upper())


def index_secrets(plan: BuildPlan) -> tuple[IndexSecret, ...]:
    """Two secrets (user name, password) per index of ``index-credentials``."""
    secrets = []
    for name, _url in plan.credential_indexes:
        slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")
        for part in ("username", "password"):
            env = f"{index_env_name(name)}_{part.upper()}"
            secrets.append(IndexSecret(name, f"uv-index-{slug}-{part}", env))
    return tuple(secrets)


def secret_flags(plan: BuildPlan, environ: Mapping[str, str]) -> tuple[str, ...]:
    """``--secret`` values for the credentials set in ``environ``: buildx reads each value
    from the variable itself, so it never appears on a command line."""
    return tuple(f"id={s.id},env={s.env}" for s in index_secrets(plan) if s.env in environ)


def missing_credentials(plan: BuildPlan, environ: Mapping[str, str]) -> tuple[str, ...]:
    """The variables of ``index-credentials`` that ``environ`` does not set."""
    return tuple(s.env for s in index_secrets(plan) if s.env not in environ)


def _mount_points(plan: BuildPlan, *others: str) -> list[str]:
    """Where a base or layer RUN mounts things: uv's cache, ``others``, the secrets."""
    return [UV_CACHE, *others, *([SECRETS_DIR] if plan.credential_indexes else [])]


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
    flags: list[str] = []
    for package in request.members:
        flags += ["--package", package]
    if request.all_packages:
        flags.append("--all-packages")
    if request.all_extras:
        flags.append("--all-extras")
    for extra in request.extras:
        flags += ["--extra", extra]
    for group in request.groups:
        flags += ["--group", group]
    for group in request.only_groups:
        flags += ["--only-group", group]
    if request.only_dev:  # uv's order: --only-dev > --no-dev > --dev
        flags.append("--only-dev")
    elif request.no_dev:
        flags.append("--no-dev")
    elif request.dev:
        flags.append("--dev")
    for extra in request.no_extras:
        flags += ["--no-extra", extra]
    for group in request.no_groups:
        flags += ["--no-group", group]
    if request.all_groups:
        flags.append("--all-groups")
    if request.no_default_groups:
        flags.append("--no-default-groups")
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
        f"{LABEL_PREFIX}.key": plan.key,
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


def _stage_start(plan: BuildPlan, stage: str) -> list[str]:
    """The first lines every stage that holds the venv shares (BuildKit builds them once)."""
    config = plan.config
    # uv comes in by a RUN, not a COPY: a COPY into /bin/ gives the directory the time of
    # the build, and this RUN sets it to a fixed one (0: the layer holds no package).
    copy_uv = _reproducible(0, [f"cp {UV_MOUNT}/uv {UV_MOUNT}/uvx /bin/"], [], [UV_MOUNT])
    return [
        f"FROM {config.resolved_base_image} AS {stage}",
        _run([f"--mount=type=bind,from={config.uv_image},target={UV_MOUNT}"], copy_uv),
        _base_env(plan),
    ]


# A layer stage keeps exactly what its install added to the venv: every path that did not
# exist before and whose parent did (the top of each new tree: a package directory, its
# .dist-info, a console script in bin/) moves to LAYER_DIR at the same relative place.
# The venv's own files (pyvenv.cfg, the interpreter links, activate scripts) stay behind,
# so the base keeps the ones its own `uv venv` wrote, as a single install would.
_NEW_TOPS = (
    "find . | awk 'NR == FNR { old[$0]; next } "
    '!($0 in old) { parent = $0; sub("/[^/]*$", "", parent); if (parent in old) print }\' '
    f"{VENV_BEFORE} - | \\\n"
    "    while IFS= read -r path; do "
    f'mkdir -p "{LAYER_DIR}/${{path%/*}}" && mv "$path" "{LAYER_DIR}/$path" || exit 1; done'
)


def layer_stage(plan: BuildPlan, group: LayerGroup) -> str:
    """``uvbuild-layer-<group>``: the group's packages installed alone into a venv like
    the base's, and what they added gathered in LAYER_DIR for ``COPY --link``."""
    venv = shlex.quote(plan.config.venv)
    files = [f for f in heavy_files(plan) if f.layer == group.name]
    mounts = [
        f"--mount=type=bind,from={HEAVY_CONTEXT},source={f.name},target={HEAVY_MOUNT}/{f.name}"
        for f in files
    ]
    steps = [
        *_secret_exports(plan),
        f"uv venv {venv}",
        f"cd {venv}",
        f"find . > {VENV_BEFORE}",
        *_install_commands(plan, files),
        f"mkdir {LAYER_DIR}",
        _NEW_TOPS,
    ]
    steps = _reproducible(
        layer_epoch(group), steps, [plan.config.venv, LAYER_DIR], _mount_points(plan, HEAVY_MOUNT)
    )
    return "\n".join(
        [
            f"# layer {group.name}: {' '.join(c.selected.name for c in group.packages)}",
            f"# key {group.key}",
            *_stage_start(plan, layer_stage_name(group)),
            _run([_cache_mount(), *mounts, *_secret_mounts(plan)], steps),
        ]
    )


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
        create = _reproducible(0, [f"uv venv {shlex.quote(venv)}"], [venv], [UV_CACHE])
        return "\n".join(
            [
                *_stage_start(plan, BASE_STAGE),
                _run([_cache_mount()], create),
                *copies,
                _labels(plan),
            ]
        )
    install = [
        *_secret_exports(plan),
        f"uv venv {shlex.quote(venv)}",
        *_install_commands(plan, heavy_files(plan)),
    ]
    mounts = [
        _cache_mount(),
        f"--mount=type=bind,from={HEAVY_CONTEXT},target={HEAVY_MOUNT}",
        *_secret_mounts(plan),
    ]
    return "\n".join(
        [
            *_stage_start(plan, BASE_STAGE),
            _run(
                mounts,
                _reproducible(
                    source_date_epoch(plan), install, [venv], _mount_points(plan, HEAVY_MOUNT)
                ),
            ),
            _labels(plan),
        ]
    )


def deps_stage(plan: BuildPlan) -> str:
    flags = sync_flags(plan.request)
    scope = "--no-install-workspace" if plan.members else "--no-install-project"
    copies = ["COPY pyproject.toml uv.lock ./"]
    for member in plan.members:
        copies.append(f"COPY {member}/pyproject.toml {member}/pyproject.toml")
    command = shlex.join(["uv", "sync", "--frozen", scope, *flags])
    return "\n".join(
        [
            f"FROM {BASE_STAGE} AS {DEPS_STAGE}",
            f"WORKDIR {APP_DIR}",
            *copies,
            _run([_cache_mount(), *_secret_mounts(plan)], [*_secret_exports(plan), command]),
        ]
    )


def app_stage(plan: BuildPlan) -> str:
    command = shlex.join(["uv", "sync", "--frozen", "--no-editable", *sync_flags(plan.request)])
    return "\n".join(
        [
            f"FROM {DEPS_STAGE} AS {APP_STAGE}",
            "COPY . .",
            _run([_cache_mount(), *_secret_mounts(plan)], [*_secret_exports(plan), command]),
            f'ENV PATH="{plan.config.venv}/bin:$PATH"',
        ]
    )


def dockerfile(plan: BuildPlan, *, syntax: str | None = None) -> str:
    header = [] if syntax is None else [f"# syntax={syntax}"]
    header += [
        f"# Generated by uvbuild {__version__} for {plan.project_name or plan.project_dir}.",
        f"# Base key {plan.key} -> {plan.tag}",
        f"# Build it with `uvbuild build`, which passes the named context {HEAVY_CONTEXT}",
        f"# (the heavy requirements) or replaces the {BASE_STAGE} stage with the built base.",
    ]
    layers = [layer_stage(plan, group) for group in plan.layers]
    parts = ["\n".join(header), *layers, base_stage(plan), deps_stage(plan), app_stage(plan)]
    return "\n\n".join(parts) + "\n"


def dockerignore(user_ignore: str | None) -> str:
    """The ignore file for a generated build: the user's rules, then uvbuild's defaults."""
    lines = [user_ignore.rstrip("\n")] if user_ignore else []
    lines.append("# added by uvbuild")
    lines += DEFAULT_IGNORES
    return "\n".join(lines) + "\n"


def uses_base(dockerfile_text: str) -> bool:
    """Whether a user Dockerfile refers to the base (``FROM uvbuild-base``, ``--from=``).

    Comment lines do not count: a commented-out ``# COPY --from=uvbuild-base`` uses nothing.
    """
    code = "\n".join(
        line for line in dockerfile_text.splitlines() if not line.lstrip().startswith("#")
    )
    return _USES_BASE.search(code) is not None
