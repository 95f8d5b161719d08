"""``GET /api/repositories``, ``GET /api/repositories/<name>``, ``DELETE /api/tags``."""

from __future__ import annotations

import falcon

from services.console.api.encoding import as_dict, send_json
from services.console.inventory import describe_tags
from services.console.inventory.catalog import forget
from services.console.pages.repositories import list_repositories, tag_events
from services.console.views import Views


class RepositoriesApi:
    def __init__(self, views: Views):
        self.views = views

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        v = self.views
        send_json(resp, list_repositories(v, req))


class RepositoryApi:
    def __init__(self, views: Views):
        self.views = views

    def on_get(self, req: falcon.Request, resp: falcon.Response, name: str) -> None:
        v = self.views
        calls = v.calls(req)
        tag_names = calls.tags(name)
        if not tag_names:
            raise falcon.HTTPNotFound(title="NAME_UNKNOWN",
                                      description="no such repository, or it has no tags")
        tags = describe_tags(calls, v.cache, v.history, name, tag_names)
        caused = tag_events(v, name, tags)
        host = v.pull_host(req)
        send_json(resp, {
            "name": name,
            "pull": f"{host}/{name}",
            "delete_enabled": v.delete_enabled,
            "history_available": v.history.available,
            "tags": [{**as_dict(t), "is_index": t.is_index,
                      "events": None if caused is None else [e.to_json() for e in caused[t.name]]}
                     for t in tags],
        })


class TagsApi:
    """``DELETE /api/tags?repository=R&tag=T`` with the ``X-CSRF-Token`` header (operators)."""

    def __init__(self, views: Views):
        self.views = views

    def on_delete(self, req: falcon.Request, resp: falcon.Response) -> None:
        v = self.views
        repository, tag = req.get_param("repository"), req.get_param("tag")
        if not repository or not tag:
            raise falcon.HTTPBadRequest(title="BAD_REQUEST",
                                        description="repository and tag are required")
        if not v.delete_enabled:
            raise falcon.HTTPMethodNotAllowed(["GET"], title="UNSUPPORTED",
                                              description="deletes are disabled")
        v.calls(req).delete_tag(repository, tag)
        forget(v.summaries, repository)
        send_json(resp, {"deleted": {"repository": repository, "tag": tag}})
