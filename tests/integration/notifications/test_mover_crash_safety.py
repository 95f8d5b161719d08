"""On Redis, a notifier killed while its retry mover takes a due retry loses nothing: the take
moves the message atomically into the channel's claim list, as the consumer's pop does, so it is
never out of the queue without being recorded somewhere a notifier brings it back from."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest
import redis

from shared.broker import HEADER_DUE, connect, retry_queue_name, retry_steps, topology_for
from shared.broker.redis_transport import CLAIM_PREFIX, CLAIMS_SET
from tests.integration.notifications.support import (
    DIE_BEFORE_RECORDING,
    REPO_ROOT,
    endpoint,
    make_event,
    unacked_event_ids,
)

pytestmark = pytest.mark.integration

# A retry mover that dies before kombu records the due retry it took.
MOVER_DIES = DIE_BEFORE_RECORDING + """
from services.notifier.mover import RetryMover
endpoint = config.notifications.endpoints[0]
with connect(config) as connection:
    mover = RetryMover(connection, topology_for(config), endpoint)
    mover.tick(Producer(connection.channel(), serializer="json"))
"""


def test_a_mover_killed_between_take_and_record_loses_nothing(
        redis_url, receivers, deployments, notifiers, uid):
    hook = receivers()
    name = f"fix-mover-{uid}"
    d = deployments(redis_url, [endpoint(name, hook.url, timeout="1s", backoff="100ms",
                                         maxbackoff="100ms")])
    config = d.config
    topology = topology_for(config)
    event = make_event()
    with connect(config) as connection:  # a failed attempt's retry, due now
        topology.declare(connection, config.notifications.endpoints)
        [step] = retry_steps(config.notifications.endpoints[0])
        connection.Producer(serializer="json").publish(
            event.to_dict(), exchange=topology.delay_exchange,
            routing_key=topology.retry_routing_key(name, step),
            headers={HEADER_DUE: time.time() - 1}, delivery_mode=2)
    client = redis.Redis.from_url(redis_url)
    queue = retry_queue_name(name, step)
    assert client.llen(queue) == 1

    died = subprocess.run([sys.executable, "-c", MOVER_DIES, str(d.config_path)],
                          cwd=REPO_ROOT, capture_output=True, text=True, timeout=60)
    assert died.returncode == -9, died.stdout + died.stderr
    # The only copy is in the dead channel's claim list: not in the queue, not unacknowledged.
    assert client.llen(queue) == 0
    assert event.id not in unacked_event_ids(client)
    claims = [k for k in client.smembers(CLAIMS_SET) if k.decode().endswith(queue)]
    assert len(claims) == 1 and claims[0].decode().startswith(CLAIM_PREFIX)
    assert client.llen(claims[0]) == 1

    # Its heartbeat expires (3 x timeout + 10 s), a notifier puts the claim back, moves it on
    # and delivers it (about 15 s from the kill; the margin is for a loaded CI machine).
    process = notifiers(d)
    assert hook.wait_for(1, timeout=60)[0].json["id"] == event.id
    process.wait_log(f"requeued messages of a dead consumer queue={queue} count=1")
    assert client.llen(claims[0]) == 0
