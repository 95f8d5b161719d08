"""Browsing is not pulling: a read carrying a valid console-read header makes no pull event;
every other event, and reads without (or with a bad) header, are published as ever."""

from services.registry.domain.descriptors import Descriptor
from services.registry.events.bridge import EventBridge, RequestContext
from shared.console_reads import console_read_token
from shared.events import RecordingSink, Source

SECRET = "http-secret-of-the-registry"
MANIFEST = Descriptor("sha256:" + "a" * 64, 100, "application/vnd.oci.image.manifest.v1+json")
BLOB = Descriptor("sha256:" + "b" * 64, 10)


def bridge(secret: str | None = SECRET) -> tuple[EventBridge, RecordingSink]:
    sink = RecordingSink()
    return EventBridge(sink, Source(addr="host:5000", instance_id="i"), secret=secret), sink


def ctx(header: str | None) -> RequestContext:
    return RequestContext(id="r", addr="127.0.0.1:1", host="h", method="GET", useragent="ua",
                          base_url="http://h", console_read=header)


def test_the_consoles_reads_make_no_pull_event():
    b, sink = bridge()
    c = ctx(console_read_token(SECRET))
    b.manifest_pulled(c, "demo/app", MANIFEST, "v1")
    b.blob_pulled(c, "demo/app", BLOB)
    assert sink.events == []


def test_other_reads_are_pulls():
    for header in (None, "", "123.abc", console_read_token("another-secret")):
        b, sink = bridge()
        b.manifest_pulled(ctx(header), "demo/app", MANIFEST, "v1")
        b.blob_pulled(ctx(header), "demo/app", BLOB)
        assert [e.action for e in sink.events] == ["pull", "pull"], header


def test_without_a_secret_nothing_is_recognised():
    b, sink = bridge(secret=None)
    b.manifest_pulled(ctx(console_read_token(SECRET)), "demo/app", MANIFEST, "v1")
    assert [e.action for e in sink.events] == ["pull"]


def test_the_header_does_not_silence_anything_but_pulls():
    b, sink = bridge()
    c = ctx(console_read_token(SECRET))
    b.manifest_pushed(c, "demo/app", MANIFEST, "v1")
    b.tag_deleted(c, "demo/app", "v1")
    assert [e.action for e in sink.events] == ["push", "delete"]
