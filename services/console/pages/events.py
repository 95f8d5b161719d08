"""``/events``: the event search (:mod:`services.console.history.events`)."""

from __future__ import annotations

import falcon

from services.console.history.events import ACTIONS, EventQuery, search
from services.console.views import Views


class EventsPage:
    def __init__(self, views: Views):
        self.views = views

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        v = self.views
        query = EventQuery.from_params(req.get_param)
        cursor = req.get_param("cursor")
        result = search(v.history.require(), query, cursor=cursor)
        v.render(req, resp, "events.html", title="Events", result=result, actions=ACTIONS,
                 first_page=not cursor)
