"""``/deadletters`` and its actions: replay (the ticked letters, one letter's "Replay" button,
or all matching the filters) and purge, each showing how many first and acting on confirmation."""

from __future__ import annotations

from urllib.parse import urlencode

import falcon

from services.console.history.deadletters import (
    CLASSES,
    DeadLetterQuery,
    chosen_letters,
    count,
    dead_letters,
    purge,
    replay,
)
from services.console.pages.forms import confirmed, field, field_list, form, notice
from services.console.views import Views


class DeadLettersPage:
    def __init__(self, views: Views):
        self.views = views

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        v = self.views
        query = DeadLetterQuery.from_params(req.get_param)
        v.render(req, resp, "deadletters.html", title="Dead letters",
                 page=dead_letters(v.config, query), classes=CLASSES,
                 endpoint_names=[e.name for e in v.config.notifications.endpoints],
                 notice=notice(req))


class DeadLetterAction:
    """POST ``/deadletters/<replay|purge>``: the filters' fields, and ``letter`` (one or more
    ``<endpoint>/<event id>``: the letters chosen) unless ``scope=matching`` (every letter the
    filters match)."""

    ACTIONS = ("replay", "purge")

    def __init__(self, views: Views):
        self.views = views

    def on_post(self, req: falcon.Request, resp: falcon.Response, action: str) -> None:
        v = self.views
        if action not in self.ACTIONS:
            raise falcon.HTTPNotFound(title="NOT_FOUND", description=f"no action {action!r}")
        values = form(req)
        query = DeadLetterQuery.from_params(lambda name: field(values, name))
        matching = field(values, "scope") == "matching"
        letters = field_list(values, "letter")
        chosen = None if matching else chosen_letters(letters)
        if chosen is not None and not chosen:
            raise falcon.HTTPBadRequest(title="BAD_REQUEST",
                                        description="tick the dead letters to act on, or choose "
                                                    "all matching")
        if not confirmed(values):
            per_endpoint = count(v.config, query, chosen)
            fields = [*query.params().items(), ("scope", "matching" if matching else "chosen"),
                      *(("letter", letter) for letter in ([] if matching else sorted(letters)))]
            v.render(req, resp, "confirm.html", title=f"{action.capitalize()}?",
                     heading=("Replay these dead letters?" if action == "replay" else
                              "Purge these dead letters for good?"),
                     count=sum(per_endpoint.values()), per_endpoint=per_endpoint,
                     noun="dead letter", nouns="dead letters", action=f"/deadletters/{action}",
                     fields=fields,
                     button=action.capitalize(), danger=action == "purge",
                     cancel="/deadletters?" + urlencode(query.params()))
            return
        if action == "replay":
            done, n = "replayed", replay(v.config, v.history, query, chosen)
        else:
            done, n = "purged", purge(v.config, query, chosen)
        raise falcon.HTTPSeeOther("/deadletters?" + urlencode({**query.params(), "done": done,
                                                                "count": n}))
