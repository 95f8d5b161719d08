"""notifications.broker.queuetype: quorum on the real RabbitMQ (3.10): every queue is a quorum
queue, events go end to end through a notifier process, retries come back through quorum retry
queues (message TTL, at-least-once dead-lettering) and then park in the quorum dead-letter queue,
from which they replay; queues of the other type give one clear error (the registry spools, the
notifier exits) until they are deleted. On Redis the key only earns a warning."""

from __future__ import annotations

import json
import logging
import re
import subprocess
import time
from typing import Any

import pytest
from kombu import Connection, Producer

from services.notifier.service import EXIT_QUEUE_CONFLICT
from shared.broker import (
    dead_queue_name,
    endpoint_queue_name,
    retry_queue_name,
    retry_steps,
    topology_for,
)
from tests.conftest import require_tool
from tests.integration.notifications.support import (
    REGISTRY,
    REPO_ROOT,
    Deployment,
    Process,
    clean_env,
    endpoint,
    make_event,
    parked,
    wait_until,
)
from tests.integration.notifications.test_notify_retries import (
    failing_then_dead_lettered_then_replayed,
)

pytestmark = pytest.mark.integration

CONFLICT = "broker queue exists with another type"


def broker_queues(prefix: str) -> dict[str, dict[str, Any]]:
    """RabbitMQ's own view of the queues whose name starts with ``prefix``."""
    ctl = require_tool("rabbitmqctl")
    # stdin: rabbitmqctl reads it, and would eat a caller's (a shell loop's) input
    out = subprocess.run(
        [ctl, "list_queues", "-q", "--formatter", "json", "name", "type", "arguments", "durable",
         "auto_delete", "exclusive"],
        stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=60, check=True).stdout
    queues = {}
    for q in json.loads(out):
        if q["name"].startswith(prefix):
            q["arguments"] = {name: value for name, _kind, value in q["arguments"]}
            queues[q["name"]] = q
    return queues


def endpoint_queue_names(d: Deployment, name: str) -> set[str]:
    (ep,) = [e for e in d.config.notifications.endpoints if e.name == name]
    return {endpoint_queue_name(name), dead_queue_name(name),
            *(retry_queue_name(name, s) for s in retry_steps(ep))}


def assert_all_quorum(d: Deployment, name: str) -> dict[str, dict[str, Any]]:
    queues = broker_queues(endpoint_queue_name(name))
    assert set(queues) == endpoint_queue_names(d, name)
    for q in queues.values():
        assert q["type"] == "quorum", q
        assert q["durable"] is True and q["auto_delete"] is False and not q["exclusive"], q
        assert q["arguments"]["x-queue-type"] == "quorum", q
    return queues


def test_quorum_queues_carry_an_event_end_to_end(rabbitmq_url, receivers, typed, notifiers, uid):
    hook = receivers()
    name = f"qq-{uid}"
    d = typed(rabbitmq_url, [endpoint(name, hook.url)])
    process = notifiers(d)
    queues = assert_all_quorum(d, name)
    for step in retry_steps(d.config.notifications.endpoints[0]):
        arguments = queues[retry_queue_name(name, step)]["arguments"]
        assert arguments["x-message-ttl"] == round(step * 1000)
        assert arguments["x-dead-letter-exchange"] == f"{d.exchange}.requeue"
        assert arguments["x-dead-letter-strategy"] == "at-least-once"
        assert arguments["x-overflow"] == "reject-publish"

    event = make_event()
    d.publish(event)  # the registry's own publisher: declares the same queues, publishes confirmed
    (request,) = hook.wait_for(1)
    assert request.json == event.to_dict()
    process.wait_log(f"notification sent endpoint={name} ")
    assert CONFLICT not in process.log()
    assert not d.sink.spool.pending()


def test_retries_come_back_through_quorum_retry_queues_then_park_and_replay(
        rabbitmq_url, receivers, typed, notifiers, uid):
    # The failing-endpoint scenario of every broker, on quorum queues: each retry waits in its
    # quorum retry queue until its TTL dead-letters it back (at least once), then the event is
    # parked in the quorum dead-letter queue, listed and replayed.
    name = f"qqfail-{uid}"
    d = failing_then_dead_lettered_then_replayed(rabbitmq_url, receivers, typed, notifiers, name)
    assert parked(d, name) == 0
    assert_all_quorum(d, name)  # neither the notifier nor replay declared another type


def test_a_short_per_message_expiration_beats_the_quorum_retry_queues_ttl(rabbitmq_url, typed,
                                                                            uid):
    """The consumer republishes a retry with ``expiration`` (its jittered wait) into the retry
    queue of the next longer step: on a quorum queue (3.10+) that per-message TTL is honoured."""
    name = f"qqttl-{uid}"
    d = typed(rabbitmq_url, [endpoint(name, "http://127.0.0.1:9/", backoff="5s", maxbackoff="5s")])
    topology = topology_for(d.config)
    with Connection(rabbitmq_url, transport_options={"confirm_publish": True}) as conn:
        topology.declare(conn, d.config.notifications.endpoints)
        producer = Producer(conn.channel(), serializer="json")
        started = time.monotonic()
        producer.publish({"n": 1}, exchange=topology.delay_exchange,
                         routing_key=topology.retry_routing_key(name, 5.0), delivery_mode=2,
                         expiration=0.3)
        main = topology.endpoint_queue(name)(conn.channel())
        message = wait_until(lambda: main.get(no_ack=True), 4, "the retry back in the main queue")
        took = time.monotonic() - started
    assert message.payload == {"n": 1}
    assert 0.25 <= took < 2.0, took  # the message's 300 ms, not the queue's 5 s
    death = message.headers["x-death"][0]
    assert (death["reason"], death["queue"]) == ("expired", retry_queue_name(name, 5.0))


def conflict_lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if f"ERROR {CONFLICT}" in line]


def test_classic_queues_under_quorum_config_spool_events_stop_the_notifier_until_deleted(
        rabbitmq_url, receivers, typed, notifiers, uid, caplog):
    hook = receivers()
    name = f"qqmig-{uid}"
    d = typed(rabbitmq_url, [endpoint(name, hook.url)], queuetype="classic")
    with Connection(rabbitmq_url) as conn:  # an install from before: classic queues
        topology_for(d.config).declare(conn, d.config.notifications.endpoints)
    assert {q["type"] for q in broker_queues(endpoint_queue_name(name)).values()} == {"classic"}
    d.switch("quorum")

    # The notifier: one explicit ERROR line, then it exits (waiting would never end).
    process = Process(["notifier", str(d.config_path)], d.workdir / "notifier-conflict.log")
    status = process.proc.wait(30)
    log = process.log()
    assert status == EXIT_QUEUE_CONFLICT, log
    (line,) = conflict_lines(log)
    assert f" queue={endpoint_queue_name(name)} existing=classic queuetype=quorum endpoints={name} " \
        in line
    assert f"registry queues CONFIG delete --endpoint {name} --yes" in line
    assert "disable the endpoint" in line and "set queuetype back to classic" in line
    assert "Traceback" not in log

    # The registry: the push does not fail, its event waits in the spool, one ERROR line even
    # though the flusher meets the conflict again every 2 s at most.
    event = make_event()
    with caplog.at_level(logging.WARNING, logger="registry.events"):
        d.publish(event)
        assert d.sink.spool.depth() == 1
        time.sleep(2.5)
    errors = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(errors) == 1, [r.getMessage() for r in errors]
    assert errors[0].levelno == logging.ERROR
    message = errors[0].getMessage()
    assert message.startswith(f"{CONFLICT}, events spooled until it is fixed "
                              f"queue={endpoint_queue_name(name)} existing=classic queuetype=quorum")
    assert f"--endpoint {name} --yes" in message
    assert d.sink.spool.depth() == 1

    # deadletter says the same and creates nothing
    listed = d.cli("deadletter", "list")
    assert listed.returncode == 1, listed.stderr
    assert listed.stderr.startswith(f"{CONFLICT} queue={endpoint_queue_name(name)} "), listed.stderr
    assert listed.stderr.count(CONFLICT) == 1 and listed.stdout == ""

    # The way out the error names: the endpoint disabled in the config the command reads...
    d.endpoints = [dict(d.endpoints[0], disabled=True)]
    d.write()
    deleted = d.cli("queues", "delete", "--endpoint", name, "--yes")
    assert deleted.returncode == 0, deleted.stderr
    assert len(re.findall(r"^deleted queue=", deleted.stdout, re.M)) == len(
        endpoint_queue_names(d, name))
    d.endpoints = [dict(d.endpoints[0], disabled=False)]
    d.write()
    # ... then the registry's flusher declares quorum queues and publishes the spooled event,
    assert wait_until(lambda: not d.sink.spool.pending(), 10, "the spool to flush")
    assert_all_quorum(d, name)
    # and a notifier starts and delivers it.
    notifier = notifiers(d)
    (request,) = hook.wait_for(1)
    assert request.json == event.to_dict()
    assert not conflict_lines(notifier.log())


def test_quorum_queues_under_classic_config_stop_the_notifier(rabbitmq_url, receivers, typed,
                                                              notifiers, uid):
    hook = receivers()
    names = [f"qqback-{uid}", f"qqback2-{uid}"]
    d = typed(rabbitmq_url, [endpoint(n, hook.url) for n in names])
    notifiers(d).stop()  # quorum queues made by a quorum notifier
    d.switch("classic")
    process = Process(["notifier", str(d.config_path)], d.workdir / "notifier-back.log")
    assert process.proc.wait(30) == EXIT_QUEUE_CONFLICT
    (line,) = conflict_lines(process.log())
    # One line names every endpoint whose queues are of the other type.
    assert f" existing=quorum queuetype=classic endpoints={','.join(names)} " in line
    assert "--endpoint NAME --yes" in line and "set queuetype back to quorum" in line


def test_a_queue_recreated_with_another_type_while_running_stops_the_notifier(
        rabbitmq_url, receivers, typed, notifiers, uid):
    hook = receivers()
    name = f"qqlive-{uid}"
    d = typed(rabbitmq_url, [endpoint(name, hook.url)])
    process = notifiers(d)
    d.publish(make_event())
    hook.wait_for(1)
    # Someone deletes the main queue and something on an old config declares it classic.
    with Connection(rabbitmq_url) as conn:
        channel = conn.channel()
        channel.queue_delete(endpoint_queue_name(name))
        channel.queue_declare(queue=endpoint_queue_name(name), durable=True, auto_delete=False)
    status = process.proc.wait(30)
    log = process.log()
    assert status == EXIT_QUEUE_CONFLICT, log
    (line,) = conflict_lines(log)
    assert f"queue={endpoint_queue_name(name)} existing=classic queuetype=quorum" in line


def test_quorum_on_redis_is_a_warning_and_its_usual_queues(redis_url, receivers, typed, notifiers,
                                                           uid):
    hook = receivers()
    name = f"qqredis-{uid}"
    d = typed(redis_url, [endpoint(name, hook.url)])
    process = notifiers(d)
    warnings = [line for line in process.log().splitlines()
                if "key=notifications.broker.queuetype" in line]
    assert len(warnings) == 1, process.log()
    assert re.search(r"WARNING config key has no meaning on this broker, using its normal queues "
                     r"key=notifications\.broker\.queuetype queuetype=quorum broker=redis$",
                     warnings[0]), warnings
    event = make_event()
    d.publish(event)
    (request,) = hook.wait_for(1)
    assert request.json == event.to_dict()


def test_the_cli_takes_the_key_from_the_environment_and_refuses_other_values(tmp_path):
    config = tmp_path / "config.yml"
    config.write_text(f"storage: {{filesystem: {{rootdirectory: {tmp_path / 'root'}}}}}\n")
    env = clean_env(REGISTRY_NOTIFICATIONS_BROKER_QUEUETYPE="replicated")
    run = subprocess.run([str(REGISTRY), "queues", str(config), "list"], capture_output=True,
                         text=True, env=env, cwd=REPO_ROOT, timeout=60)
    assert run.returncode == 2
    assert "configuration error: notifications.broker.queuetype: expected classic or quorum, " \
           "got 'replicated'" in run.stderr
