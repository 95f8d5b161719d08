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

A frame already whole in the buffer is taken from it directly (:meth:`BufferedConnection.
blocking_read`): py-amqp would set the socket's timeout and put it back (four ``fcntl`` calls) and
make three reads of it, for a frame that needs no socket at all.
"""

from __future__ import annotations

import errno
import struct

from amqp.exceptions import UnexpectedFrame
from amqp.transport import TCPTransport
from kombu.transport import pyamqp

READ_SIZE = 64 * 1024
FRAME_HEADER = struct.Struct(">BHI")  # type, channel, payload size
FRAME_END = 0xCE


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

    def buffered_frame(self) -> tuple[int, int, bytes] | None:
        """The next frame, as ``read_frame`` gives it, if it is whole in the buffer; else None."""
        buffer = self._read_buffer
        if len(buffer) < FRAME_HEADER.size or not isinstance(buffer, bytearray):
            return None
        frame_type, channel, size = FRAME_HEADER.unpack_from(buffer)
        end = FRAME_HEADER.size + size
        if len(buffer) <= end:
            return None
        if buffer[end] != FRAME_END:
            raise UnexpectedFrame(f"Received frame_end {buffer[end]:#04x} while expecting 0xce")
        payload = bytes(buffer[FRAME_HEADER.size:end])
        del buffer[:end + 1]
        return frame_type, channel, payload


class BufferedConnection(pyamqp.Connection):
    def blocking_read(self, timeout=None):
        transport = self.transport
        frame = transport.buffered_frame() if isinstance(transport, BufferedTCPTransport) \
            else None
        if frame is None:
            return super().blocking_read(timeout)
        return self.on_inbound_frame(frame)

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
