"""``/login`` (fields ``username``, ``password``) and ``/logout``."""

from __future__ import annotations

import falcon

from services.console.access.guard import set_session_cookie
from services.console.access.login_csrf import LoginTokens
from services.console.access.signin import verify
from services.console.registry import RegistryUnavailable, Unauthorized
from services.console.views import Views


def _safe_next(value: str | None) -> str:
    """Only a path of this site: never an absolute URL (an open redirect)."""
    if value and value.startswith("/") and not value.startswith("//") and "\\" not in value:
        return value
    return "/"


class LoginPage:
    public = True

    def __init__(self, views: Views, anonymous: bool, login_tokens: LoginTokens):
        self.views = views
        self.anonymous = anonymous
        self.login_tokens = login_tokens

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        self._form(req, resp, _safe_next(req.get_param("next")))

    def _form(self, req: falcon.Request, resp: falcon.Response, target: str,
              status: str = falcon.HTTP_200, error: str | None = None, username: str = "") -> None:
        self.views.render(req, resp, "login.html", status=status, next=target,
                          anonymous=self.anonymous, error=error, username=username,
                          login_token=self.login_tokens.issue(req, resp))

    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        form = req.get_media(default_when_empty={})
        username = str(form.get("username") or "").strip()
        password = str(form.get("password") or "")
        target = _safe_next(form.get("next"))
        if self.anonymous:
            raise falcon.HTTPSeeOther(target)
        error, status = None, falcon.HTTP_401
        if not username or not password:
            error = "Enter a user name and a password."
        else:
            try:
                credentials = verify(self.views.client, username, password)
            except Unauthorized:
                error = "The registry did not accept this user name and password."
            except RegistryUnavailable:
                error, status = "The registry does not answer; try again later.", falcon.HTTP_502
            else:
                session = self.views.codec.new(username, credentials)
                req.context.session = session
                set_session_cookie(req, resp, self.views.codec, session)
                self.login_tokens.spend(resp)
                raise falcon.HTTPSeeOther(target)
        self._form(req, resp, target, status, error, username)


class LogoutAction:
    readers_may_act = True

    def __init__(self, views: Views):
        self.views = views

    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        set_session_cookie(req, resp, self.views.codec, None)
        raise falcon.HTTPSeeOther("/login")
