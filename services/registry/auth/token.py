"""``auth.token``: Bearer JWTs from a token server, per Docker's token authentication spec.

The signing key is found as the reference finds it: an ``x5c`` certificate chain that ends at a
certificate of ``rootcertbundle``; or a ``kid`` (libtrust form, or a JWKS key id) naming a key
of the bundle / JWKS file; or an embedded ``jwk`` whose key is one of those. Then the signature,
``exp``/``nbf`` (with the reference's 60 s leeway), ``iss`` and ``aud`` (== service) are checked,
and the ``access`` claim must grant every action the request needs.

With ``autoredirect`` the challenge's realm is not the configured one but a URL on the host the
client addressed (see :func:`redirect_realm`), for a token server behind the same front door.
"""

from __future__ import annotations

import base64
import binascii
import logging
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

import jwt
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, rsa
from cryptography.hazmat.primitives.serialization import Encoding

from services.registry.auth.base import (
    AccessScope,
    Authenticator,
    AuthError,
    Principal,
    authorization,
    header,
)
from services.registry.auth.libtrust import key_id
from shared.config import ConfigError, TokenAuthConfig
from shared.logfmt import kv

log = logging.getLogger(__name__)

LEEWAY_SECONDS = 60
DEFAULT_ALGORITHMS = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512",
                      "ES256", "ES384", "ES512", "EdDSA")
# The keys of DEFAULT_ALGORITHMS' families; any other kind of key in a header is refused.
_PUBLIC_KEY_TYPES = (rsa.RSAPublicKey, ec.EllipticCurvePublicKey, ed25519.Ed25519PublicKey,
                     ed448.Ed448PublicKey)
# What Go's net/url leaves unescaped in a path besides letters, digits and "-._~" (which
# quote() never escapes either): the realm's path comes out as the reference's does.
_GO_PATH_SAFE = "$&+,/:;=@"


class InvalidToken(Exception):
    """Why a token was refused; for the log, never sent as is."""


def load_bundle(path: str) -> list[x509.Certificate]:
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as exc:
        raise ConfigError("auth.token.rootcertbundle", f"cannot read {path}: {exc.strerror}") \
            from None
    try:
        certs = x509.load_pem_x509_certificates(data)
    except ValueError as exc:
        raise ConfigError("auth.token.rootcertbundle", f"{path}: {exc}") from None
    if not certs:
        raise ConfigError("auth.token.rootcertbundle", f"{path} holds no certificate")
    return certs


def load_jwks(path: str) -> dict[str, Any]:
    try:
        with open(path, encoding="utf-8") as f:
            keyset = jwt.PyJWKSet.from_json(f.read())
    except (OSError, jwt.PyJWTError, ValueError) as exc:
        raise ConfigError("auth.token.jwks", f"cannot load {path}: {exc}") from None
    return {k.key_id: k.key for k in keyset.keys if k.key_id}


def redirect_realm(headers: Mapping[str, str], path: str) -> str:
    """The realm ``autoredirect`` sends, built as the reference's ``buildAutoRedirectURL``:
    the scheme is ``X-Forwarded-Proto`` when present, else ``https`` (never the scheme the
    request came over, which the reference does not look at); the host is the request's
    ``Host`` header as it came (not ``X-Forwarded-Host``, not ``http.host``); then ``path``.
    Of a list of protocols (one per proxy, or repeated headers joined by the WSGI server) the
    first is taken, as Go's ``Header.Get`` takes the first header line."""
    proto = (header(headers, "X-Forwarded-Proto") or "").split(",")[0].strip()
    host = header(headers, "Host") or ""
    return f"{proto or 'https'}://{host}{quote(path, safe=_GO_PATH_SAFE)}"


def _is_ca(cert: x509.Certificate) -> bool:
    try:
        return bool(cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca)
    except x509.ExtensionNotFound:
        return False


class TokenAuthenticator(Authenticator):
    kind = "token"

    def __init__(self, realm: str, service: str, issuer: str,
                 roots: list[x509.Certificate], jwks: dict[str, Any] | None = None,
                 algorithms: tuple[str, ...] = (), redirect_path: str | None = None):
        self.realm = realm
        # autoredirect: the realm is this path on the request's host; None: ``realm``.
        self.redirect_path = redirect_path
        self.service = service
        self.issuer = issuer
        self.roots = roots
        self._root_der = {r.public_bytes(Encoding.DER) for r in roots}
        self.keys: dict[str, Any] = {key_id(r.public_key()): r.public_key() for r in roots}
        self.keys.update(jwks or {})
        self.algorithms = tuple(algorithms) or DEFAULT_ALGORITHMS

    @classmethod
    def from_config(cls, config: TokenAuthConfig) -> TokenAuthenticator:
        roots = load_bundle(config.rootcertbundle) if config.rootcertbundle else []
        jwks = load_jwks(config.jwks) if config.jwks else None
        return cls(config.realm, config.service, config.issuer, roots, jwks,
                   config.signingalgorithms,
                   config.autoredirectpath if config.autoredirect else None)

    # ------------------------------------------------------------ challenges

    def realm_for(self, headers: Mapping[str, str]) -> str:
        if self.redirect_path is None:
            return self.realm
        return redirect_realm(headers, self.redirect_path)

    def challenge(self, scope: AccessScope, error: str | None = None,
                  headers: Mapping[str, str] | None = None) -> str:
        """The ``WWW-Authenticate`` value; ``headers`` are the request's (the realm of
        ``autoredirect`` is built from them)."""
        value = f'Bearer realm="{self.realm_for(headers or {})}",service="{self.service}"'
        param = scope.scope_param()
        if param:
            value += f',scope="{param}"'
        if error:
            value += f',error="{error}"'
        return value

    # ------------------------------------------------------------ verification

    def authenticate(self, headers: Mapping[str, str], scope: AccessScope) -> Principal:
        given = authorization(headers)
        kind, _, token = (given or "").strip().partition(" ")
        if kind.lower() != "bearer" or not token.strip():
            raise AuthError.unauthorized(self.challenge(scope, headers=headers), scope.detail())
        try:
            claims = self.verify(token.strip())
        except InvalidToken as exc:
            log.info(kv("token refused", auth="token", reason=exc))
            raise AuthError.unauthorized(self.challenge(scope, "invalid_token", headers),
                                         scope.detail(), message="invalid token") from None
        if not self.grants(claims.get("access"), scope):
            raise AuthError.denied(self.challenge(scope, "insufficient_scope", headers),
                                   scope.detail(), message="insufficient scope")
        return Principal(str(claims.get("sub") or ""))

    def verify(self, token: str) -> dict[str, Any]:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as exc:
            raise InvalidToken(f"malformed token: {exc}") from None
        alg = header.get("alg")
        if alg not in self.algorithms:
            raise InvalidToken(f"signing algorithm {alg!r} not allowed")
        key = self.signing_key(header)
        try:
            return jwt.decode(
                token, key, algorithms=[alg], audience=self.service, issuer=self.issuer,
                leeway=LEEWAY_SECONDS, options={"require": ["exp", "iss", "aud"]})
        except (jwt.PyJWTError, TypeError, ValueError) as exc:
            raise InvalidToken(str(exc) or type(exc).__name__) from None

    def signing_key(self, header: Mapping[str, Any]) -> Any:
        if header.get("x5c"):
            return self._chain_key(header["x5c"])
        if header.get("kid"):
            key = self.keys.get(str(header["kid"]))
            if key is None:
                raise InvalidToken(f"unknown kid {header['kid']!r}")
            return key
        if header.get("jwk"):
            jwk = header["jwk"]
            if not isinstance(jwk, dict):
                raise InvalidToken("jwk is not a JSON object")
            try:
                key = jwt.PyJWK(jwk).key
            except (jwt.PyJWTError, TypeError, ValueError, KeyError) as exc:
                raise InvalidToken(f"bad jwk: {exc}") from None
            # Only a public key names a key of the bundle: an HMAC secret ("kty": "oct") or a
            # private key (with "d") is no verification key, whatever it holds.
            if not isinstance(key, _PUBLIC_KEY_TYPES):
                raise InvalidToken(f"the embedded jwk is not a public key ({type(key).__name__})")
            trusted = self.keys.get(key_id(key))
            if trusted is None:
                raise InvalidToken("the embedded jwk is not a trusted key")
            return trusted
        raise InvalidToken("the token names no key (x5c, kid or jwk)")

    def _chain_key(self, x5c: Any) -> Any:
        if not isinstance(x5c, list):
            raise InvalidToken("x5c is not a list")
        try:
            chain = [x509.load_der_x509_certificate(base64.b64decode(c, validate=True))
                     for c in x5c]
        except (binascii.Error, ValueError, TypeError) as exc:
            raise InvalidToken(f"bad x5c certificate: {exc}") from None
        now = datetime.now(UTC)
        for cert in chain:
            if not cert.not_valid_before_utc <= now <= cert.not_valid_after_utc:
                raise InvalidToken("an x5c certificate is expired or not yet valid")
        try:
            for cert, issuer in zip(chain, chain[1:], strict=False):
                if not _is_ca(issuer):
                    raise InvalidToken("an x5c intermediate is not a CA")
                cert.verify_directly_issued_by(issuer)
            if not self._anchored(chain[-1]):
                raise InvalidToken("the x5c chain does not end at a rootcertbundle certificate")
        except (InvalidSignature, ValueError, TypeError) as exc:
            raise InvalidToken(f"x5c chain does not verify: {exc}") from None
        return chain[0].public_key()

    def _anchored(self, cert: x509.Certificate) -> bool:
        if cert.public_bytes(Encoding.DER) in self._root_der:
            return True
        for root in self.roots:
            try:
                cert.verify_directly_issued_by(root)
                return True
            except (InvalidSignature, ValueError, TypeError):
                continue
        return False

    @staticmethod
    def grants(access: Any, scope: AccessScope) -> bool:
        """Whether the ``access`` claim grants every part of ``scope``."""
        return all(TokenAuthenticator._grants_part(access, part) for part in scope.parts())

    @staticmethod
    def _grants_part(access: Any, scope: AccessScope) -> bool:
        resource = scope.resource
        if resource is None:  # /v2/: any valid token
            return True
        granted: set[str] = set()
        for entry in access if isinstance(access, list) else []:
            if isinstance(entry, dict) and (entry.get("type"), entry.get("name")) == resource:
                actions = entry.get("actions")
                if isinstance(actions, list):
                    granted.update(str(a) for a in actions)
        return "*" in granted or all(a in granted for a in scope.actions)

