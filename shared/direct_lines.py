"""Log lines written straight to a stream handler's file descriptor, for the one line a process
writes per request or per delivery (the registry's access line, the notifier's
``notification sent``).

Formatted by the configured formatter (:meth:`shared.logfmt.KeyValueFormatter.line`) and written
with one ``write``: no log record, and no handler lock, which with eight threads writing made
about two context switches per line (measured on 2026-12-07: a line through ``logging`` cost
~10 us on one thread and ~26 us of CPU with eight). One ``write`` of up to ``PIPE_BUF`` bytes
is never interleaved with another, into a pipe or a file; a longer line takes the handler's
lock. Where the handler is not a plain stream with a descriptor (a test's captured stream,
another formatter), callers log as usual.
"""

from __future__ import annotations

import io
import logging
import select
import time

from shared.descriptor_writes import write_all


class DirectLines:
    """Writes formatted lines straight to a stream handler's file descriptor."""

    def __init__(self, handler: logging.StreamHandler, fd: int):
        self.handler = handler
        self.fd = fd

    @classmethod
    def of(cls, logger: logging.Logger) -> DirectLines | None:
        """For a logger whose lines reach exactly one plain stream handler on a real
        descriptor (its own, or the one its ancestors hold), with no filter on the way and no
        handler level above INFO (a direct line would pass it by); else None."""
        handlers: list[logging.Handler] = []
        current: logging.Logger | None = logger
        while current is not None:
            if current.filters:
                return None
            handlers.extend(current.handlers)
            current = current.parent if current.propagate else None
        if len(handlers) != 1:
            return None
        handler = handlers[0]
        if type(handler) is not logging.StreamHandler or handler.filters \
                or handler.level > logging.INFO or not hasattr(handler.formatter, "line"):
            return None
        try:
            fd = handler.stream.fileno()
        except (AttributeError, OSError, io.UnsupportedOperation):  # a test's captured stream
            return None
        handler.flush()
        return cls(handler, fd)

    def write(self, message: str, level: str = "INFO") -> None:
        text = self.handler.formatter.line(time.time(), level, message) + "\n"
        data = text.encode("utf-8", "backslashreplace")
        if len(data) <= select.PIPE_BUF:
            write_all(self.fd, data)
        else:
            with self.handler.lock:
                write_all(self.fd, data)
