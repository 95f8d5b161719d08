"""AckWindow: settled messages at the head of those held go in one multiple ack; one behind a
delivery still running is acknowledged on its own at once."""

from __future__ import annotations

from services.notifier.acks import AckWindow


class FakeMessage:
    def __init__(self, tag: int, acks: list[tuple[int, bool]]):
        self.delivery_tag = tag
        self.acks = acks

    def ack(self, multiple: bool = False) -> None:
        self.acks.append((self.delivery_tag, multiple))


def held(window: AckWindow, acks: list, *tags: int) -> dict[int, FakeMessage]:
    messages = {tag: FakeMessage(tag, acks) for tag in tags}
    for message in messages.values():
        window.hold(message)
    return messages


def test_a_settled_run_at_the_head_is_one_multiple_ack():
    acks: list = []
    window = AckWindow(coalesce=True)
    m = held(window, acks, 1, 2, 3, 4)
    window.ack([m[2], m[1], m[3]])
    assert acks == [(3, True)]
    assert list(window.held) == [4]


def test_one_settled_behind_a_running_delivery_is_acked_alone_at_once():
    acks: list = []
    window = AckWindow(coalesce=True)
    m = held(window, acks, 1, 2, 3)
    window.ack([m[2]])
    assert acks == [(2, False)]
    assert list(window.held) == [1, 3]
    # Once the first settles, the multiple ack passes over 2 (no longer outstanding) to 3.
    window.ack([m[1], m[3]])
    assert acks == [(2, False), (3, True)]
    assert not window.held


def test_a_head_run_and_a_later_one_in_one_batch():
    acks: list = []
    window = AckWindow(coalesce=True)
    m = held(window, acks, 1, 2, 3, 4, 5)
    window.ack([m[1], m[2], m[4]])
    assert acks == [(2, True), (4, False)]
    assert list(window.held) == [3, 5]


def test_without_coalescing_each_message_is_acked_alone():
    acks: list = []
    window = AckWindow(coalesce=False)
    m = held(window, acks, 1, 2, 3)
    window.ack([m[1], m[2], m[3]])
    assert acks == [(1, False), (2, False), (3, False)]
    assert not window.held
