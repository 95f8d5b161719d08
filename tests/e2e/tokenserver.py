"""A small token server for end-to-end tests, per Docker's token authentication specification.

``GET /token?service=...&scope=repository:NAME:ACTIONS[&scope=...]`` with HTTP Basic
credentials of a configured user answers ``{"token", "access_token", "expires_in",
"issued_at"}``: an RS256 JWT whose header carries only the reference's libtrust ``kid`` and
whose ``access`` claim grants, per requested scope, the requested actions this user's policy
allows (possibly none, as Docker's token servers do). The signing key's self-signed
certificate is written to :attr:`TokenServer.rootcertbundle` for the registry's
``auth.token.rootcertbundle``.

:class:`Signer` also issues tokens directly, so tests can craft expired tokens, tokens for
another audience, or tokens signed by a key the registry does not trust.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import fnmatch
import json
import threading
import time
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import jwt
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from services.registry.auth.libtrust import key_id

# user -> [(repository glob, actions allowed)]
Policy = dict[str, list[tuple[str, set[str]]]]


@dataclass
class Signer:
    """An RSA key with a self-signed certificate; issues RS256 tokens with a libtrust kid."""

    key: rsa.RSAPrivateKey
    certificate: x509.Certificate

    @classmethod
    def generate(cls, common_name: str = "e2e token signer") -> Signer:
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
        now = dt.datetime.now(dt.UTC)
        cert = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(hours=1))
            .not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256())
        )
        return cls(key, cert)

    @property
    def kid(self) -> str:
        return key_id(self.key.public_key())

    def certificate_pem(self) -> bytes:
        return self.certificate.public_bytes(serialization.Encoding.PEM)

    def issue(self, subject: str, access: list[dict[str, Any]], *, issuer: str,
              audience: str, expires_in: int = 300, issued_at: float | None = None) -> str:
        now = int(time.time() if issued_at is None else issued_at)
        claims = {
            "iss": issuer, "sub": subject, "aud": audience,
            "exp": now + expires_in, "nbf": now - 1, "iat": now,
            "jti": uuid.uuid4().hex, "access": access,
        }
        return jwt.encode(claims, self.key, algorithm="RS256",
                          headers={"kid": self.kid, "typ": "JWT"})


def parse_scope(scope: str) -> tuple[str, str, list[str]] | None:
    """``repository:demo/app:pull,push`` -> (type, name, actions); a name may hold ``:``."""
    kind, sep, rest = scope.partition(":")
    name, sep2, actions = rest.rpartition(":")
    if not sep or not sep2 or not name:
        return None
    return kind, name, [a for a in actions.split(",") if a]


def access(kind: str, name: str, *actions: str) -> dict[str, Any]:
    """One entry of a token's ``access`` claim."""
    return {"type": kind, "name": name, "actions": list(actions)}


@dataclass
class TokenServer:
    """``with TokenServer(tmp, users, policy) as ts:`` serves ``ts.realm``."""

    workdir: Path
    users: dict[str, str]  # user -> password
    policy: Policy
    service: str = "e2e-registry"
    issuer: str = "e2e-token-issuer"
    expires_in: int = 300
    path: str = "/token"  # where tokens are served; /auth/token behind a registry's autoredirect
    signer: Signer = field(default_factory=Signer.generate)
    requests: list[dict[str, Any]] = field(default_factory=list)  # what was asked, by whom

    def __post_init__(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.rootcertbundle = self.workdir / "token-rootcertbundle.pem"
        self.rootcertbundle.write_bytes(self.signer.certificate_pem())
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def realm(self) -> str:
        return f"http://127.0.0.1:{self.port}{self.path}"

    @property
    def port(self) -> int:
        return self._server.server_address[1]

    def registry_auth_config(self) -> dict[str, Any]:
        """The registry's ``auth`` section trusting this server."""
        return {"token": {"realm": self.realm, "service": self.service, "issuer": self.issuer,
                          "rootcertbundle": str(self.rootcertbundle)}}

    def allowed(self, user: str, kind: str, name: str, wanted: list[str]) -> list[str]:
        if kind != "repository":
            return []
        allowed: set[str] = set()
        for pattern, actions in self.policy.get(user, []):
            if fnmatch.fnmatchcase(name, pattern):
                allowed |= actions
        return [a for a in wanted if a in allowed or "*" in allowed]

    def token_for(self, user: str, scopes: list[str], **overrides: Any) -> str:
        """A token for ``user`` as the server would issue it for these scopes."""
        granted = []
        for scope in scopes:
            parsed = parse_scope(scope)
            if parsed is not None:
                kind, name, wanted = parsed
                granted.append(access(kind, name, *self.allowed(user, kind, name, wanted)))
        options = {"issuer": self.issuer, "audience": self.service,
                   "expires_in": self.expires_in, **overrides}
        return self.signer.issue(user, granted, **options)

    def _basic_user(self, header: str | None) -> str | None:
        kind, _, encoded = (header or "").partition(" ")
        if kind.lower() != "basic":
            return None
        try:
            user, _, password = base64.b64decode(encoded.strip()).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return None
        return user if self.users.get(user) == password else None

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:  # quiet
                pass

            def _json(self, status: int, body: dict[str, Any], **headers: str) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for name, value in headers.items():
                    self.send_header(name.replace("_", "-"), value)
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:  # noqa: N802
                url = urlparse(self.path)
                query = parse_qs(url.query)
                user = server._basic_user(self.headers.get("Authorization"))
                scopes = [s for value in query.get("scope", []) for s in value.split(" ") if s]
                with server._lock:
                    server.requests.append({"user": user, "service": query.get("service"),
                                            "scopes": scopes})
                if url.path != server.path:
                    self._json(404, {"details": "not found"})
                    return
                if query.get("service") != [server.service]:
                    self._json(400, {"details": "unknown service"})
                    return
                if user is None:
                    self._json(401, {"details": "bad credentials"},
                               WWW_Authenticate='Basic realm="e2e-token"')
                    return
                token = server.token_for(user, scopes)
                issued = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
                self._json(200, {"token": token, "access_token": token,
                                 "expires_in": server.expires_in, "issued_at": issued})

        return Handler

    def __enter__(self) -> TokenServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)
