"""Endpoint filters: each list on its own drops an event; repository globs match whole names."""

from __future__ import annotations

from services.notifier.filters import FilterSink, ignore_reason
from services.notifier.outcomes import Delivered, Delivery, Filtered
from shared.config import EndpointConfig


def ep(**kw) -> EndpointConfig:
    return EndpointConfig(name="e", url="http://x/", **kw)


def event(action="push", media="application/vnd.oci.image.manifest.v1+json",
          repository="library/app", method="PUT") -> dict:
    return {"action": action, "target": {"mediaType": media, "repository": repository},
            "request": {"method": method}}


def test_no_filters_keep_everything():
    assert ignore_reason(ep(), event()) is None


def test_ignore_actions_alone_drops():
    assert ignore_reason(ep(ignored_actions=("pull",)), event("pull")) == "action"
    assert ignore_reason(ep(ignored_actions=("pull",)), event("push")) is None


def test_ignored_mediatypes_drop():
    blob = event(media="application/octet-stream")
    assert ignore_reason(ep(ignored_mediatypes=("application/octet-stream",)), blob) == "mediatype"
    assert ignore_reason(ep(ignored_mediatypes=("application/octet-stream",)), event()) is None


def test_either_list_matching_is_enough():
    e = ep(ignored_actions=("delete",), ignored_mediatypes=("application/octet-stream",))
    assert ignore_reason(e, event("delete")) == "action"
    assert ignore_reason(e, event("push", media="application/octet-stream")) == "mediatype"
    assert ignore_reason(e, event("push")) is None


def test_repositories_allow_list_matches_whole_names():
    e = ep(repositories=("library/*",))
    assert ignore_reason(e, event(repository="library/app")) is None
    assert ignore_reason(e, event(repository="library/team/app")) is None
    assert ignore_reason(e, event(repository="libraryx/a")) == "repository"
    assert ignore_reason(e, event(repository="other/library/a")) == "repository"


def test_ignore_repositories():
    e = ep(ignored_repositories=("scratch/*", "tmp"))
    assert ignore_reason(e, event(repository="scratch/x")) == "repository"
    assert ignore_reason(e, event(repository="tmp")) == "repository"
    assert ignore_reason(e, event(repository="tmpx")) is None


def test_ignore_head_requests():
    e = ep(ignore_headrequests=True)
    assert ignore_reason(e, event("pull", method="HEAD")) == "headrequest"
    assert ignore_reason(e, event("pull", method="GET")) is None
    assert ignore_reason(ep(), event("pull", method="HEAD")) is None


class Inner:
    def __init__(self):
        self.seen = []

    def deliver(self, delivery):
        self.seen.append(delivery)
        return Delivered(200)


def test_filter_sink_passes_only_wanted_events():
    inner = Inner()
    sink = FilterSink(ep(ignored_actions=("pull",)), inner)
    assert sink.deliver(Delivery(event("pull"), "manifest.pull")) == Filtered("action")
    assert sink.deliver(Delivery(event("push"), "manifest.push")) == Delivered(200)
    assert [d.event["action"] for d in inner.seen] == ["push"]
