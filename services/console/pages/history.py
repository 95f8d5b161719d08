"""The pages drawn on the delivery history: ``/``, ``/events``, ``/endpoints``,
``/endpoints/<name>``, ``/deliveries/<event id>``, ``/deadletters``.

Phase 1: the history store (issue 16) is not merged, so each route exists and says the data is
not available yet. Phase 2 replaces each ``on_get`` by one that reads ``views.history``.
"""

from __future__ import annotations

import falcon

from services.console.views import Views


class HistoryPage:
    def __init__(self, views: Views, template: str, title: str):
        self.views = views
        self.template = template
        self.title = title

    def on_get(self, req: falcon.Request, resp: falcon.Response, **params: str) -> None:
        self.views.render(req, resp, self.template, title=self.title, params=params)
