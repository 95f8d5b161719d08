"""``/repositories``, ``/repositories/<name>`` and the tag delete action."""

from __future__ import annotations

from urllib.parse import quote

import falcon

from services.console.inventory import describe_tags, search
from services.console.inventory.catalog import forget
from services.console.inventory.images import tags_sharing
from services.console.registry import RegistryError
from services.console.views import Views


def list_repositories(v: Views, req: falcon.Request):
    """The page of ``/repositories`` (and its API) the request asks for: ``q``, ``last``."""
    return search(v.calls(req), v.cache, v.summaries, v.history, req.get_param("q") or "",
                  req.get_param("last") or "")


class RepositoriesPage:
    def __init__(self, views: Views):
        self.views = views

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        v = self.views
        wanted = (req.get_param("open") or "").strip().strip("/")
        if wanted:
            raise falcon.HTTPSeeOther(f"/repositories/{quote(wanted)}")
        try:
            result = list_repositories(v, req)
        except RegistryError as exc:
            if exc.status not in (401, 403):
                raise
            # With token auth the catalog needs registry:catalog:*, which many users lack.
            v.render(req, resp, "repositories.html", result=None, catalog_refused=True)
            return
        v.render(req, resp, "repositories.html", result=result, catalog_refused=False)


class RepositoryPage:
    def __init__(self, views: Views):
        self.views = views

    def on_get(self, req: falcon.Request, resp: falcon.Response, name: str) -> None:
        v = self.views
        calls = v.calls(req)
        tag_names = calls.tags(name)
        if not tag_names:
            v.render(req, resp, "repository.html", status=falcon.HTTP_404, name=name, tags=[],
                     pull_host=v.pull_host(req), delete_enabled=v.delete_enabled,
                     deleted=req.get_param("deleted"))
            return
        tags = describe_tags(calls, v.cache, v.history, name, tag_names)
        v.render(req, resp, "repository.html", name=name, tags=tags,
                 pull_host=v.pull_host(req), delete_enabled=v.delete_enabled,
                 deleted=req.get_param("deleted"), caused=tag_events(v, name, tags))


def tag_events(v: Views, name: str, tags: list) -> dict | None:
    """Per tag, the latest events naming it with their deliveries ("deliveries caused by this
    tag"); None when the history cannot be read."""
    found = {}
    for tag in tags:
        events = v.history.tag_events_or_none(name, tag.name)
        if events is None:
            return None
        found[tag.name] = events
    return found


class TagDeleteAction:
    """POST ``/tags/delete`` (``repository``, ``tag``, ``confirm``): without ``confirm=yes`` a
    confirmation page (with the tags that share the digest); with it, the tag is deleted
    through the registry's API as the signed-in operator."""

    def __init__(self, views: Views):
        self.views = views

    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        v = self.views
        form = req.get_media(default_when_empty={})
        repository = str(form.get("repository") or "")
        tag = str(form.get("tag") or "")
        if not repository or not tag:
            raise falcon.HTTPBadRequest(title="BAD_REQUEST",
                                        description="repository and tag are required")
        if not v.delete_enabled:
            raise falcon.HTTPMethodNotAllowed(
                ["GET"], title="UNSUPPORTED",
                description="deletes are disabled (storage.delete.enabled is false)")
        calls = v.calls(req)
        if form.get("confirm") != "yes":
            digest, shared = tags_sharing(calls, repository, tag)
            v.render(req, resp, "confirm_delete.html", repository=repository, tag=tag,
                     digest=digest, shared_with=shared)
            return
        calls.delete_tag(repository, tag)
        forget(v.summaries, repository)
        raise falcon.HTTPSeeOther(f"/repositories/{quote(repository)}?deleted={quote(tag)}")
