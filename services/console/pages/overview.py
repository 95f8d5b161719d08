"""``/``: the overview (:mod:`services.console.history.overview`)."""

from __future__ import annotations

import falcon

from services.console.history.overview import overview_page
from services.console.views import Views


class OverviewPage:
    def __init__(self, views: Views):
        self.views = views

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        v = self.views
        v.render(req, resp, "overview.html", title="Overview",
                 page=overview_page(v.config, v.history))
