"""Bearer tokens the way docker gets them: read the registry's challenge, ask the realm with
the user's credentials for the scope it names, keep the token until shortly before it expires."""

from __future__ import annotations

import re
import threading
import time
from dataclasses import dataclass

import requests

_PARAM = re.compile(r'(\w+)="([^"]*)"')
DEFAULT_TOKEN_SECONDS = 60  # the specification's default when expires_in is absent
EXPIRY_MARGIN_SECONDS = 10


@dataclass(frozen=True)
class Challenge:
    scheme: str  # "basic" | "bearer"
    params: dict[str, str]

    @property
    def scopes(self) -> list[str]:
        return [s for s in self.params.get("scope", "").split(" ") if s]


def parse_challenge(value: str | None) -> Challenge | None:
    if not value:
        return None
    scheme, _, rest = value.strip().partition(" ")
    return Challenge(scheme.lower(), dict(_PARAM.findall(rest)))


class TokenRefused(Exception):
    """The realm refused the user's credentials (or answered something else than a token)."""


class TokenCache:
    """Tokens per (user, scope) in this process."""

    def __init__(self) -> None:
        self._tokens: dict[tuple[str, str], tuple[str, float]] = {}
        self._lock = threading.Lock()

    def get(self, user: str, scope: str) -> str | None:
        with self._lock:
            found = self._tokens.get((user, scope))
        if found is None or found[1] <= time.monotonic():
            return None
        return found[0]

    def put(self, user: str, scope: str, token: str, expires_in: float) -> None:
        until = time.monotonic() + max(expires_in - EXPIRY_MARGIN_SECONDS, 1.0)
        with self._lock:
            if len(self._tokens) > 10_000:  # bound the memory of a long-running console
                now = time.monotonic()
                self._tokens = {k: v for k, v in self._tokens.items() if v[1] > now}
            self._tokens[(user, scope)] = (token, until)


def fetch_token(http: requests.Session, challenge: Challenge, username: str, password: str,
                timeout: float, verify: bool | str) -> tuple[str, float]:
    """Ask the challenge's realm for a token for its scopes, as ``docker login``/``pull`` do."""
    realm = challenge.params.get("realm")
    if not realm:
        raise TokenRefused("the registry's challenge names no realm")
    params: list[tuple[str, str]] = [("account", username)]
    if challenge.params.get("service"):
        params.append(("service", challenge.params["service"]))
    params.extend(("scope", s) for s in challenge.scopes)
    r = http.get(realm, params=params, auth=(username, password), timeout=timeout,
                 verify=verify)
    if r.status_code != 200:
        raise TokenRefused(f"the realm answered {r.status_code}")
    try:
        doc = r.json()
    except ValueError:
        raise TokenRefused("the realm's answer is not JSON") from None
    token = doc.get("token") or doc.get("access_token")
    if not isinstance(token, str) or not token:
        raise TokenRefused("the realm's answer holds no token")
    expires_in = doc.get("expires_in")
    seconds = float(expires_in) if isinstance(expires_in, int | float) and expires_in > 0 \
        else DEFAULT_TOKEN_SECONDS
    return token, seconds
