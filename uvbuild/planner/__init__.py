"""The planner: the only reader of pyproject.toml, uv.lock and the user's Dockerfile; the
pure core computes the rest of the BuildPlan.

``project_files`` reads pyproject.toml, .python-version and uv.lock (TOML errors become
ConfigError or LockError naming the file); ``resolve`` settles what the config leaves open
(Python, platform, credential indexes); ``user_dockerfile`` reads the Dockerfile the build
runs (seed or base mode) and digests the files its system part copies; ``sync_request``
makes the ``uv sync`` request, from the config or from a seed Dockerfile's sync;
``keys`` keys the plan, by image name or digest; ``plan`` puts them together.

``make_plan``, ``with_digests`` and ``check_installable`` are what the flow and the command
line call, named here so that they name the planner and not one of its modules.
"""

from uvbuild.planner.keys import with_digests
from uvbuild.planner.plan import check_installable, make_plan

__all__ = ["check_installable", "make_plan", "with_digests"]
