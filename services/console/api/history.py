"""The JSON of the pages drawn on the delivery history (documented in the README's Console
section): ``/api/overview``, ``/api/events``, ``/api/deliveries``, ``/api/endpoints``,
``/api/deadletters``, and their actions (operators, with the ``X-CSRF-Token`` header; the body
JSON or a form, the fields the pages' forms have)."""

from __future__ import annotations

import falcon

from services.console.api.encoding import send_json
from services.console.history.deadletters import (
    DeadLetterQuery,
    chosen_letters,
    count,
    dead_letters,
    purge,
    replay,
)
from services.console.history.endpoints import endpoint_page, endpoints, summary_json
from services.console.history.events import EventQuery, search
from services.console.history.overview import overview_page
from services.console.history.times import BadFilter, parse_choice, parse_int, parse_time
from services.console.lookups import delivery_or_404, endpoint_or_404
from services.console.pages.forms import confirmed, field, field_list, form
from services.console.views import Views
from shared.history.records import STATES

MAX_LIMIT = 500


def _limit(req: falcon.Request, default: int) -> int:
    return min(MAX_LIMIT, max(1, parse_int(req.get_param("limit"), "limit") or default))


class OverviewApi:
    def __init__(self, views: Views):
        self.views = views

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        send_json(resp, overview_page(self.views.config, self.views.history).to_json())


class EventsApi:
    """``GET /api/events?repository=&tag=&digest=&actor=&action=&since=&until=&cursor=&limit=
    &bodies=0`` (``bodies=0``: without the bodies, as the live tail asks)."""

    def __init__(self, views: Views):
        self.views = views

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        store = self.views.history.require()
        result = search(store, EventQuery.from_params(req.get_param), req.get_param("cursor"),
                        _limit(req, 25), with_bodies=req.get_param("bodies") != "0")
        send_json(resp, result.to_json())


class DeliveriesApi:
    """``GET /api/deliveries?endpoint=&repository=&action=&state=&since=&until=&cursor=&limit=``:
    the ``deliveries list --json`` lines."""

    def __init__(self, views: Views):
        self.views = views

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        from shared.history import list_deliveries

        store = self.views.history.require()
        try:
            page = list_deliveries(
                store, endpoint=req.get_param("endpoint") or None,
                repository=req.get_param("repository") or None,
                action=req.get_param("action") or None,
                state=parse_choice(req.get_param("state"), "state", STATES),
                since=parse_time(req.get_param("since"), "since"),
                until=parse_time(req.get_param("until"), "until"),
                limit=_limit(req, 100), cursor=req.get_param("cursor"))
        except BadFilter:
            raise
        except ValueError as exc:
            raise BadFilter(str(exc)) from None
        send_json(resp, {"items": [{**r.to_json(), "error_class": r.error_class,
                                    "next_retry": r.next_retry} for r in page.items],
                         "next_cursor": page.next_cursor})


class DeliveryApi:
    """``GET /api/deliveries/<event id>``: the ``deliveries show --json`` object, and per
    endpoint the next retry, latency, format and copy-as-curl; the body in each format."""

    def __init__(self, views: Views):
        self.views = views

    def on_get(self, req: falcon.Request, resp: falcon.Response, event_id: str) -> None:
        v = self.views
        send_json(resp, delivery_or_404(v.config, v.history.require(), event_id).to_json())


class DeliveryResendApi:
    """``POST /api/deliveries/<event id>/resend`` ``{"endpoint": NAME}``."""

    def __init__(self, views: Views):
        self.views = views

    def on_post(self, req: falcon.Request, resp: falcon.Response, event_id: str) -> None:
        from shared.operations.deliveries import resend_one

        v = self.views
        endpoint = field(form(req), "endpoint")
        endpoint_or_404(v.config, endpoint)
        resend_one(v.config, v.history.require(), event_id, endpoint)
        send_json(resp, {"resent": {"event_id": event_id, "endpoint": endpoint}})


class EndpointsApi:
    def __init__(self, views: Views):
        self.views = views

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        v = self.views
        send_json(resp, {"items": [summary_json(s) for s in endpoints(v.config, v.history)]})


class EndpointApi:
    """``GET /api/endpoints/<name>?state=&cursor=``: its summary and recent deliveries."""

    def __init__(self, views: Views):
        self.views = views

    def on_get(self, req: falcon.Request, resp: falcon.Response, name: str) -> None:
        v = self.views
        endpoint_or_404(v.config, name)
        page = endpoint_page(v.config, v.history, name,
                             parse_choice(req.get_param("state"), "state", STATES),
                             req.get_param("cursor"))
        send_json(resp, page.to_json())


class EndpointActionApi:
    """``POST /api/endpoints/<name>/pause|resume|test``, and ``.../resend`` with ``since``,
    ``until``, ``state``, ``repository``: ``{"count"}`` without ``"confirm": "yes"``, then
    ``{"resent"}`` with it."""

    def __init__(self, views: Views):
        self.views = views

    def on_post(self, req: falcon.Request, resp: falcon.Response, name: str, action: str) -> None:
        from shared.operations import endpoints as ops
        from shared.operations.deliveries import DeliveryRange, count_range, resend_range

        v = self.views
        if action not in ("pause", "resume", "test", "resend"):
            raise falcon.HTTPNotFound(title="NOT_FOUND", description=f"no action {action!r}")
        endpoint_or_404(v.config, name)
        store = v.history.require()
        if action == "pause":
            changed = ops.pause_endpoint(v.config, store, name,
                                         by=f"console:{req.context.session.user}")
            send_json(resp, {"endpoint": name, "paused": True, "changed": changed})
        elif action == "resume":
            changed = ops.resume_endpoint(v.config, store, name)
            send_json(resp, {"endpoint": name, "paused": False, "changed": changed})
        elif action == "test":
            send_json(resp, {"endpoint": name, "event_id": ops.send_test_event(v.config, store, name)})
        else:
            values = form(req)
            since = parse_time(field(values, "since"), "since")
            if since is None:
                raise BadFilter("since: say from when (2h, or a UTC date and time)")
            chosen = DeliveryRange(name, since, parse_time(field(values, "until"), "until"),
                                   parse_choice(field(values, "state"), "state", STATES),
                                   field(values, "repository") or None)
            if not confirmed(values):
                send_json(resp, {"endpoint": name, "count": count_range(v.config, store, chosen)})
            else:
                send_json(resp, {"endpoint": name, "resent": resend_range(v.config, store, chosen)})


class DeadLettersApi:
    """``GET /api/deadletters?endpoint=&status=&error_class=&repository=&since=&until=``."""

    def __init__(self, views: Views):
        self.views = views

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        query = DeadLetterQuery.from_params(req.get_param)
        send_json(resp, dead_letters(self.views.config, query).to_json())


class DeadLetterActionApi:
    """``POST /api/deadletters/replay|purge``: the filters, and ``letter`` (a list of
    ``<endpoint>/<event id>``) or ``"scope": "matching"``; ``{"count", "per_endpoint"}`` without
    ``"confirm": "yes"``, ``{"replayed"}`` or ``{"purged"}`` with it."""

    def __init__(self, views: Views):
        self.views = views

    def on_post(self, req: falcon.Request, resp: falcon.Response, action: str) -> None:
        v = self.views
        if action not in ("replay", "purge"):
            raise falcon.HTTPNotFound(title="NOT_FOUND", description=f"no action {action!r}")
        values = form(req)
        query = DeadLetterQuery.from_params(lambda name: field(values, name))
        chosen = None if field(values, "scope") == "matching" else \
            chosen_letters(field_list(values, "letter"))
        if chosen is not None and not chosen:
            raise BadFilter("letter: name the dead letters (<endpoint>/<event id>), or send "
                            'scope=matching')
        if not confirmed(values):
            per_endpoint = count(v.config, query, chosen)
            send_json(resp, {"count": sum(per_endpoint.values()), "per_endpoint": per_endpoint})
        elif action == "replay":
            send_json(resp, {"replayed": replay(v.config, v.history, query, chosen)})
        else:
            send_json(resp, {"purged": purge(v.config, query, chosen)})
