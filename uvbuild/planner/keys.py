"""A plan's keys: the images its keyed stages start from and copy from, what the keys hash
(the target, the images, by name or by digest, the user's system part), each layer group's
key and the base key over the heavy ones; ``with_digests`` keys a plan again on digests."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from uvbuild.core import hashing
from uvbuild.core.config import Config
from uvbuild.core.model import BuildPlan, Grouping, ImageRef, LayerGroup, Target, UserDockerfile
from uvbuild.core.user_dockerfile.seed_system import SYSTEM_STAGE


def image_refs(config: Config, user: UserDockerfile | None = None) -> tuple[ImageRef, ...]:
    """The images the keyed stages start from and copy from, each once, with the setting
    that names it: the base image (or, under the user's system part, the images that part
    starts from and copies from) and uv's image, bind-mounted."""
    if user is not None and user.system is not None:
        where = f"{user.path} (its system part)"
        below = tuple(ImageRef(ref, where) for ref in user.system.images)
    else:
        below = (ImageRef(config.resolved_base_image, "--base-image (tool.uvbuild.base-image)"),)
    refs = (*below, ImageRef(config.uv_image, "--uv-image (tool.uvbuild.uv-image)"))
    unique: dict[str, ImageRef] = {}
    for image in refs:
        unique.setdefault(image.ref, image)
    return tuple(unique.values())


def key_inputs(
    config: Config,
    target: Target,
    refs: tuple[ImageRef, ...],
    digests: Mapping[str, str] | None,
    user: UserDockerfile,
) -> hashing.KeyInputs:
    images: tuple[tuple[str, str], ...] = ()
    if digests is not None:
        missing = [image.ref for image in refs if not digests.get(image.ref)]
        if missing:
            raise ValueError(f"no digest for {', '.join(missing)}")
        images = tuple(sorted((image.ref, digests[image.ref]) for image in refs))
    return hashing.KeyInputs(
        platform=target.platform,
        python=target.python,
        base_image=SYSTEM_STAGE if user.system else config.resolved_base_image,
        uv_image=config.uv_image,
        venv=config.venv,
        compile_bytecode=config.compile_bytecode,
        python_downloads=_python_downloads(config, user),
        system=_system_inputs(user),
        images=images,
    )


def _python_downloads(config: Config, user: UserDockerfile) -> str:
    """Whether the keyed stages may install Python: as the user's sync may (seed), else
    as tool.uvbuild.python-downloads says."""
    return user.seed.python_downloads if user.seed is not None else config.python_downloads


def _system_inputs(user: UserDockerfile) -> tuple[str, ...]:
    """The key's lines for the user's system part (empty without one)."""
    if user.system is None:
        return ()
    lines = [f"mode {user.mode}", *user.system.recipe]
    lines += [f"context {source} sha256:{digest}" for source, digest in user.context_digests]
    if user.seed is not None:
        split = user.seed
        lines.append(f"python {split.python_request or ''} downloads {split.python_downloads}")
    return tuple(lines)


@dataclass(frozen=True, slots=True)
class PlanKeys:
    """What plan_keys makes: the keyed layer groups (heavy, then light), the base key, its
    tag and document, and the image digests they cover (empty: the images by name)."""

    layers: tuple[LayerGroup, ...]
    key: str
    tag: str
    document: str
    light_layers: tuple[LayerGroup, ...] = ()
    digests: tuple[tuple[str, str], ...] = ()

    def fields(self) -> dict[str, Any]:
        """The BuildPlan fields these keys set, so that a plan made and a plan keyed again
        on digests set the same ones."""
        return {
            "layers": self.layers,
            "light_layers": self.light_layers,
            "key": self.key,
            "tag": self.tag,
            "key_document": self.document,
            "digests": self.digests,
        }


def _keyed_layers(
    layers: tuple[LayerGroup, ...], inputs: hashing.KeyInputs
) -> tuple[LayerGroup, ...]:
    return tuple(
        replace(group, key=hashing.base_key(hashing.layer_document(group, inputs)))
        for group in layers
    )


def plan_keys(
    split: Grouping,
    layers: tuple[LayerGroup, ...],
    inputs: hashing.KeyInputs,
    repo: str,
    light_layers: tuple[LayerGroup, ...] = (),
) -> PlanKeys:
    """Each layer group's key, then the base key over the heavy ones, its tag and document.
    The light layers are keyed the same way; they sit above the base and are not in its
    key."""
    keyed = _keyed_layers(layers, inputs)
    document = hashing.key_document(split.heavy, inputs, keyed)
    key = hashing.base_key(document)
    text = hashing.canonical_bytes(document).decode()
    light = _keyed_layers(light_layers, inputs)
    return PlanKeys(keyed, key, hashing.base_tag(repo, key), text, light, inputs.images)


def with_digests(plan: BuildPlan, digests: Mapping[str, str]) -> BuildPlan:
    """``plan`` keyed on the digests of its ``image_refs`` (ref -> digest, extra refs
    ignored): the layer keys, the base key, its tag and document move with them. Pure: the
    plan's own grouping and layers are re-keyed, no file is read again."""
    inputs = key_inputs(plan.config, plan.target, plan.image_refs, digests, plan.dockerfile)
    keys = plan_keys(plan.grouping, plan.layers, inputs, plan.base_repo, plan.light_layers)
    return replace(plan, **keys.fields(), provisional=None)
