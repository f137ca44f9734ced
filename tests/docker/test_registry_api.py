"""uvbuild.docker.registry_api: which blobs of a manifest a registry lacks, asked with HEAD
requests and docker's credentials, against a small registry API on a loopback port."""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from uvbuild.docker import registry_api

THERE = "sha256:" + "a" * 64
GONE = "sha256:" + "b" * 64
MOVED = "sha256:" + "c" * 64  # answered by a redirect to the blob store
SECRET = "s3cret-pass"
TOKEN = "t0ken-value"


class FakeRegistry:
    """``auth``: None (anonymous), "basic" or "bearer" (a token service on the same port
    that wants user "u" and SECRET)."""

    def __init__(self, auth: str | None = None) -> None:
        self.auth = auth
        self.requests: list[tuple[str, str, str]] = []
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:  # the token service
                owner.requests.append(("GET", self.path, self.headers.get("Authorization", "")))
                basic = "Basic " + base64.b64encode(f"u:{SECRET}".encode()).decode()
                if self.headers.get("Authorization") != basic:
                    self._send(401)
                    return
                body = json.dumps({"token": TOKEN}).encode()
                self._send(200, body=body)

            def do_HEAD(self) -> None:
                header = self.headers.get("Authorization", "")
                owner.requests.append(("HEAD", self.path, header))
                wanted = {
                    "basic": "Basic " + base64.b64encode(f"u:{SECRET}".encode()).decode(),
                    "bearer": f"Bearer {TOKEN}",
                }.get(owner.auth or "")
                if wanted and header != wanted:
                    challenge = (
                        'Basic realm="r"'
                        if owner.auth == "basic"
                        else f'Bearer realm="http://{owner.host}/token",service="reg"'
                    )
                    self._send(401, {"WWW-Authenticate": challenge})
                elif self.path.endswith(GONE):
                    self._send(404)
                elif self.path.endswith(MOVED):
                    self._send(307, {"Location": "http://127.0.0.1:9/elsewhere"})
                else:
                    self._send(200)

            def _send(self, status: int, headers: dict[str, str] | None = None, body=b"") -> None:
                self.send_response(status)
                for key, value in (headers or {}).items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(body)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.server.server_address[1]}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def fake_registry() -> Iterator[Any]:
    made: list[FakeRegistry] = []

    def make(auth: str | None = None) -> FakeRegistry:
        made.append(FakeRegistry(auth))
        return made[-1]

    yield make
    for registry in made:
        registry.close()


def docker_config(tmp_path: Path, host: str, **entry: Any) -> dict[str, str]:
    """An environment whose docker config logs in to ``host`` (``auth`` or other keys)."""
    config: dict[str, Any] = {"auths": {host: {"auth": base64.b64encode(b"u:" + SECRET.encode())}}}
    config["auths"][host]["auth"] = config["auths"][host]["auth"].decode()
    config.update(entry)
    (tmp_path / "config.json").write_text(json.dumps(config))
    return {"DOCKER_CONFIG": str(tmp_path), "HOME": str(tmp_path)}


def test_the_blobs_a_registry_lacks_are_named(fake_registry, tmp_path):
    registry = fake_registry()
    seen: list[str] = []
    check = registry_api.missing_blobs(
        f"{registry.host}/team/base:k",
        [THERE, GONE, MOVED, THERE],
        {"HOME": str(tmp_path)},
        seen.append,
    )
    assert check.checked and check.missing == (GONE,)
    # one HEAD per blob (duplicates once), over plain HTTP on a loopback host; the redirect
    # is not followed (it would take the Authorization header to another host)
    assert [path for method, path, _ in registry.requests] == [
        f"/v2/team/base/blobs/{digest}" for digest in (THERE, GONE, MOVED)
    ]
    assert seen[0] == f"HEAD http://{registry.host}/v2/team/base/blobs/{THERE}"


@pytest.mark.parametrize("auth", ["basic", "bearer"])
def test_docker_login_credentials_are_used(fake_registry, tmp_path, auth):
    registry = fake_registry(auth)
    env = docker_config(tmp_path, registry.host)
    check = registry_api.missing_blobs(f"{registry.host}/team/base:k", [THERE, GONE], env)
    assert check.checked and check.missing == (GONE,)
    if auth == "bearer":  # one token for every blob, asked with the login's credentials
        tokens = [r for r in registry.requests if r[0] == "GET"]
        assert len(tokens) == 1
        assert "scope=repository%3Ateam%2Fbase%3Apull" in tokens[0][1]
        assert "service=reg" in tokens[0][1]


@pytest.mark.parametrize("auth", ["basic", "bearer"])
def test_without_credentials_the_check_is_undone_and_says_why(fake_registry, tmp_path, auth):
    registry = fake_registry(auth)
    check = registry_api.missing_blobs(
        f"{registry.host}/team/base:k", [THERE], {"HOME": str(tmp_path)}
    )
    assert not check.checked and check.missing == ()
    assert registry.host in check.reason and "\n" not in check.reason
    assert SECRET not in check.reason and TOKEN not in check.reason


def test_a_registry_that_does_not_answer_leaves_the_check_undone(tmp_path):
    check = registry_api.missing_blobs("127.0.0.1:9/team/base:k", [THERE], {"HOME": str(tmp_path)})
    assert not check.checked and "127.0.0.1:9" in check.reason


def test_credentials_come_from_the_helper_first(tmp_path):
    env = docker_config(tmp_path, "r.example.com", credHelpers={"r.example.com": "pass"})
    asked: list[tuple[list[str], str]] = []

    def helper(command: list[str], key: str) -> str:
        asked.append((command, key))
        return json.dumps({"Username": "h", "Secret": "from-helper"})

    found = registry_api.docker_credentials("r.example.com", env, helper)
    assert found == ("h", "from-helper")
    assert asked == [(["docker-credential-pass", "get"], "r.example.com")]
    # an identity token is not a password: the auths entry is used instead
    token = lambda command, key: json.dumps({"Username": "<token>", "Secret": "refresh"})  # noqa: E731
    assert registry_api.docker_credentials("r.example.com", env, token) == ("u", SECRET)
    assert registry_api.docker_credentials("other.example.com", {"HOME": str(tmp_path)}) is None


@pytest.mark.parametrize(
    ("ref", "address"),
    [
        ("127.0.0.1:5000/team/base:k", ("127.0.0.1:5000", "team/base")),
        ("registry.example.com/a/b/base:k", ("registry.example.com", "a/b/base")),
        ("docker.io/team/base:k", ("registry-1.docker.io", "team/base")),
    ],
)
def test_blob_address(ref, address):
    assert registry_api.blob_address(ref) == address


def test_loopback_hosts():
    assert registry_api.is_loopback("127.0.0.1:5000") and registry_api.is_loopback("localhost")
    assert registry_api.is_loopback("[::1]:5000")
    assert not registry_api.is_loopback("registry.example.com:5000")
