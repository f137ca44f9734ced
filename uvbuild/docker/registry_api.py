"""A registry's HTTP API, for the one question the docker CLI cannot answer without
downloading: does the registry still hold every blob a manifest names?

``docker buildx imagetools inspect`` reads a base's manifest and config only; a layer blob
the registry lost (a storage fault, a garbage collection gone wrong, a blob deleted by
hand) shows only when a build pulls it, half-way through the app build. ``HEAD
/v2/<name>/blobs/<digest>`` answers for each blob without downloading it (200 or a
redirect to the blob store: there; 404: lost).

The credentials are docker's own (``docker login``: the ``auths`` entry of
``$DOCKER_CONFIG/config.json``, or its credential helper); they go into the Authorization
header of these requests only, never into a message or a log line. A registry that cannot
be asked this way (no usable credentials, TLS it does not speak) gives an unchecked
answer with the reason, and the caller goes on as before (it trusts the manifest).
"""

from __future__ import annotations

import base64
import json
import os
import re
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from uvbuild.docker import process
from uvbuild.docker.facts.refs import registry_host, repo_of
from uvbuild.docker.facts.values import BlobCheck

TIMEOUT = 15.0
_HUB = "docker.io"
_HUB_API = "registry-1.docker.io"
_HUB_CREDENTIALS = "https://index.docker.io/v1/"


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """A blob answered by a redirect (to S3, a CDN) is there: the redirect is not followed
    (it would carry the registry's Authorization header to another host)."""

    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None


_OPENER = urllib.request.build_opener(_NoRedirect)


def is_loopback(host: str) -> bool:
    """``127.0.0.0/8``, ``localhost`` and ``::1``: registries docker reaches over plain HTTP
    without an ``insecure-registries`` entry."""
    name = host.rsplit(":", 1)[0] if not host.startswith("[") else host.split("]")[0] + "]"
    return name in ("localhost", "[::1]") or name.startswith("127.")


def blob_address(ref: str) -> tuple[str, str]:
    """The API host and the repository name of ``ref``: ``r:5000/team/base:t`` ->
    (``r:5000``, ``team/base``); Docker Hub's API host is ``registry-1.docker.io``."""
    host = registry_host(ref)
    repo = repo_of(ref)
    name = repo.removeprefix(f"{host}/") if repo.startswith(f"{host}/") else repo
    if host == _HUB:
        return _HUB_API, name if "/" in name else f"library/{name}"
    return host, name


def docker_credentials(
    host: str,
    env: Mapping[str, str],
    helper_run: Callable[[list[str], str], str | None] | None = None,
) -> tuple[str, str] | None:
    """(user, password) for ``host`` as ``docker login`` stored them, or None: the
    registry's credential helper (``credHelpers``, else ``credsStore``), else the base64
    ``auth`` of its ``auths`` entry. An identity token (an OAuth refresh token) is not
    used: None."""
    config_dir = Path(env.get("DOCKER_CONFIG") or Path(env.get("HOME") or "~") / ".docker")
    try:
        config = json.loads((config_dir.expanduser() / "config.json").read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(config, dict):
        return None
    key = _HUB_CREDENTIALS if host == _HUB_API else host
    helpers = config.get("credHelpers") or {}
    helper = (helpers.get(key) if isinstance(helpers, dict) else None) or config.get("credsStore")
    if isinstance(helper, str) and helper:
        answer = (helper_run or _run_helper)([f"docker-credential-{helper}", "get"], key)
        if answer:
            try:
                found = json.loads(answer)
                user, secret = str(found.get("Username", "")), str(found.get("Secret", ""))
            except (ValueError, AttributeError):
                user = secret = ""
            if user and secret and user != "<token>":
                return user, secret
    auths = config.get("auths") or {}
    entry = auths.get(key) if isinstance(auths, dict) else None
    encoded = entry.get("auth") if isinstance(entry, dict) else None
    if isinstance(encoded, str) and encoded:
        try:
            user, _, secret = base64.b64decode(encoded).decode().partition(":")
        except (ValueError, UnicodeDecodeError):
            return None
        if user and secret:
            return user, secret
    return None


def _run_helper(command: list[str], key: str) -> str | None:
    try:
        proc = process.run(command, 30, stdin=key)
    except OSError:
        return None
    return proc.stdout if proc.returncode == 0 else None


def _challenge(header: str) -> tuple[str, dict[str, str]]:
    """``Bearer realm="...",service="..."`` -> ("bearer", {"realm": ..., ...})."""
    scheme, _, rest = header.strip().partition(" ")
    return scheme.lower(), dict(re.findall(r'(\w+)="([^"]*)"', rest))


def _basic(credentials: tuple[str, str]) -> str:
    return "Basic " + base64.b64encode(":".join(credentials).encode()).decode()


def _head(url: str, headers: Mapping[str, str]) -> tuple[int, Mapping[str, str]]:
    request = urllib.request.Request(url, method="HEAD", headers=dict(headers))
    try:
        with _OPENER.open(request, timeout=TIMEOUT) as answer:
            return answer.status, answer.headers
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers


def _token(params: Mapping[str, str], name: str, credentials: tuple[str, str] | None) -> str:
    """A bearer token to pull ``name`` from the realm of a 401's challenge."""
    query = {"scope": f"repository:{name}:pull"}
    if params.get("service"):
        query["service"] = params["service"]
    url = f"{params['realm']}?{urllib.parse.urlencode(query)}"
    headers = {"Authorization": _basic(credentials)} if credentials else {}
    request = urllib.request.Request(url, headers=headers)
    with urllib.request.urlopen(request, timeout=TIMEOUT) as answer:
        found = json.loads(answer.read())
    token = found.get("token") or found.get("access_token") if isinstance(found, dict) else None
    if not token:
        raise ValueError("the token service gave no token")
    return str(token)


class _Session:
    """HEAD requests to one repository, authorised once (bearer token or basic)."""

    def __init__(self, base: str, name: str, credentials: tuple[str, str] | None) -> None:
        self.base, self.name, self.credentials = base, name, credentials
        self.headers: dict[str, str] = {}

    def status(self, digest: str) -> int:
        url = f"{self.base}/v2/{self.name}/blobs/{digest}"
        status, answer = _head(url, self.headers)
        if status == 401 and not self.headers:
            scheme, params = _challenge(answer.get("WWW-Authenticate") or "")
            if scheme == "bearer" and params.get("realm"):
                token = _token(params, self.name, self.credentials)
                self.headers = {"Authorization": f"Bearer {token}"}
            elif scheme == "basic" and self.credentials:
                self.headers = {"Authorization": _basic(self.credentials)}
            else:
                return status
            status, _ = _head(url, self.headers)
        return status


def missing_blobs(
    ref: str,
    digests: Sequence[str],
    env: Mapping[str, str] | None = None,
    trace: Callable[[str], None] | None = None,
) -> BlobCheck:
    """Which of ``digests`` the registry of ``ref`` lacks (``HEAD`` each blob). Loopback
    registries are asked over HTTP first (as docker does, then HTTPS), others over HTTPS.
    An answer that is neither "there" nor "not found" (401 after authorising, 5xx, no
    connection) leaves the check undone: ``checked`` False and the reason."""
    host, name = blob_address(ref)
    environment = os.environ if env is None else env
    schemes = ("http", "https") if is_loopback(host) else ("https",)
    credentials = docker_credentials(host, environment)
    reason = "no blobs to check"
    for scheme in schemes:
        session = _Session(f"{scheme}://{host}", name, credentials)
        missing: list[str] = []
        try:
            for digest in dict.fromkeys(digests):
                if trace is not None:
                    trace(f"HEAD {session.base}/v2/{name}/blobs/{digest}")
                status = session.status(digest)
                if status == 404:
                    missing.append(digest)
                elif not (200 <= status < 400):
                    raise _Unanswered(f"HEAD of a blob answered {status}")
        except _Unanswered as exc:
            reason = f"{host}: {exc}"
            continue
        except (OSError, ValueError) as exc:  # URLError, timeouts, TLS, a bad token answer
            reason = f"{host}: {_plain(exc)}"
            continue
        return BlobCheck(tuple(missing))
    return BlobCheck((), checked=False, reason=reason)


class _Unanswered(Exception):
    pass


def _plain(exc: BaseException) -> str:
    """An exception as a short phrase, without URLs' query strings (no token in them)."""
    text = str(getattr(exc, "reason", None) or exc) or type(exc).__name__
    return re.sub(r"\?\S*", "", text)[:160]
