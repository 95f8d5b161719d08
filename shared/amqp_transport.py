"""kombu's py-amqp transport, reading the socket in large pieces.

py-amqp reads each frame with three exact-size ``recv`` calls (header, payload, end byte), each a
system call (with a ``poll`` before it when the socket has a timeout) that releases the GIL: a
notifier draining a backlog made about 20 of them per message, while the frames of the next
messages were already waiting in the socket. :class:`BufferedTCPTransport` takes whatever the
socket holds (up to ``READ_SIZE``) and serves the frames from that buffer.

Nothing else changes: the connection only reads through :meth:`_read` (``read_frame`` puts a
partly read frame back in front of the buffer on a timeout, and the next ``_read`` goes on from
there), and nothing here waits on the socket's readiness, which buffered bytes would hide. TLS
connections keep py-amqp's own transport.
"""

from __future__ import annotations

import errno

from amqp.transport import TCPTransport
from kombu.transport import pyamqp

READ_SIZE = 64 * 1024


class BufferedTCPTransport(TCPTransport):
    def _read(self, n: int, initial: bool = False,
              _errnos: tuple[int, ...] = (errno.EAGAIN, errno.EINTR)) -> bytes:
        """Exactly ``n`` bytes, from the buffer first. A ``bytearray``: dropping its head is
        cheap, where slicing a ``bytes`` buffer would copy the rest on every frame part."""
        buffer = self._read_buffer
        if not isinstance(buffer, bytearray):
            buffer = bytearray(buffer)  # first read, or read_frame put a partial frame back
        try:
            while len(buffer) < n:
                try:
                    received = self._quick_recv(max(READ_SIZE, n - len(buffer)))
                except OSError as exc:
                    if exc.errno in _errnos:
                        if initial and self.raise_on_initial_eintr:
                            raise TimeoutError() from exc
                        continue
                    raise
                if not received:
                    raise OSError("Server unexpectedly closed connection")
                buffer += received
        finally:
            self._read_buffer = buffer
        result = bytes(buffer[:n])
        del buffer[:n]
        return result


class BufferedConnection(pyamqp.Connection):
    def Transport(self, host, connect_timeout, ssl=False, read_timeout=None,  # noqa: N802
                  write_timeout=None, socket_settings=None, **kwargs):
        if ssl:
            return super().Transport(host, connect_timeout, ssl=ssl, read_timeout=read_timeout,
                                     write_timeout=write_timeout,
                                     socket_settings=socket_settings, **kwargs)
        return BufferedTCPTransport(host, connect_timeout=connect_timeout,
                                    read_timeout=read_timeout, write_timeout=write_timeout,
                                    socket_settings=socket_settings, **kwargs)


class BufferedAmqpTransport(pyamqp.Transport):
    """Pass as ``kombu.Connection(url, transport=BufferedAmqpTransport)``."""

    Connection = BufferedConnection
