"""The ``registry`` command: one config file, eight sub-commands.

This module composes the services (it is the only place that knows them all): in embedded mode
``serve`` starts a notifier process beside the HTTP server, and the web console when
``console.addr`` is set.
"""

from __future__ import annotations

import argparse
import logging
import multiprocessing
import os
import secrets
import sys
from dataclasses import replace

from shared.broker import ignored_queue_type
from shared.config import Config, ConfigError, load_config
from shared.logfmt import kv, setup_logging
from shared.metrics import cache_process_id, prepare_multiprocess_dir

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


def _run_embedded_console(config: Config) -> None:
    from services.console.server import run

    raise SystemExit(run(config))


def _with_run_secret(config: Config) -> Config:
    """The console and the registry share ``http.secret``; with none configured, one made for
    this run (sessions then end when it stops)."""
    if config.http.secret:
        return config
    log.warning(kv("http.secret not set: the console and the registry share one made for "
                   "this run", key="http.secret"))
    return replace(config, http=replace(config.http, secret=secrets.token_urlsafe(32)))


def cmd_serve(args: argparse.Namespace) -> int:
    if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        prepare_multiprocess_dir()
    cache_process_id()
    config = _load(args.config)
    from services.registry.server import run as run_server

    console = None
    if config.notifications.broker.embedded and config.console.addr:
        # As the notifier: with a broker of its own the deployment runs `registry console`.
        config = _with_run_secret(config)
        console = multiprocessing.get_context("fork").Process(
            target=_run_embedded_console, args=(config,), name="console", daemon=False
        )
        console.start()
        log.info(kv("embedded console started", pid=console.pid, addr=config.console.addr))

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
    serving = os.getpid()
    if notifier is not None or console is not None:
        # gunicorn's workers are forks of this process: multiprocessing's exit hook there would
        # try to join serve's notifier and console, which are not theirs (a traceback on every
        # Ctrl-C). Its registry of children has no public way to be emptied.
        os.register_at_fork(after_in_child=multiprocessing.process._children.clear)
    try:
        return run_server(config)
    finally:
        # gunicorn's workers are forks of this process and leave through here too: only the
        # process that started the children stops them.
        if os.getpid() == serving:
            for child in (notifier, console):
                if child is not None and child.is_alive():
                    child.terminate()
                    child.join(15)


def cmd_console(args: argparse.Namespace) -> int:
    config = _load(args.config)
    from services.console.server import run

    return run(config)


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

    p = sub.add_parser("console", help="serve the web console on console.addr (default :5002)")
    p.add_argument("config")
    p.set_defaults(func=cmd_console)

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
