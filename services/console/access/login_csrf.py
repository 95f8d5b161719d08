"""Login CSRF: the sign-in form carries a token too, so another site cannot sign a browser in
to the console as the attacker's user (and have the person act under that account).

There is no session yet, so the token is double-submitted: a random value in a cookie signed with
a key derived from ``http.secret`` (``HttpOnly``, ``SameSite=Lax``, sent to ``/login`` only) and
the same value in the form's ``csrf_token`` field. Another site can make a browser post the form
but can neither read nor set that cookie.
"""

from __future__ import annotations

import hmac
import secrets

import falcon
from itsdangerous import BadSignature, URLSafeTimedSerializer

from services.console.access.session import derive_key

LOGIN_COOKIE = "console_login"
LOGIN_PATH = "/login"


class LoginTokens:
    def __init__(self, secret: str, ttl: float):
        self.ttl = ttl
        self._signer = URLSafeTimedSerializer(derive_key(secret, "login"), salt="console-login")

    def _load(self, value: str | None) -> str | None:
        if not value:
            return None
        try:
            token = self._signer.loads(value, max_age=self.ttl)
        except (BadSignature, TypeError, ValueError):
            return None
        return token if isinstance(token, str) else None

    def issue(self, req: falcon.Request, resp: falcon.Response) -> str:
        """The token for the form being served (the cookie's, if still good: two tabs work)."""
        token = self._load(req.cookies.get(LOGIN_COOKIE)) or secrets.token_urlsafe(32)
        resp.set_cookie(LOGIN_COOKIE, self._signer.dumps(token), max_age=int(self.ttl),
                        path=LOGIN_PATH, secure=req.forwarded_scheme == "https", http_only=True,
                        same_site="Lax")
        return token

    def matches(self, req: falcon.Request, submitted: str | None) -> bool:
        expected = self._load(req.cookies.get(LOGIN_COOKIE))
        return bool(expected) and bool(submitted) and hmac.compare_digest(
            str(expected).encode(), str(submitted).encode())

    @staticmethod
    def spend(resp: falcon.Response) -> None:
        """Signed in: the form's token is done with."""
        resp.unset_cookie(LOGIN_COOKIE, path=LOGIN_PATH)
