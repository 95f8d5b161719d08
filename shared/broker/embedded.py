"""The embedded broker: kombu's filesystem transport, made safe for several processes.

With no ``notifications.broker.url`` the registry and its notifiers exchange events through a
folder on local disk (``<rootdirectory>/_notifications``), so ``registry serve CONFIG`` alone gives
working webhooks. The stock transport loses messages when processes share the folder (see the
team's TOOLING.md); :class:`AtomicFilesystemChannel` is the fixed channel.
"""

from __future__ import annotations

import fcntl
import os
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from kombu.transport import filesystem, virtual
from kombu.utils.encoding import str_to_bytes
from kombu.utils.json import dumps, loads

from shared.fsync import fsync_directory

# How often an idle consumer looks for new message files.
EMBEDDED_POLL_INTERVAL = 0.02


class AtomicFilesystemChannel(filesystem.Channel):
    """The filesystem transport with its traps fixed (see TOOLING.md), one folder per queue,
    and acknowledgements.

    - Publish writes a temporary file and renames it into place: the stock channel creates the
      message file and then writes it, so a consumer in another process can read it empty and
      lose it (celery/kombu#1551). The file is fsync'd first: a publish is durable when it returns.
    - Each queue has its own folder under the data folder: the stock channel keeps every queue in
      one folder and lists all of it on every get, so a backlog in one queue (a dead endpoint's
      retries or dead letters) slowed every other queue.
    - Consume claims a message by renaming it into the processed folder (same filesystem, so the
      claim is atomic) as ``<pid>@<queue>@<name>`` and removes it only on ack. The stock channel
      deletes it at once, so a consumer killed mid-delivery lost it; here
      :func:`recover_claimed` puts the claims of dead processes back (at least once, like
      RabbitMQ). A message requeued by a live process goes back to the queue it was taken from,
      not to every queue its exchange routes to.
    Names use wall-clock nanoseconds, not the stock per-boot monotonic milliseconds, so messages
    keep their order across a reboot.
    """

    # delivery tag -> claimed file, for every channel of this process
    _claimed: dict[str, str] = {}
    _claimed_lock = threading.Lock()

    def __init__(self, *args, **kwargs):
        self._listing: dict[str, list[str]] = {}  # per queue: names listed, not yet taken
        super().__init__(*args, **kwargs)

    def _queue_folder(self, queue: str, base: str) -> str:
        if not queue or queue.startswith(".") or os.sep in queue or CLAIM_SEPARATOR in queue:
            raise filesystem.ChannelError(f"queue name not usable as a folder: {queue!r}")
        return os.path.join(base, queue)

    # Bindings. The stock channel creates an exchange's table file empty and then writes it, so
    # a concurrent reader (another process publishing) can read it empty, and two processes
    # declaring at once can truncate each other's bindings: an event routed by a table that lost
    # a binding is lost. Here a table changes under an exclusive lock file and is replaced by
    # an atomic rename, so readers always see a whole table.

    def get_table(self, exchange):
        try:
            data = self._exchange_file(exchange).read_bytes()
        except FileNotFoundError:
            return []
        return [filesystem.exchange_queue_t(*q) for q in loads(data.decode())]

    def _update_table(self, exchange, change) -> None:
        file = self._exchange_file(exchange)
        self.control_folder.mkdir(parents=True, exist_ok=True)
        with open(f"{file}.lock", "a") as lock_file:
            fcntl.flock(lock_file, fcntl.LOCK_EX)
            table = self.get_table(exchange)
            updated = change(list(table))
            if updated != table:
                temporary = f"{file}.tmp-{uuid.uuid4().hex}"
                with open(temporary, "wb") as f:
                    f.write(str_to_bytes(dumps(updated)))
                    f.flush()
                    os.fsync(f.fileno())
                os.rename(temporary, file)
                fsync_directory(str(self.control_folder))

    def _queue_bind(self, exchange, routing_key, pattern, queue):
        entry = filesystem.exchange_queue_t(routing_key or "", pattern or "", queue or "")
        self._update_table(exchange, lambda table: table if entry in table else [entry, *table])

    def drop_bindings(self, exchange, entries) -> None:
        """Remove these (routing key, pattern, queue) entries from the exchange's table, and
        keep the queues' messages (``_delete`` would purge them)."""
        drop = {filesystem.exchange_queue_t(*entry) for entry in entries}
        self._update_table(exchange, lambda table: [q for q in table if q not in drop])

    def _delete(self, queue, exchange, routing_key, pattern, *args, **kwargs):
        virtual.Channel._delete(self, queue, exchange, routing_key, pattern, *args, **kwargs)
        entry = filesystem.exchange_queue_t(routing_key or "", pattern or "", queue or "")
        self._update_table(exchange, lambda table: [q for q in table if q != entry])

    def _put(self, queue, payload, **kwargs):
        folder = self._queue_folder(queue, self.data_folder_out)
        os.makedirs(folder, exist_ok=True)
        final = os.path.join(folder, f"{time.time_ns():020d}_{uuid.uuid4().hex}.msg")
        temporary = os.path.join(folder, f".tmp-{uuid.uuid4().hex}")
        with open(temporary, "wb") as f:
            f.write(str_to_bytes(dumps(payload)))
            f.flush()
            os.fsync(f.fileno())
        os.rename(temporary, final)
        fsync_directory(folder)

    def _messages(self, queue: str) -> tuple[str, list[str]]:
        folder = self._queue_folder(queue, self.data_folder_in)
        try:
            names = os.listdir(folder)
        except FileNotFoundError:
            return folder, []
        return folder, sorted(n for n in names if not n.startswith("."))

    def _get(self, queue):
        # Names listed earlier and not yet taken: listing a folder of n messages for each get
        # made draining a backlog quadratic. New messages wait for the next listing; they sort
        # after these anyway.
        names = self._listing.get(queue)
        if not names:
            folder, names = self._messages(queue)
            names.reverse()  # pop() from the end gives the oldest first
            self._listing[queue] = names
        folder = self._queue_folder(queue, self.data_folder_in)
        while names:
            name = names.pop()
            claimed = os.path.join(
                self.processed_folder, CLAIM_SEPARATOR.join((str(os.getpid()), queue, name)))
            try:
                os.rename(os.path.join(folder, name), claimed)
            except OSError:
                continue  # another consumer claimed it first
            with open(claimed, "rb") as f:
                payload = loads(f.read().decode())
            properties = payload.get("properties")
            if isinstance(properties, dict):
                # A delivery tag of its own for this claim. kombu sets the tag once per
                # publish, so every queue copy of a fanned-out event (one per endpoint) carries
                # the same tag: in `_claimed` (shared by all channels) the second claim replaced
                # the first, one ack removed the other's file, and the first claim stayed in
                # `processed` until a restart put it back (delivered twice). Like AMQP, the tag
                # now names one delivery; a requeued copy gets a new one when taken again.
                tag = properties["delivery_tag"] = uuid.uuid4().hex
                with self._claimed_lock:
                    self._claimed[tag] = claimed
                # kombu puts an unacknowledged message back (reject, channel closed holding it)
                # by routing it again by its delivery_info: through the events' topic exchange,
                # into every endpoint's queue. The default exchange ('') with the queue's name
                # as routing key takes it back to this queue only.
                properties.setdefault("delivery_info", {}).update(exchange="", routing_key=queue)
            else:
                os.remove(claimed)
            return payload
        raise filesystem.Empty()

    def peek(self, queue: str) -> Iterator[Any]:
        """The queue's messages, oldest first, read where they lie: none claimed, none written.
        A listing of dead letters (a console page, ``registry deadletter list``) reads them so;
        taking each and parking it again cost a publish, two fsyncs, per letter shown."""
        folder, names = self._messages(queue)
        for name in names:
            try:
                with open(os.path.join(folder, name), "rb") as f:
                    payload = loads(f.read().decode())
            except FileNotFoundError:
                continue  # taken meanwhile (a replay, a purge)
            yield self.message_to_python(payload)

    def _size(self, queue):
        return len(self._messages(queue)[1])

    def _purge(self, queue):
        folder, names = self._messages(queue)
        count = 0
        for name in names:
            try:
                os.remove(os.path.join(folder, name))
                count += 1
            except OSError:
                pass  # consumed meanwhile
        return count

    def _release_claim(self, delivery_tag) -> None:
        with self._claimed_lock:
            claimed = self._claimed.pop(delivery_tag, None)
        if claimed:
            try:
                os.remove(claimed)
            except FileNotFoundError:
                pass

    def basic_ack(self, delivery_tag, multiple=False):
        super().basic_ack(delivery_tag, multiple)
        self._release_claim(delivery_tag)

    def basic_reject(self, delivery_tag, requeue=False):
        super().basic_reject(delivery_tag, requeue=requeue)
        self._release_claim(delivery_tag)

    def _restore(self, message):
        # Requeued (a reject, or unacked at close): the new copy replaces the claim.
        super()._restore(message)
        self._release_claim(message.delivery_tag)


CLAIM_SEPARATOR = "@"


def recover_claimed(directory: Path) -> int:
    """Put back messages claimed by processes that no longer exist (killed mid-delivery).
    Returns how many came back."""
    data, processed = directory / "data", directory / "processed"
    if not processed.is_dir():
        return 0
    recovered = 0
    for entry in os.listdir(processed):
        parts = entry.split(CLAIM_SEPARATOR, 2)
        if len(parts) != 3 or not parts[0].isdigit() or _alive(int(parts[0])):
            continue
        _, queue, name = parts
        try:
            (data / queue).mkdir(exist_ok=True)
            os.rename(processed / entry, data / queue / name)
            recovered += 1
        except OSError:
            continue  # another process recovered it first
    return recovered


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class AtomicFilesystemTransport(filesystem.Transport):
    Channel = AtomicFilesystemChannel


def embedded_transport_options(directory: Path) -> dict:
    data, processed, control = directory / "data", directory / "processed", directory / "control"
    for folder in (data, processed, control):
        folder.mkdir(parents=True, exist_ok=True)
    return {
        "data_folder_in": str(data),
        "data_folder_out": str(data),
        "processed_folder": str(processed),
        "store_processed": False,
        "control_folder": str(control),
        "polling_interval": EMBEDDED_POLL_INTERVAL,
    }
