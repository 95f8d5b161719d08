"""Signing in with the registry's own users: the registry (or its token realm) checks them."""

from __future__ import annotations

import logging

from services.console.registry.client import Credentials, RegistryClient
from shared.logfmt import kv

log = logging.getLogger("console.access")


def verify(client: RegistryClient, username: str, password: str) -> Credentials:
    """The credentials if the registry takes them: with htpasswd, ``GET /v2/`` with Basic;
    with token auth, a token from the realm (as ``docker login`` gets one) and ``GET /v2/`` with
    it. Raises :class:`Unauthorized` or :class:`RegistryUnavailable`."""
    credentials = Credentials(username, password)
    try:
        client.as_user(credentials).ping()
    except Exception as exc:
        log.info(kv("console sign-in refused", user=username, reason=type(exc).__name__))
        raise
    log.info(kv("console sign-in", user=username))
    return credentials
