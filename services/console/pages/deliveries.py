"""``/deliveries/<event id>`` and its action: resend now to one endpoint."""

from __future__ import annotations

from urllib.parse import quote, urlencode

import falcon

from services.console.lookups import delivery_or_404, endpoint_or_404
from services.console.pages.forms import field, form, notice
from services.console.views import Views


class DeliveryPage:
    def __init__(self, views: Views):
        self.views = views

    def on_get(self, req: falcon.Request, resp: falcon.Response, event_id: str) -> None:
        v = self.views
        page = delivery_or_404(v.config, v.history.require(), event_id)
        v.render(req, resp, "delivery.html", title=f"Event {event_id}", page=page,
                 notice=notice(req))


class DeliveryResend:
    """POST ``/deliveries/<event id>/resend`` (``endpoint``): deliver it again now."""

    def __init__(self, views: Views):
        self.views = views

    def on_post(self, req: falcon.Request, resp: falcon.Response, event_id: str) -> None:
        from shared.operations.deliveries import resend_one

        v = self.views
        endpoint = field(form(req), "endpoint")
        endpoint_or_404(v.config, endpoint)
        resend_one(v.config, v.history.require(), event_id, endpoint)
        query = urlencode({"done": "resent", "count": 1})
        raise falcon.HTTPSeeOther(f"/deliveries/{quote(event_id)}?{query}")
