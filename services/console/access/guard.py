"""The one place that decides who may reach a route, applied to every request:

- safe methods (GET, HEAD): any signed-in user; otherwise pages redirect to ``/login`` and
  ``/api`` answers 401;
- any other method: a valid CSRF token of the session (form field ``csrf_token`` or header
  ``X-CSRF-Token``), else 403; then the user must be in ``console.operators``, else 403, unless
  the resource says readers may use it (sign-out).

Resources declare ``public = True`` (no session needed: ``/login``, ``/health``) or
``readers_may_act = True``; every other action is for operators, so a page added later is
guarded without doing anything. A public resource's actions (the sign-in form) need the login
token instead (:mod:`services.console.access.login_csrf`): there is no session to hold one.
"""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import quote

import falcon

from services.console.access.login_csrf import LoginTokens
from services.console.access.session import ANONYMOUS, COOKIE, Session, SessionCodec
from shared.config import ConsoleConfig
from shared.logfmt import kv

log = logging.getLogger("console.access")

SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"


def is_api(req: falcon.Request) -> bool:
    return req.path == "/api" or req.path.startswith("/api/")


def csrf_token_of(req: falcon.Request) -> str | None:
    header = req.get_header(CSRF_HEADER)
    if header:
        return header
    if (req.content_type or "").startswith("application/x-www-form-urlencoded"):
        form = req.get_media(default_when_empty={})
        value = form.get(CSRF_FIELD) if isinstance(form, dict) else None
        return value if isinstance(value, str) else None
    return None


def set_session_cookie(req: falcon.Request, resp: falcon.Response, codec: SessionCodec,
                       session: Session | None) -> None:
    secure = req.forwarded_scheme == "https"
    if session is None:
        resp.unset_cookie(COOKIE, path="/")
        return
    resp.set_cookie(COOKIE, codec.dump(session), max_age=int(codec.ttl), path="/",
                    secure=secure, http_only=True, same_site="Lax")


class Guard:
    def __init__(self, codec: SessionCodec, console: ConsoleConfig, anonymous: bool,
                 login_tokens: LoginTokens):
        self.codec = codec
        self.login_tokens = login_tokens
        self.console = console
        self.anonymous = anonymous  # the registry has no auth: everyone browses as anonymous

    def process_request(self, req: falcon.Request, resp: falcon.Response) -> None:
        session = self.codec.load(req.cookies.get(COOKIE))
        if session is not None and (session.credentials is None) != self.anonymous:
            session = None  # made while the registry's auth was configured otherwise
        if session is None and self.anonymous and req.method in SAFE_METHODS:
            session = self.codec.new(ANONYMOUS, None)
            req.context.new_session = session
        req.context.session = session
        req.context.operator = session is not None and self.console.is_operator(session.user)

    def process_resource(self, req: falcon.Request, resp: falcon.Response, resource: Any,
                         params: dict[str, Any]) -> None:
        session: Session | None = req.context.session
        if resource is None:
            return
        if getattr(resource, "public", False):
            if req.method not in SAFE_METHODS and \
                    not self.login_tokens.matches(req, csrf_token_of(req)):
                log.warning(kv("console action refused", reason="login csrf", path=req.path))
                raise falcon.HTTPForbidden(title="FORBIDDEN",
                                           description="missing or invalid CSRF token: reload "
                                                       "the sign-in page and try again")
            return
        if req.method in SAFE_METHODS:
            if session is None:
                if is_api(req):
                    raise falcon.HTTPUnauthorized(title="UNAUTHORIZED",
                                                  description="sign in at /login first")
                raise falcon.HTTPSeeOther("/login?next=" + quote(req.relative_uri, safe=""))
            return
        if session is None or not session.csrf_matches(csrf_token_of(req)):
            log.warning(kv("console action refused", reason="csrf", path=req.path,
                           user=session.user if session else None))
            raise falcon.HTTPForbidden(title="FORBIDDEN",
                                       description="missing or invalid CSRF token")
        if getattr(resource, "readers_may_act", False):
            return
        if not req.context.operator:
            log.warning(kv("console action refused", reason="not an operator", path=req.path,
                           user=session.user))
            raise falcon.HTTPForbidden(title="FORBIDDEN",
                                       description="only operators may do this")

    def process_response(self, req: falcon.Request, resp: falcon.Response, resource: Any,
                         req_succeeded: bool) -> None:
        new = getattr(req.context, "new_session", None)
        if new is not None:
            set_session_cookie(req, resp, self.codec, new)
