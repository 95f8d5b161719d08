"""``/endpoints``, ``/endpoints/<name>`` and their actions: pause, resume, send a test event,
resend a time range (the count first, then on confirmation)."""

from __future__ import annotations

from urllib.parse import quote, urlencode

import falcon

from services.console.history.endpoints import endpoint_page, endpoints
from services.console.history.times import BadFilter, parse_choice, parse_time
from services.console.lookups import endpoint_or_404
from services.console.pages.forms import confirmed, field, form, notice
from services.console.views import Views
from shared.history.records import STATES

TEST_WAIT = 5.0  # seconds the page waits for a test event's attempt before showing it


class EndpointsPage:
    def __init__(self, views: Views):
        self.views = views

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        v = self.views
        v.render(req, resp, "endpoints.html", title="Endpoints",
                 endpoints=endpoints(v.config, v.history))


class EndpointPage:
    def __init__(self, views: Views):
        self.views = views

    def on_get(self, req: falcon.Request, resp: falcon.Response, name: str) -> None:
        v = self.views
        state = parse_choice(req.get_param("state"), "state", STATES)
        page = endpoint_page(v.config, v.history, name, state, req.get_param("cursor"))
        if page is None:
            raise falcon.HTTPNotFound(title="ENDPOINT_UNKNOWN",
                                      description=f"no endpoint named {name!r} in the configuration")
        v.render(req, resp, "endpoint.html", title=f"Endpoint {name}", page=page,
                 states=STATES, notice=notice(req))


def _back(name: str, done: str, count: int | None = None) -> falcon.HTTPSeeOther:
    query = {"done": done} | ({"count": count} if count is not None else {})
    return falcon.HTTPSeeOther(f"/endpoints/{quote(name)}?{urlencode(query)}")


class EndpointAction:
    """POST ``/endpoints/<name>/<pause|resume|test|resend>`` (operators)."""

    ACTIONS = ("pause", "resume", "test", "resend")

    def __init__(self, views: Views):
        self.views = views

    def on_post(self, req: falcon.Request, resp: falcon.Response, name: str, action: str) -> None:
        from shared.operations import endpoints as ops

        v = self.views
        if action not in self.ACTIONS:
            raise falcon.HTTPNotFound(title="NOT_FOUND", description=f"no action {action!r}")
        endpoint_or_404(v.config, name)
        store = v.history.require()
        if action == "pause":
            changed = ops.pause_endpoint(v.config, store, name, by=f"console:{req.context.session.user}")
            raise _back(name, "paused" if changed else "already-paused")
        if action == "resume":
            raise _back(name, "resumed" if ops.resume_endpoint(v.config, store, name) else "not-paused")
        if action == "test":
            event_id = ops.send_test_event(v.config, store, name)
            ops.wait_for_attempt(store, event_id, name, TEST_WAIT)
            raise falcon.HTTPSeeOther(f"/deliveries/{quote(event_id)}")
        self._resend(req, resp, name, store)

    def _resend(self, req: falcon.Request, resp: falcon.Response, name: str, store) -> None:
        from shared.operations.deliveries import DeliveryRange, count_range, resend_range

        v = self.views
        values = form(req)
        since = parse_time(field(values, "since"), "since")
        if since is None:
            raise BadFilter("since: say from when (2h, or a UTC date and time)")
        chosen = DeliveryRange(endpoint=name, since=since,
                               until=parse_time(field(values, "until"), "until"),
                               state=parse_choice(field(values, "state"), "state", STATES),
                               repository=field(values, "repository") or None)
        if not confirmed(values):
            fields = [(k, field(values, k)) for k in ("since", "until", "state", "repository")]
            v.render(req, resp, "confirm.html", title="Resend?",
                     heading=f"Resend to {name}?",
                     count=count_range(v.config, store, chosen), noun="delivery", nouns="deliveries",
                     action=f"/endpoints/{quote(name)}/resend", fields=fields,
                     button="Resend", cancel=f"/endpoints/{quote(name)}")
            return
        raise _back(name, "resent", resend_range(v.config, store, chosen))
