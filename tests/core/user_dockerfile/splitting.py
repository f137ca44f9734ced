"""Split a Dockerfile text as the seed tests do, and read a refusal back."""

from __future__ import annotations

import pytest

from uvbuild.core.user_dockerfile import dockerfile_text, seed
from uvbuild.errors import ConfigError

WAY_OUT = "start the Python stage with `FROM uvbuild-base`"
GENERATED = 'or set tool.uvbuild.dockerfile = "generated"'


def split(text: str, build_args=None, path: str = "Dockerfile") -> seed.SeedSplit:
    return seed.split(dockerfile_text.parse(text, path), build_args)


def refusal(text: str, build_args=None) -> str:
    with pytest.raises(ConfigError) as info:
        split(text, build_args)
    assert info.value.exit_code == 2
    message = str(info.value)
    assert "\n" not in message
    return message


def assert_refused_at(text: str, start: str) -> None:
    """``text`` is refused with a line that starts with ``start`` and ends with the way
    forward every refusal of a split gives."""
    message = refusal(text)
    assert message.startswith(start), message
    assert message.endswith(f"{WAY_OUT} (on a stage named `uvbuild-system`), {GENERATED}")


def one_stage(*lines: str) -> str:
    return "\n".join(["FROM debian:bookworm", *lines]) + "\n"
