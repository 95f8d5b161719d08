"""``registry deliveries``, ``registry endpoints`` and ``registry deadletter``: thin callers of
:mod:`shared.history` (what happened) and :mod:`shared.operations` (what to do about it).

``--json`` prints one JSON object per line, the fields of the issue's contract; otherwise a
table for people. A refused action exits 2 (unknown endpoint or event) or 1 (broker or history
unreachable), with one line on stderr saying why.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from typing import Any, TextIO

from shared.config import Config
from shared.durations import parse_duration
from shared.history.engine import HistoryUnavailable
from shared.history.records import STATES
from shared.logfmt import kv
from shared.operations.errors import OperationError

# The history and the operations (SQLAlchemy, kombu, prometheus_client) are imported by the
# commands that use them: building this parser is part of every command's start, `registry
# serve` included, which must set up its metrics folder before prometheus_client is imported.

TEST_WAIT = 15.0  # seconds `endpoints test` waits for the test event's attempt


def _since(text: str | None) -> float | None:
    """``--since 2h``: that long ago, in epoch seconds."""
    if text is None:
        return None
    try:
        return time.time() - parse_duration(text)
    except ValueError as exc:
        raise OperationError(f"--since: {exc}", status=2) from None


def _line(out: TextIO, doc: dict[str, Any]) -> None:
    out.write(json.dumps(doc, separators=(",", ":")) + "\n")


def _table(out: TextIO, header: list[str], rows: list[list[Any]]) -> None:
    cells = [header] + [["-" if v is None else str(v) for v in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    for row in cells:
        out.write("  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)).rstrip() + "\n")


# ---------------------------------------------------------------- deliveries


def deliveries_list(config: Config, args: argparse.Namespace, out: TextIO) -> int:
    from shared.history import list_deliveries, open_store

    page = list_deliveries(open_store(config), endpoint=args.endpoint, repository=args.repository,
                           action=args.action, state=args.state, since=_since(args.since),
                           limit=args.limit)
    if args.json:
        for row in page.items:
            _line(out, row.to_json())
        return 0
    _table(out, ["TIME", "EVENT", "ENDPOINT", "STATE", "ACTION", "REPOSITORY", "TAG", "ATTEMPTS",
                 "LAST_STATUS"],
           [[r.time, r.event_id, r.endpoint, r.state, r.action, r.repository, r.tag, r.attempts,
             r.last_status if r.last_status is not None else r.error_class] for r in page.items])
    return 0


def _show_text(out: TextIO, detail: Any) -> None:
    event, target = detail.event, detail.event.get("target") or {}
    out.write(f"event {event.get('id')}  {event.get('timestamp')}  {event.get('action')}  "
              f"{target.get('repository')}:{target.get('tag') or target.get('digest') or ''}\n")
    for delivery in detail.deliveries:
        out.write(f"\n{delivery.endpoint}: {delivery.state}"
                  f"{f'  next retry {delivery.next_retry}' if delivery.next_retry else ''}\n")
        for a in delivery.attempts:
            result = f"HTTP {a.status}" if a.status is not None else a.error_class
            out.write(f"  #{a.number} {a.time} {result} {a.duration_ms:.1f}ms notifier={a.notifier}\n")
            if a.error and a.status is None:
                out.write(f"     error: {a.error}\n")
            out.write("     request:  " + ", ".join(f"{k}: {v}" for k, v in a.request_headers.items())
                      + "\n")
            if a.response_headers is not None:
                out.write("     response: " + ", ".join(f"{k}: {v}" for k, v in
                                                        a.response_headers.items()) + "\n")
            if a.response_body:
                out.write(f"     body: {a.response_body[:500]}\n")


def deliveries_show(config: Config, args: argparse.Namespace, out: TextIO) -> int:
    from shared.history import open_store, show_event

    detail = show_event(open_store(config), args.event_id, endpoint=args.endpoint)
    if detail is None:
        raise OperationError(f"event {args.event_id} is not in the delivery history", status=2)
    if args.json:
        _line(out, detail.to_json())
    else:
        _show_text(out, detail)
    return 0


def deliveries_resend(config: Config, args: argparse.Namespace, out: TextIO) -> int:
    from shared.history import open_store
    from shared.operations import deliveries

    if not args.endpoint:
        raise OperationError("resend needs --endpoint NAME", status=2)
    store = open_store(config)
    if args.event_id:
        deliveries.resend_one(config, store, args.event_id, args.endpoint)
        out.write(kv("resent", event=args.event_id, endpoint=args.endpoint) + "\n")
        return 0
    if args.since is None:
        raise OperationError("resend needs EVENT_ID, or --since to resend a range", status=2)
    chosen = deliveries.DeliveryRange(endpoint=args.endpoint, since=_since(args.since) or 0.0,
                                      state=args.state, repository=args.repository)
    count = deliveries.count_range(config, store, chosen)
    out.write(kv("deliveries match", endpoint=args.endpoint, count=count) + "\n")
    if not args.yes:
        out.write("nothing sent: run again with --yes to send them\n")
        return 0
    sent = deliveries.resend_range(config, store, chosen)
    out.write(kv("resent", endpoint=args.endpoint, count=sent) + "\n")
    return 0


def deliveries_backfill(config: Config, args: argparse.Namespace, out: TextIO) -> int:
    from shared.history import open_store
    from shared.operations import deliveries

    if not args.endpoint or args.since is None:
        raise OperationError("backfill needs --endpoint NAME and --since DURATION", status=2)
    store = open_store(config)
    since = _since(args.since) or 0.0
    count = deliveries.count_backfill(config, store, args.endpoint, since)
    out.write(kv("events to backfill", endpoint=args.endpoint, count=count) + "\n")
    if not args.yes:
        out.write("nothing sent: run again with --yes to send them\n")
        return 0
    sent = deliveries.backfill(config, store, args.endpoint, since)
    out.write(kv("backfilled", endpoint=args.endpoint, count=sent) + "\n")
    return 0


# ---------------------------------------------------------------- endpoints


def _store_or_none(config: Config) -> Any:
    from shared.history import open_store

    try:
        return open_store(config)
    except HistoryUnavailable:
        return None


def endpoints_list(config: Config, args: argparse.Namespace, out: TextIO) -> int:
    from shared.operations import endpoints

    summaries = endpoints.list_endpoints(config, _store_or_none(config))
    if args.json:
        for s in summaries:
            _line(out, s.to_json())
        return 0

    def rate(value: float | None) -> str | None:
        return None if value is None else f"{value * 100:.1f}%"

    _table(out, ["NAME", "STATE", "QUEUED", "RETRYING", "DEAD", "SUCCESS", "P95_MS", "LAST_STATUS"],
           [[s.name, s.state, s.queued, s.retrying, s.dead, rate(s.success_rate), s.p95_ms,
             s.last_status if s.last_status is not None else s.last_error_class]
            for s in summaries])
    return 0


def endpoints_pause(config: Config, args: argparse.Namespace, out: TextIO) -> int:
    from shared.history import open_store
    from shared.operations import endpoints

    changed = endpoints.pause_endpoint(config, open_store(config), args.name)
    out.write(kv("paused" if changed else "already paused", endpoint=args.name) + "\n")
    return 0


def endpoints_resume(config: Config, args: argparse.Namespace, out: TextIO) -> int:
    from shared.history import open_store
    from shared.operations import endpoints

    changed = endpoints.resume_endpoint(config, open_store(config), args.name)
    out.write(kv("resumed" if changed else "not paused", endpoint=args.name) + "\n")
    return 0


def endpoints_test(config: Config, args: argparse.Namespace, out: TextIO) -> int:
    from shared.history import open_store
    from shared.operations import endpoints

    store = open_store(config)
    event_id = endpoints.send_test_event(config, store, args.name)
    out.write(kv("test event sent", endpoint=args.name, event=event_id) + "\n")
    delivery = endpoints.wait_for_attempt(store, event_id, args.name, TEST_WAIT)
    if delivery is None or not delivery.attempts:
        out.write(kv("no attempt yet", endpoint=args.name, state=delivery.state if delivery else None,
                     hint=f"registry deliveries CONFIG show {event_id}") + "\n")
        return 1
    attempt = delivery.attempts[-1]
    out.write(kv("attempt", endpoint=args.name, state=delivery.state, status=attempt.status,
                 error_class=attempt.error_class, error=attempt.error,
                 duration_ms=attempt.duration_ms) + "\n")
    return 0 if attempt.status is not None and 200 <= attempt.status < 300 else 1


# ---------------------------------------------------------------- dead letters


def _report_not_events(out: TextIO, tally: Any) -> None:
    if tally.not_events:
        out.write(kv("dead letters kept: not events", endpoint=tally.endpoint,
                     count=tally.not_events,
                     hint="they stay parked; read them with the broker's own tools") + "\n")


def deadletter_list(config: Config, args: argparse.Namespace, out: TextIO) -> int:
    from shared.operations import deadletters

    for tally in deadletters.list_dead_letters(config, args.endpoint):
        for letter in tally.letters:
            _line(out, letter.event)
        out.flush()
        print(kv("dead letters", endpoint=tally.endpoint, count=tally.acted), file=sys.stderr)
        _report_not_events(sys.stderr, tally)
    return 0


def deadletter_replay(config: Config, args: argparse.Namespace, out: TextIO) -> int:
    from shared.operations import deadletters

    for tally in deadletters.replay_dead_letters(config, args.endpoint,
                                                 store=_store_or_none(config)):
        if tally.disabled:
            if tally.events:
                out.write(kv("not replayed: endpoint disabled", endpoint=tally.endpoint,
                             count=tally.events) + "\n")
        else:
            out.write(kv("replayed", endpoint=tally.endpoint, count=tally.acted) + "\n")
        _report_not_events(out, tally)
    return 0


def deadletter_purge(config: Config, args: argparse.Namespace, out: TextIO) -> int:
    from shared.operations import deadletters

    if args.endpoint is None:
        raise OperationError("purge needs --endpoint NAME", status=2)
    if not args.yes:
        for tally in deadletters.list_dead_letters(config, args.endpoint):
            out.write(kv("would purge", endpoint=tally.endpoint, count=tally.acted) + "\n")
        out.write("nothing purged: run again with --yes to delete these dead letters for good\n")
        return 0
    for tally in deadletters.purge_dead_letters(config, args.endpoint):
        out.write(kv("purged", endpoint=tally.endpoint, count=tally.acted) + "\n")
        _report_not_events(out, tally)
    return 0


# ---------------------------------------------------------------- the parsers


Handler = Callable[[Config, argparse.Namespace, TextIO], int]


def run(handler: Handler, config: Config, args: argparse.Namespace) -> int:
    """Run a command; a refusal is one line on stderr and its exit status."""
    try:
        status = handler(config, args, sys.stdout)
    except OperationError as exc:
        print(str(exc), file=sys.stderr)
        return exc.status
    except HistoryUnavailable as exc:
        print(str(exc), file=sys.stderr)
        return 1
    except ValueError as exc:  # a bad filter value (an unknown state, a broken cursor)
        print(str(exc), file=sys.stderr)
        return 2
    sys.stdout.flush()
    return status


def add_parsers(sub: argparse._SubParsersAction, command: Callable[[Handler], Callable]) -> None:
    """The three commands' parsers; ``command(handler)`` makes the function argparse calls."""
    p = sub.add_parser("deliveries", help="the delivery history: list, show, resend, backfill")
    p.add_argument("config")
    actions = p.add_subparsers(dest="action", required=True)
    a = actions.add_parser("list", help="deliveries, newest first")
    a.add_argument("--endpoint")
    a.add_argument("--repository", help="a name or a glob (library/*)")
    a.add_argument("--action", help="push, pull, delete, mount, test")
    a.add_argument("--state", choices=STATES)
    a.add_argument("--since", help="a duration back from now: 30m, 2h, 7d is 168h")
    a.add_argument("--limit", type=int, default=100)
    a.add_argument("--json", action="store_true", help="one JSON object per line")
    a.set_defaults(func=command(deliveries_list))
    a = actions.add_parser("show", help="an event and every attempt to deliver it")
    a.add_argument("event_id")
    a.add_argument("--endpoint")
    a.add_argument("--json", action="store_true")
    a.set_defaults(func=command(deliveries_show))
    a = actions.add_parser(
        "resend", help="deliver one event again now, or every delivery of a range",
        description="resend EVENT_ID --endpoint N: deliver it again now. resend --endpoint N "
        "--since 2h [--state dead] [--repository GLOB]: prints how many match; sends them with "
        "--yes.")
    a.add_argument("event_id", nargs="?")
    a.add_argument("--endpoint")
    a.add_argument("--since")
    a.add_argument("--state", choices=STATES)
    a.add_argument("--repository")
    a.add_argument("--yes", action="store_true", help="send (a range prints the count only)")
    a.set_defaults(func=command(deliveries_resend))
    a = actions.add_parser("backfill", help="past events to an endpoint, through its filters")
    a.add_argument("--endpoint")
    a.add_argument("--since")
    a.add_argument("--yes", action="store_true", help="send (without it, the count only)")
    a.set_defaults(func=command(deliveries_backfill))

    p = sub.add_parser("endpoints", help="endpoints: list, pause, resume, send a test event")
    p.add_argument("config")
    actions = p.add_subparsers(dest="action", required=True)
    a = actions.add_parser("list", help="state, queued, retrying, dead, success rate, p95, last status")
    a.add_argument("--json", action="store_true")
    a.set_defaults(func=command(endpoints_list))
    for name, handler, text in (
            ("pause", endpoints_pause, "pause on every notifier; its events wait in its queue"),
            ("resume", endpoints_resume, "resume; the backlog flows in order"),
            ("test", endpoints_test, "send a test event (action \"test\") and show its attempt")):
        a = actions.add_parser(name, help=text)
        a.add_argument("name")
        a.set_defaults(func=command(handler))

    p = sub.add_parser("deadletter", help="list, replay or purge dropped events")
    p.add_argument("config")
    p.add_argument("action", choices=("list", "replay", "purge"))
    p.add_argument("--endpoint", default=None)
    p.add_argument("--yes", action="store_true", help="purge: really delete")
    handlers = {"list": deadletter_list, "replay": deadletter_replay, "purge": deadletter_purge}
    p.set_defaults(func=command(lambda config, args, out: handlers[args.action](config, args, out)))
