"""The registry's HTTP API, called on behalf of the signed-in user.

Every call carries the user's credentials (HTTP Basic with htpasswd; with token auth a Bearer
token fetched from the realm, as docker does) and the console-read header
(:mod:`shared.console_reads`), so what the console reads never counts as a pull.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, quote, urljoin, urlparse

import requests

from services.console.registry.tokens import (
    Challenge,
    TokenCache,
    TokenRefused,
    fetch_token,
    parse_challenge,
)
from shared.console_reads import CONSOLE_READ_HEADER, console_read_token
from shared.logfmt import kv

log = logging.getLogger("console.registry")

MANIFEST_TYPES = (
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
    "application/vnd.docker.distribution.manifest.v2+json",
)
USER_AGENT = "durable-registry-console/1"
PAGE = 1000  # catalog and tag pages asked for at once


@dataclass(frozen=True)
class Credentials:
    username: str
    password: str = field(repr=False)


class RegistryError(Exception):
    """The registry answered with an error (its OCI error code and message, when given)."""

    def __init__(self, status: int, code: str = "", message: str = ""):
        super().__init__(f"{status} {code} {message}".strip())
        self.status = status
        self.code = code
        self.message = message


class Unauthorized(RegistryError):
    """The credentials were refused (401, or the token realm said no)."""


class RegistryUnavailable(Exception):
    """No answer from the registry (connection refused, timeout, TLS failure)."""


@dataclass(frozen=True)
class ManifestRef:
    digest: str
    media_type: str
    size: int


@dataclass(frozen=True)
class FetchedManifest:
    digest: str
    media_type: str
    content: bytes


def _error_of(r: requests.Response) -> tuple[str, str]:
    try:
        first = r.json()["errors"][0]
        return str(first.get("code", "")), str(first.get("message", ""))
    except (ValueError, KeyError, IndexError, TypeError):
        return "", ""


def _scope_for(method: str, path: str) -> str:
    """The token scope a call needs, so a cached token can be sent before any challenge."""
    if path == "/v2/":
        return ""
    if path.startswith("/v2/_catalog"):
        return "registry:catalog:*"
    name = path[len("/v2/"):]
    for marker in ("/manifests/", "/blobs/", "/tags/", "/referrers/"):
        if marker in name:
            name = name.split(marker, 1)[0]
            break
    return f"repository:{name}:{'delete' if method == 'DELETE' else 'pull'}"


class RegistryClient:
    """One per process: connection pools (one per thread) and the token cache."""

    def __init__(self, base_url: str, auth_mode: str, secret: str, verify: bool | str = True,
                 timeout: float = 10.0):
        self.base_url = base_url.rstrip("/")
        self.auth_mode = auth_mode  # "none" | "basic" | "bearer"
        self.secret = secret
        self.verify = verify
        self.timeout = timeout
        self.tokens = TokenCache()
        self._local = threading.local()
        # The environment's proxy and CA bundle for the registry's URL, read once: requests
        # reads them again on every call (each environment variable, twice), which cost a
        # third of a call's CPU, and a search makes some 85 calls.
        found = requests.Session().merge_environment_settings(self.base_url, {}, None, verify,
                                                              None)
        self._proxies: dict[str, str] = found["proxies"]
        self._verify: bool | str = found["verify"]

    def _http(self) -> requests.Session:
        """This thread's session for the registry, the environment already read."""
        http = getattr(self._local, "http", None)
        if http is None:
            http = self._local.http = requests.Session()
            http.trust_env = False
            http.headers["User-Agent"] = USER_AGENT
        return http

    def _realm_http(self) -> requests.Session:
        """This thread's session for token realms: another host, whose proxy the environment
        decides on each call (a token is fetched once per user and scope until it expires)."""
        http = getattr(self._local, "realm_http", None)
        if http is None:
            http = self._local.realm_http = requests.Session()
            http.headers["User-Agent"] = USER_AGENT
        return http

    def as_user(self, credentials: Credentials | None) -> RegistryCalls:
        return RegistryCalls(self, credentials)

    # ------------------------------------------------------------ one call
    def request(self, credentials: Credentials | None, method: str, path: str,
                params: dict[str, Any] | None = None, headers: dict[str, str] | None = None,
                stream: bool = False) -> requests.Response:
        headers = {**(headers or {}), CONSOLE_READ_HEADER: console_read_token(self.secret)}
        scope = _scope_for(method, path)
        user = credentials.username if credentials else ""
        if credentials is not None and self.auth_mode == "basic":
            auth: Any = (credentials.username, credentials.password)
        else:
            auth = None
            token = self.tokens.get(user, scope) if credentials is not None else None
            if token:
                headers["Authorization"] = f"Bearer {token}"
        r = self._send(method, path, params, headers, auth, stream)
        if r.status_code == 401 and credentials is not None and self.auth_mode == "bearer":
            challenge = parse_challenge(r.headers.get("WWW-Authenticate"))
            if challenge is not None and challenge.scheme == "bearer":
                r.close()
                token = self._token(credentials, challenge)
                self.tokens.put(user, scope, *token)
                headers["Authorization"] = f"Bearer {token[0]}"
                r = self._send(method, path, params, headers, None, stream)
                if r.status_code == 401:
                    # The realm took the credentials; the token lacks this scope (the
                    # reference answers 401 there, where we answer 403).
                    code, message = _error_of(r)
                    raise RegistryError(403, code or "DENIED", message)
        if r.status_code == 401:
            code, message = _error_of(r)
            raise Unauthorized(401, code or "UNAUTHORIZED", message)
        if r.status_code >= 400:
            code, message = _error_of(r)
            raise RegistryError(r.status_code, code, message)
        return r

    def _send(self, method: str, path: str, params: dict[str, Any] | None,
              headers: dict[str, str], auth: Any, stream: bool) -> requests.Response:
        try:
            return self._http().request(method, self.base_url + path, params=params,
                                        headers=headers, auth=auth, stream=stream,
                                        timeout=self.timeout, verify=self._verify,
                                        proxies=self._proxies, allow_redirects=False)
        except requests.RequestException as exc:
            log.warning(kv("registry unreachable", url=self.base_url, error=type(exc).__name__))
            raise RegistryUnavailable(f"{type(exc).__name__} calling the registry") from None

    def _token(self, credentials: Credentials, challenge: Challenge) -> tuple[str, float]:
        try:
            return fetch_token(self._realm_http(), challenge, credentials.username,
                               credentials.password, self.timeout, self.verify)
        except TokenRefused as exc:
            raise Unauthorized(401, "UNAUTHORIZED", str(exc)) from None
        except requests.RequestException as exc:
            raise RegistryUnavailable(f"{type(exc).__name__} calling the token realm") from None


def _next_last(r: requests.Response) -> str | None:
    """The ``last`` of the ``Link: <...?last=X&n=N>; rel="next"`` header, if any."""
    link = r.links.get("next", {}).get("url")
    if not link:
        return None
    values = parse_qs(urlparse(urljoin(r.url, link)).query).get("last")
    return values[0] if values else None


def _repo(name: str) -> str:
    return quote(name, safe="/")


class RegistryCalls:
    """The calls the console makes, as one user."""

    def __init__(self, client: RegistryClient, credentials: Credentials | None):
        self.client = client
        self.credentials = credentials

    def _call(self, method: str, path: str, **kw: Any) -> requests.Response:
        return self.client.request(self.credentials, method, path, **kw)

    def ping(self) -> None:
        self._call("GET", "/v2/").close()

    def _pages(self, path: str, key: str) -> Iterator[str]:
        last: str | None = None
        while True:
            params: dict[str, Any] = {"n": PAGE}
            if last:
                params["last"] = last
            r = self._call("GET", path, params=params)
            items = r.json().get(key) or []
            yield from items
            last = _next_last(r)
            if not last or not items:
                return

    @property
    def user(self) -> str:
        """Whose calls these are: the key of what the console caches per user."""
        return self.credentials.username if self.credentials else ""

    def repositories(self) -> Iterator[str]:
        """Every name in the catalog, a page of ``PAGE`` at a time, yielded as each page
        arrives."""
        return self._pages("/v2/_catalog", "repositories")

    def catalog_page(self, n: int, last: str | None = None) -> tuple[list[str], str | None]:
        """One page of the catalog (``?n=&last=``): names, and the ``last`` of the next page."""
        params: dict[str, Any] = {"n": n}
        if last:
            params["last"] = last
        r = self._call("GET", "/v2/_catalog", params=params)
        names = list(r.json().get("repositories") or [])
        return names, (_next_last(r) if names else None)

    def tags(self, name: str) -> list[str]:
        try:
            return list(self._pages(f"/v2/{_repo(name)}/tags/list", "tags"))
        except RegistryError as exc:
            if exc.status == 404:
                return []
            raise

    def manifest_ref(self, name: str, reference: str) -> ManifestRef:
        r = self._call("HEAD", f"/v2/{_repo(name)}/manifests/{quote(reference)}",
                       headers={"Accept": ", ".join(MANIFEST_TYPES)})
        return ManifestRef(digest=r.headers.get("Docker-Content-Digest", ""),
                           media_type=r.headers.get("Content-Type", "").split(";")[0],
                           size=int(r.headers.get("Content-Length") or 0))

    def manifest(self, name: str, reference: str) -> FetchedManifest:
        r = self._call("GET", f"/v2/{_repo(name)}/manifests/{quote(reference)}",
                       headers={"Accept": ", ".join(MANIFEST_TYPES)})
        return FetchedManifest(digest=r.headers.get("Docker-Content-Digest", ""),
                               media_type=r.headers.get("Content-Type", "").split(";")[0],
                               content=r.content)

    def blob_head(self, name: str, digest: str, limit: int) -> bytes | None:
        """The blob's bytes if it is at most ``limit`` bytes long (read as a stream), else None."""
        r = self._call("GET", f"/v2/{_repo(name)}/blobs/{quote(digest)}", stream=True)
        try:
            out = bytearray()
            for chunk in r.iter_content(65536):
                out += chunk
                if len(out) > limit:
                    return None
            return bytes(out)
        finally:
            r.close()

    def referrers(self, name: str, digest: str) -> list[dict[str, Any]]:
        try:
            r = self._call("GET", f"/v2/{_repo(name)}/referrers/{quote(digest)}")
        except RegistryError as exc:
            if exc.status in (404, 405):  # a registry without the referrers API
                return []
            raise
        return list(r.json().get("manifests") or [])

    def delete_tag(self, name: str, tag: str) -> None:
        self._call("DELETE", f"/v2/{_repo(name)}/manifests/{quote(tag)}").close()
