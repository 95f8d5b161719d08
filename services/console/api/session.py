"""``GET /api/session``: who is signed in, whether they may act, the CSRF token for actions."""

from __future__ import annotations

import falcon

from services.console.api.encoding import send_json


class SessionApi:
    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        session = req.context.session
        send_json(resp, {"user": session.user, "operator": req.context.operator,
                         "csrf_token": session.csrf})


class HealthApi:
    """``GET /health``: the console answers (for probes; it needs no session)."""

    public = True

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        send_json(resp, {"status": "ok"})
