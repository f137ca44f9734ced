"""The BuildKit secrets that carry the credentials of ``index-credentials`` to uv.

Each index gets its user name and password as two secrets; buildx reads their values from
the variables uv itself reads (``UV_INDEX_<NAME>_USERNAME``/``_PASSWORD``), so no value
appears on a command line or in the Dockerfile.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from uvbuild.core.model import BuildPlan

SECRETS_DIR = "/run/secrets"


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
