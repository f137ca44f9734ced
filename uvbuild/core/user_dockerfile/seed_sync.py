"""The seed Dockerfile's ``uv sync`` read into plan flags: its options and the UV_*
settings it sees decide the selection, the venv, the interpreter, the bytecode setting
and whether uv may download a Python, as they decide them for uv; an option or setting
that would install otherwise than the keyed layers is refused."""

from __future__ import annotations

import posixpath
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from uvbuild.core.user_dockerfile.seed_refusal import refuse_at

_TRUE = {"1", "true", "yes", "on", "y", "t"}
_FALSE = {"0", "false", "no", "off", "n", "f", ""}

# uv sync flags that take a value, and what they set in the plan (None: nothing uvbuild
# plans depends on it)
_VALUE_FLAGS: dict[str, str | None] = {
    "--extra": "extras",
    "--no-extra": "no_extras",
    "--group": "groups",
    "--no-group": "no_groups",
    "--only-group": "only_groups",
    "--package": "packages",
    "--python": "python",
    "-p": "python",
    "--link-mode": None,
    "--no-install-package": None,
    "--index-url": None,
    "-i": None,
    "--extra-index-url": None,
    "--default-index": None,
    "--index": None,
    "--find-links": None,
    "--cache-dir": None,
    "--python-preference": None,
    "--color": None,
    "--index-strategy": None,
    "--keyring-provider": None,
    "--refresh-package": None,
    "--reinstall-package": None,
    "--config-setting": None,
    "-C": None,
    "--allow-insecure-host": None,
    "--exclude-newer": None,
    "--config-file": None,
    "--prerelease": None,
    "--resolution": None,
    "--fork-strategy": None,
}
_BOOL_FLAGS: dict[str, str | None] = {
    "--all-extras": "all_extras",
    "--all-groups": "all_groups",
    "--no-default-groups": "no_default_groups",
    "--dev": "dev",
    "--no-dev": "no_dev",
    "--only-dev": "only_dev",
    "--all-packages": "all_packages",
    "--compile-bytecode": "compile_bytecode",
    "--no-compile-bytecode": "no_compile_bytecode",
    "--no-python-downloads": "no_python_downloads",
}
_HARMLESS = {
    "--frozen",
    "--locked",
    "--inexact",
    "--exact",
    "--no-install-project",
    "--no-install-workspace",
    "--no-install-local",
    "--no-editable",
    "--no-cache",
    "-n",
    "--offline",
    "--quiet",
    "-q",
    "-qq",
    "--verbose",
    "-v",
    "-vv",
    "--no-progress",
    "--native-tls",
    "--system-certs",
    "--managed-python",
    "--no-managed-python",
    "--refresh",
    "--reinstall",
    "--no-build-isolation",
    "--no-build",
    "--no-config",
    "--preview",
    "--no-python-downloads",
    "--allow-python-downloads",
}
_REFUSED = {
    "--no-sources": "installs other sources than the lock's",
    "--no-binary": "builds packages from source where the keyed layers install wheels",
    "--no-binary-package": "builds packages from source where the keyed layers install wheels",
    "--directory": "syncs another directory than the one its stage works in",
    "--project": "syncs another project than the build context's",
    "--script": "syncs a script, not the project",
    "--active": "syncs whatever environment is active",
    "--dry-run": "installs nothing",
    "--check": "installs nothing",
}


@dataclass(frozen=True, slots=True)
class SyncSettings:
    """What the sync decides for the plan."""

    flags: dict[str, Any]  # plan flags: selection, venv, python, compile_bytecode
    python_request: str | None  # UV_PYTHON or --python as the sync sees it
    python_downloads: str  # automatic, manual or never
    notes: tuple[str, ...]


def read_sync(args: list[str], env: Mapping[str, str], workdir: str, where: str) -> SyncSettings:
    """The plan settings of ``uv sync <args>`` run in ``workdir`` with ``env``; ``where``
    (``<path>:<line>``) starts every refusal and note."""
    options = sync_options(args, where)
    flags = _selection_flags(options, env)
    flags["compile_bytecode"] = _compile_bytecode(options, env)
    venv = env.get("UV_PROJECT_ENVIRONMENT") or ".venv"
    flags["venv"] = posixpath.normpath(posixpath.join(workdir, venv))
    request = _python_request(options, env)
    notes: list[str] = []
    if request is not None:
        version = python_version(request)
        if version is None:
            notes.append(
                f"{where}: the interpreter {request!r} names no version: the plan assumes "
                "the project's (.python-version, requires-python); pass --python X.Y if it differs"
            )
        else:
            flags["python"] = version
    downloads = _python_downloads(options, env)
    _refuse_unsafe_settings(env, where)
    return SyncSettings(flags, request, downloads, tuple(notes))


def sync_options(args: list[str], where: str) -> dict[str, list[str] | bool]:
    """The options of ``uv sync`` by plan field; refuses what cannot be split safely."""
    found: dict[str, list[str] | bool] = {}
    index = 0
    while index < len(args):
        arg = args[index]
        index += 1
        name, sep, inline = arg.partition("=") if arg.startswith("--") else (arg, "", "")
        if name in _REFUSED:
            raise refuse_at(where, f"`uv sync {name}` {_REFUSED[name]}")
        if name in _VALUE_FLAGS:
            if sep:
                value = inline
            elif index < len(args):
                value = args[index]
                index += 1
            else:
                raise refuse_at(where, f"`uv sync {name}` needs a value")
            target = _VALUE_FLAGS[name]
            if target is not None:
                values = found.setdefault(target, [])
                assert isinstance(values, list)
                values.append(value)
            continue
        if name in _BOOL_FLAGS:
            target = _BOOL_FLAGS[name]
            if target is not None:
                found[target] = True
            continue
        if name in _HARMLESS:
            continue
        raise refuse_at(
            where,
            f"`uv sync {arg}` is an option uvbuild cannot read"
            + ("" if arg.startswith("-") else " (uv sync takes no arguments)"),
        )
    return found


def python_version(request: str) -> str | None:
    """The X.Y an interpreter request names (``3.11``, ``python3.11``, ``cpython-3.11.9``)."""
    match = re.search(r"(?<![\d.])(\d+)\.(\d+)(?:\.\d+)?", request)
    return f"{match.group(1)}.{match.group(2)}" if match else None


def _truthy(value: str | None) -> bool | None:
    """A UV_* boolean as uv reads it; None for unset or a word it does not know."""
    if value is None:
        return None
    lowered = value.strip().lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    return None


def _selection_flags(
    options: Mapping[str, list[str] | bool], env: Mapping[str, str]
) -> dict[str, Any]:
    flags: dict[str, Any] = {}
    for name in ("extras", "no_extras", "groups", "no_groups", "only_groups"):
        if name in options:
            flags[name] = tuple(options[name])  # type: ignore[arg-type]
    for name in ("all_extras", "all_groups", "no_default_groups", "only_dev", "all_packages"):
        if options.get(name):
            flags[name] = True
    if options.get("dev"):
        flags["dev"] = True
    if options.get("no_dev") or _truthy(env.get("UV_NO_DEV")):
        flags["no_dev"] = True
    if _truthy(env.get("UV_NO_DEFAULT_GROUPS")):
        flags["no_default_groups"] = True
    packages = options.get("packages")
    if isinstance(packages, list):
        if len(packages) == 1:
            flags["package"] = packages[0]
        else:
            flags["packages"] = tuple(packages)
    return flags


def _compile_bytecode(options: Mapping[str, list[str] | bool], env: Mapping[str, str]) -> bool:
    compile_env = _truthy(env.get("UV_COMPILE_BYTECODE"))
    return bool(
        (options.get("compile_bytecode") or compile_env) and not options.get("no_compile_bytecode")
    )


def _python_request(options: Mapping[str, list[str] | bool], env: Mapping[str, str]) -> str | None:
    """The interpreter the sync asks for: its last --python, else UV_PYTHON."""
    python = options.get("python")
    if isinstance(python, list):
        return python[-1]
    if env.get("UV_PYTHON"):
        return env["UV_PYTHON"]
    return None


def _python_downloads(options: Mapping[str, list[str] | bool], env: Mapping[str, str]) -> str:
    downloads = (env.get("UV_PYTHON_DOWNLOADS") or "automatic").strip().lower()
    if options.get("no_python_downloads") or _truthy(env.get("UV_PYTHON_DOWNLOADS")) is False:
        downloads = "never"
    return downloads


def _refuse_unsafe_settings(env: Mapping[str, str], where: str) -> None:
    for refused, why in (
        ("UV_NO_SOURCES", "installs other sources than the lock's"),
        ("UV_NO_BINARY", "builds packages from source where the keyed layers install wheels"),
    ):
        if _truthy(env.get(refused)):
            raise refuse_at(where, f"{refused} is set: the sync {why}")
    for moved in ("UV_PROJECT", "UV_WORKING_DIR"):
        if env.get(moved):
            raise refuse_at(where, f"{moved} is set: the sync syncs another directory")
