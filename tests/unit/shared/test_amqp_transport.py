"""The buffered AMQP transport reads frames as py-amqp's does, in fewer system calls."""

from __future__ import annotations

import socket
import struct
import threading

import pytest
from amqp.exceptions import UnexpectedFrame

from shared.broker.amqp_transport import BufferedTCPTransport

FRAME_END = b"\xce"


def frame(channel: int, payload: bytes, frame_type: int = 1) -> bytes:
    return struct.pack(">BHI", frame_type, channel, len(payload)) + payload + FRAME_END


class CountingSocket:
    """One end of a socket pair, counting the recv calls the transport makes."""

    def __init__(self, sock: socket.socket):
        self.sock = sock
        self.recvs = 0

    def recv(self, size: int) -> bytes:
        self.recvs += 1
        return self.sock.recv(size)


@pytest.fixture
def pair():
    ours, peer = socket.socketpair()
    transport = BufferedTCPTransport.__new__(BufferedTCPTransport)
    transport.sock = ours
    transport.raise_on_initial_eintr = True
    transport._setup_transport()
    counting = CountingSocket(ours)
    transport._quick_recv = counting.recv
    yield transport, peer, counting
    ours.close()
    peer.close()


def test_frames_already_received_are_read_from_one_recv(pair):
    transport, peer, counting = pair
    payloads = [b"method", b"header" * 10, b"x" * 5000, b"", b"last"]
    peer.sendall(b"".join(frame(1, p) for p in payloads))
    read = [transport.read_frame() for _ in payloads]
    assert [(t, c, bytes(p)) for t, c, p in read] == [(1, 1, p) for p in payloads]
    assert counting.recvs == 1  # py-amqp's own transport: three per frame


def test_a_frame_larger_than_one_read_is_whole(pair):
    transport, peer, counting = pair
    big = bytes(range(256)) * 1024  # 256 KiB, over READ_SIZE
    sender = threading.Thread(target=peer.sendall, args=(frame(3, big) + frame(3, b"next"),))
    sender.start()  # more than the socket pair buffers: sent while we read
    assert bytes(transport.read_frame()[2]) == big
    assert bytes(transport.read_frame()[2]) == b"next"
    sender.join()


def test_a_frame_cut_by_a_timeout_is_read_whole_afterwards(pair):
    transport, peer, _ = pair
    whole = frame(2, b"a" * 100) + frame(2, b"second")
    peer.sendall(whole[:50])  # the header and part of the payload
    transport.sock.settimeout(0.05)
    with pytest.raises(socket.timeout):
        transport.read_frame()
    peer.sendall(whole[50:])
    assert bytes(transport.read_frame()[2]) == b"a" * 100
    assert bytes(transport.read_frame()[2]) == b"second"


def test_a_closed_peer_is_an_error(pair):
    transport, peer, _ = pair
    peer.sendall(frame(1, b"ok"))
    peer.close()
    assert bytes(transport.read_frame()[2]) == b"ok"
    with pytest.raises(OSError, match="closed connection"):
        transport.read_frame()


def test_a_whole_buffered_frame_is_taken_without_the_socket(pair):
    transport, peer, counting = pair
    third = frame(1, b"third")
    peer.sendall(frame(1, b"first") + frame(1, b"second") + third[:-1])
    assert bytes(transport.read_frame()[2]) == b"first"  # one recv takes all of it
    assert transport.buffered_frame() == (1, 1, b"second")
    assert transport.buffered_frame() is None  # the third's end byte has not come
    assert counting.recvs == 1
    peer.sendall(third[-1:])
    assert bytes(transport.read_frame()[2]) == b"third"
    assert counting.recvs == 2
    assert transport.buffered_frame() is None


def test_a_buffered_frame_with_a_wrong_end_byte_is_refused(pair):
    transport, peer, _ = pair
    peer.sendall(frame(1, b"ok") + frame(1, b"bad")[:-1] + b"\x00")
    assert bytes(transport.read_frame()[2]) == b"ok"
    with pytest.raises(UnexpectedFrame):
        transport.buffered_frame()
