"""On Redis, a consumer killed after it popped a message and before kombu recorded it as
unacknowledged loses nothing: the pop moved the message into the channel's claim list, and a
notifier puts the claims of a channel whose heartbeat expired back in the queue."""

from __future__ import annotations

import subprocess
import sys

import pytest
import redis

from shared.broker import endpoint_queue_name
from shared.broker.redis_transport import CLAIM_PREFIX, CLAIMS_SET
from tests.integration.notifications.support import (
    DIE_BEFORE_RECORDING,
    REPO_ROOT,
    endpoint,
    make_event,
    unacked_event_ids,
)

pytestmark = pytest.mark.integration

# A consumer that dies before kombu records the message it took.
CONSUMER_DIES = DIE_BEFORE_RECORDING + """
queue = topology_for(config).endpoint_queue(config.notifications.endpoints[0].name)
with connect(config) as connection:
    with Consumer(connection, queues=[queue], callbacks=[lambda body, message: None],
                  accept=["json"]):
        connection.drain_events(timeout=10)
"""


def test_a_consumer_killed_between_pop_and_record_loses_nothing(
        redis_url, receivers, deployments, notifiers, uid):
    hook = receivers()
    name = f"claims-{uid}"
    d = deployments(redis_url, [endpoint(name, hook.url, timeout="1s")])
    event = make_event()
    d.publish(event)
    client = redis.Redis.from_url(redis_url)
    queue = endpoint_queue_name(name)
    assert client.llen(queue) == 1

    died = subprocess.run([sys.executable, "-c", CONSUMER_DIES, str(d.config_path)],
                          cwd=REPO_ROOT, capture_output=True, text=True, timeout=60)
    assert died.returncode == -9, died.stdout + died.stderr
    # The only copy is in the dead channel's claim list: not in the queue, not unacknowledged.
    assert client.llen(queue) == 0
    claims = [k for k in client.smembers(CLAIMS_SET) if k.decode().endswith(queue)]
    assert len(claims) == 1 and claims[0].decode().startswith(CLAIM_PREFIX)
    assert client.llen(claims[0]) == 1
    assert event.id not in unacked_event_ids(client)

    # Its heartbeat expires (3 x timeout + 10 s), a notifier puts the claim back and delivers it.
    process = notifiers(d)
    assert hook.wait_for(1, timeout=30)[0].json["id"] == event.id
    process.wait_log(f"requeued messages of a dead consumer queue={queue} count=1")
    assert client.llen(claims[0]) == 0
    assert claims[0] not in client.smembers(CLAIMS_SET)
