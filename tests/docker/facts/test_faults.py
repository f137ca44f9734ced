"""uvbuild.docker.facts.faults: the one line for a failed command, and its fix."""

from __future__ import annotations

import pytest

from uvbuild.docker.facts.faults import push_failed


@pytest.mark.parametrize(
    ("tail", "refused"),
    [
        ("denied: requested access to the resource is denied", True),
        ("unauthorized: authentication required", True),
        ("received unexpected HTTP status: 500 Internal Server Error", False),
        ("write tcp 127.0.0.1:1->127.0.0.1:2: write: broken pipe", False),
        ("unexpected status from PUT request: 403 Forbidden", True),
        ("received unexpected HTTP status: 403", True),
        # a port or a size that holds the digits 403 is no status (seen in CI: a reset
        # connection on port 54036 was called refused)
        ("write tcp 127.0.0.1:54036->127.0.0.1:34403: write: connection reset by peer", False),
        ("blob upload unknown after 4030 bytes", False),
    ],
)
def test_a_failed_push_names_its_cause_and_the_next_step(tail, refused):
    message = push_failed("r:5000/b:k", tail)
    assert message.startswith(f"pushing r:5000/b:k failed ({'refused' if refused else 'broke off'}")
    assert tail in message and "no tag was made or moved" in message and "\n" not in message
    assert ("docker login" in message) is refused
    assert ("run again with --push-base" in message) is (not refused)
