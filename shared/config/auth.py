"""The ``auth`` section: htpasswd or token."""

from __future__ import annotations

from dataclasses import dataclass

from shared.config.errors import ConfigError
from shared.config.section import Section


@dataclass(frozen=True)
class HtpasswdConfig:
    realm: str
    path: str


@dataclass(frozen=True)
class TokenAuthConfig:
    realm: str
    service: str
    issuer: str
    rootcertbundle: str | None = None
    jwks: str | None = None
    autoredirect: bool = False
    # Where the realm points when autoredirect is on, on the Host the client used.
    autoredirectpath: str = "/auth/token"
    signingalgorithms: tuple[str, ...] = ()


@dataclass(frozen=True)
class AuthConfig:
    htpasswd: HtpasswdConfig | None = None
    token: TokenAuthConfig | None = None



def parse_auth(auth: Section) -> AuthConfig:
    kinds = [k for k in auth.raw]
    htpasswd = token = None
    if "htpasswd" in kinds:
        h = auth.section("htpasswd")
        htpasswd = HtpasswdConfig(
            realm=h.str("realm", "Registry Realm") or "Registry Realm",
            path=h.str("path", required=True) or "",
        )
    if "token" in kinds:
        t = auth.section("token")
        autoredirect = t.bool("autoredirect")
        token = TokenAuthConfig(
            realm=t.str("realm", required=True) or "",
            service=t.str("service", required=True) or "",
            issuer=t.str("issuer", required=True) or "",
            rootcertbundle=t.str("rootcertbundle"),
            jwks=t.str("jwks"),
            autoredirect=autoredirect,
            autoredirectpath=_autoredirectpath(t, autoredirect),
            signingalgorithms=t.strings("signingalgorithms"),
        )
        if not token.rootcertbundle and not token.jwks:
            raise ConfigError("auth.token.rootcertbundle", "is required (or auth.token.jwks)")
    if htpasswd and token:
        raise ConfigError("auth", "configure only one of htpasswd and token")
    return AuthConfig(htpasswd=htpasswd, token=token)


def _autoredirectpath(t: Section, autoredirect: bool) -> str:
    """``auth.token.autoredirectpath``. The reference reads it only when ``autoredirect`` is on
    (otherwise it is accepted and unused, not reported as ignored), takes an empty one as the
    default, and puts a path without a leading ``/`` under the host all the same."""
    default = TokenAuthConfig.autoredirectpath
    if not autoredirect:
        t.value("autoredirectpath")
        return default
    path = t.str("autoredirectpath") or default
    return path if path.startswith("/") else "/" + path
