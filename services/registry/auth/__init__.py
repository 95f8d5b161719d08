"""Authentication (``auth.htpasswd`` or ``auth.token``), free of HTTP framework code: routes
pass the request headers and the access they need, and turn an :class:`AuthError` into the
spec's error body and ``WWW-Authenticate`` header."""

from __future__ import annotations

from services.registry.auth.base import AccessScope, Authenticator, AuthError, Principal
from services.registry.auth.htpasswd import HtpasswdAuthenticator
from services.registry.auth.token import TokenAuthenticator
from shared.config import Config

__all__ = ["AccessScope", "AuthError", "Authenticator", "HtpasswdAuthenticator", "Principal",
           "TokenAuthenticator", "build_authenticator"]


def build_authenticator(config: Config) -> Authenticator | None:
    """The configured authenticator, or None when ``auth`` is unset (everyone may do
    anything). Raises ConfigError when the htpasswd file or certificate bundle is unusable."""
    if config.auth.htpasswd is not None:
        return HtpasswdAuthenticator.from_config(config.auth.htpasswd)
    if config.auth.token is not None:
        return TokenAuthenticator.from_config(config.auth.token)
    return None
