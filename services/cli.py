"""The ``registry`` command: one config file, seven sub-commands.

This module composes the two services (it is the only place that knows both): in embedded mode
``serve`` starts a notifier process beside the HTTP server.
"""

from __future__ import annotations

import argparse
import logging
import multiprocessing
import os
import sys

from shared.broker import ignored_queue_type
from shared.config import Config, ConfigError, load_config
from shared.logfmt import kv, setup_logging
from shared.metrics import prepare_multiprocess_dir

log = logging.getLogger("registry")


def _load(path: str) -> Config:
    try:
        config = load_config(path)
    except ConfigError as exc:
        print(str(exc), file=sys.stderr)
        raise SystemExit(2) from None
    setup_logging(config.log)
    for key in config.ignored_keys:
        log.warning(kv("config key ignored (not implemented here)", key=key))
    broker = ignored_queue_type(config)
    if broker is not None:
        # Not an error: the same config file may serve a dev setup on Redis or the embedded broker.
        log.warning(kv("config key has no meaning on this broker, using its normal queues",
                       key="notifications.broker.queuetype",
                       queuetype=config.notifications.broker.queuetype, broker=broker))
    return config


def _run_embedded_notifier(config: Config) -> None:
    from services.notifier.service import run

    run(config, serve_debug=False)


def cmd_serve(args: argparse.Namespace) -> int:
    if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        prepare_multiprocess_dir()
    config = _load(args.config)
    from services.registry.server import run as run_server

    notifier = None
    if config.notifications.broker.embedded and any(
        not e.disabled for e in config.notifications.endpoints
    ):
        # One command gives working webhooks: the embedded broker lives on local disk and one
        # notifier consumes it beside the HTTP server, sharing its metrics folder.
        notifier = multiprocessing.get_context("fork").Process(
            target=_run_embedded_notifier, args=(config,), name="notifier", daemon=False
        )
        notifier.start()
        log.info(kv("embedded notifier started", pid=notifier.pid))
    try:
        return run_server(config)
    finally:
        if notifier is not None and notifier.is_alive():
            notifier.terminate()
            notifier.join(15)


def cmd_notifier(args: argparse.Namespace) -> int:
    # One process: its metrics stay in memory unless PROMETHEUS_MULTIPROC_DIR names a folder to
    # share (with `registry deadletter replay`, say). Each sample written to a multiprocess file
    # takes a global lock and a pid check, and a draining notifier writes ten per event (~13% of
    # its CPU, measured).
    config = _load(args.config)
    from services.notifier.service import run

    return run(config, serve_debug=True)


def cmd_garbage_collect(args: argparse.Namespace) -> int:
    config = _load(args.config)
    from services.registry.gc import garbage_collect

    return garbage_collect(
        config, dry_run=args.dry_run, delete_untagged=args.delete_untagged, out=sys.stdout
    )


def _history_command(handler):
    """An operator command on the history and the broker (services.history_cli)."""

    def call(args: argparse.Namespace) -> int:
        from services import history_cli

        return history_cli.run(handler, _load(args.config), args)

    return call


def cmd_queues(args: argparse.Namespace) -> int:
    config = _load(args.config)
    from services.notifier import queues

    if args.action == "list":
        return queues.list_queues(config, endpoint=args.endpoint, out=sys.stdout)
    return queues.delete(config, endpoint=args.endpoint, yes=args.yes, out=sys.stdout)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="registry", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("serve", help="serve the OCI Distribution API")
    p.add_argument("config")
    p.set_defaults(func=cmd_serve)

    p = sub.add_parser("notifier", help="consume events and deliver webhooks")
    p.add_argument("config")
    p.set_defaults(func=cmd_notifier)

    p = sub.add_parser("garbage-collect", help="remove blobs no manifest references")
    p.add_argument("config")
    p.add_argument("--dry-run", "-d", action="store_true")
    p.add_argument("--delete-untagged", "-m", action="store_true")
    p.set_defaults(func=cmd_garbage_collect)

    from services.history_cli import add_parsers

    add_parsers(sub, _history_command)

    p = sub.add_parser(
        "queues", help="count or delete an endpoint's queues (disabled or removed endpoints)",
        description="list: events waiting per endpoint (queued, retrying, dead). delete: remove "
        "a disabled or removed endpoint's queues and their events (refused for an enabled one). "
        "For a name not in the config the retry queues are looked for at the default backoff "
        "steps (1s doubling to 300s).")
    p.add_argument("config")
    p.add_argument("action", choices=("list", "delete"))
    p.add_argument("--endpoint", default=None,
                   help="one endpoint; may name one no longer in the config")
    p.add_argument("--yes", action="store_true",
                   help="delete: really delete (without it, only print what would go)")
    p.set_defaults(func=cmd_queues)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.func(args) or 0)


if __name__ == "__main__":
    raise SystemExit(main())
