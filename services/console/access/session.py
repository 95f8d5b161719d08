"""The session: a cookie signed with a key derived from ``http.secret`` (itsdangerous), so any
console replica sharing the config reads it and nobody can forge or alter one.

It holds the user's name, the CSRF token of the session, and, because every registry call is
made with the user's own credentials, the password encrypted (Fernet, a second key derived from
``http.secret``): the cookie never carries it readable, and nothing renders it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass

from cryptography.fernet import Fernet, InvalidToken
from itsdangerous import BadSignature, URLSafeTimedSerializer

from services.console.registry.client import Credentials

COOKIE = "console_session"
ANONYMOUS = "anonymous"  # the user when the registry has no auth: it has no users to check


def derive_key(secret: str, purpose: str) -> bytes:
    """A key for one purpose; the secret itself is used for nothing but deriving."""
    return hmac.new(secret.encode(), f"durable-registry console {purpose}".encode(),
                    hashlib.sha256).digest()


@dataclass(frozen=True)
class Session:
    user: str
    csrf: str
    credentials: Credentials | None  # None: the registry has no auth

    def csrf_matches(self, token: str | None) -> bool:
        return bool(token) and hmac.compare_digest(self.csrf.encode(), str(token).encode())


class SessionCodec:
    def __init__(self, secret: str, ttl: float):
        self.ttl = ttl
        self._signer = URLSafeTimedSerializer(derive_key(secret, "session"),
                                              salt="console-session")
        self._fernet = Fernet(base64.urlsafe_b64encode(derive_key(secret, "credentials")))

    @staticmethod
    def new(user: str, credentials: Credentials | None) -> Session:
        return Session(user=user, csrf=secrets.token_urlsafe(32), credentials=credentials)

    def dump(self, session: Session) -> str:
        sealed = None
        if session.credentials is not None:
            sealed = self._fernet.encrypt(session.credentials.password.encode()).decode()
        return self._signer.dumps({"u": session.user, "x": session.csrf, "p": sealed})

    def load(self, value: str | None) -> Session | None:
        """The session in a cookie value; None for a missing, altered, foreign or expired one."""
        if not value:
            return None
        try:
            doc = self._signer.loads(value, max_age=self.ttl)
            user, csrf, sealed = doc["u"], doc["x"], doc["p"]
            credentials = None
            if sealed is not None:
                password = self._fernet.decrypt(sealed.encode()).decode()
                credentials = Credentials(user, password)
        except (BadSignature, InvalidToken, KeyError, TypeError, ValueError):
            return None
        if not isinstance(user, str) or not isinstance(csrf, str):
            return None
        return Session(user=user, csrf=csrf, credentials=credentials)
