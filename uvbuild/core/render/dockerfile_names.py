"""The names the generated Dockerfile is addressed by, and the paths its stages share.

The flow builds its stages by name (``uvbuild-base``, ``uvbuild-layers-light``), passes
the named context ``uvbuild-heavy`` and the Python mirrors as build args, and reads the
base's labels back (gc, the trusted-tag check); the stages mount and gather files at the
same paths.
"""

from __future__ import annotations

from uvbuild.core.model import LayerGroup

BASE_STAGE = "uvbuild-base"
PYTHON_STAGE = "uvbuild-python"
LAYER_STAGE_PREFIX = "uvbuild-layer-"
LIGHT_STAGE_PREFIX = "uvbuild-layers-light-"
# Depends on every light stage and holds nothing: built (cache only) beside the base, so
# the light layers are installed while the base is, not after it.
LIGHT_WARM_STAGE = "uvbuild-layers-light"
DEPS_STAGE = "uvbuild-deps"
APP_STAGE = "uvbuild-app"
HEAVY_CONTEXT = "uvbuild-heavy"
# uv's mirrors for Python downloads: build args of the stages that may install Python
PYTHON_MIRRORS = ("UV_PYTHON_INSTALL_MIRROR", "UV_PYTHON_DOWNLOADS_JSON_URL")

# Where a layer stage gathers the files its install added, laid out as in the venv.
LAYER_DIR = "/uvbuild-layer"
HEAVY_MOUNT = "/tmp/uvbuild-heavy"
APP_DIR = "/app"
UV_CACHE = "/root/.cache/uv"
UV_MOUNT = "/tmp/uvbuild-uv"

LABEL_PREFIX = "io.uvbuild"
# The base key, in full: the tag holds only its first 16 hex digits, so a base found by
# tag is trusted only when this label equals the plan's key.
KEY_LABEL = f"{LABEL_PREFIX}.key"


def layer_stage_name(group: LayerGroup) -> str:
    return f"{LAYER_STAGE_PREFIX}{group.name}"


def light_stage_name(number: int) -> str:
    return f"{LIGHT_STAGE_PREFIX}{number}"
