"""With no endpoint enabled the sink drops every event, so none is built: no request pays for
an event nobody receives (a manifest GET's request id, target and event were ~15% of its
in-process time). With any other sink every operation's event is written as before."""

from services.registry.domain.descriptors import Descriptor
from services.registry.events.bridge import EventBridge, RequestContext
from shared.events import NullSink, RecordingSink, Source

MANIFEST = Descriptor("sha256:" + "a" * 64, 100, "application/vnd.oci.image.manifest.v1+json")
CTX = RequestContext(id="r", addr="127.0.0.1:1", host="h", method="GET", useragent="ua",
                     base_url="http://h")


class CountingNullSink(NullSink):
    def __init__(self) -> None:
        self.writes = 0

    def write(self, event) -> None:  # noqa: ANN001
        self.writes += 1


def emit_all(bridge: EventBridge) -> None:
    bridge.manifest_pulled(CTX, "demo/app", MANIFEST, "v1")
    bridge.manifest_pushed(CTX, "demo/app", MANIFEST, "v1")
    bridge.manifest_deleted(CTX, "demo/app", MANIFEST.digest)
    bridge.tag_deleted(CTX, "demo/app", "v1")
    bridge.blob_pulled(CTX, "demo/app", MANIFEST)
    bridge.blob_pushed(CTX, "demo/app", MANIFEST)
    bridge.blob_mounted(CTX, "demo/app", MANIFEST, "demo/other")
    bridge.blob_deleted(CTX, "demo/app", MANIFEST.digest)


def test_no_event_reaches_a_sink_that_drops_them():
    sink = CountingNullSink()
    bridge = EventBridge(sink, Source(addr="host:5000", instance_id="i"))
    assert not bridge.enabled
    emit_all(bridge)
    assert sink.writes == 0


def test_every_event_reaches_a_real_sink():
    sink = RecordingSink()
    emit_all(EventBridge(sink, Source(addr="host:5000", instance_id="i")))
    assert [(e.target.repository, e.action) for e in sink.events] == [("demo/app", a) for a in (
        "pull", "push", "delete", "delete", "pull", "push", "mount", "delete")]
