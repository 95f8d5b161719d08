"""``registry console``: gunicorn (gthread workers) serving the console on ``console.addr``.

The session lives in a signed cookie and caches are only caches, so any number of workers and
replicas serve the same users.
"""

from __future__ import annotations

import logging
from typing import Any

from gunicorn import glogging
from gunicorn.app.base import BaseApplication

from shared.config import Config
from shared.listen import bind_address
from shared.logfmt import formatter_for, kv

log = logging.getLogger("console.server")


class ConsoleServer(BaseApplication):
    def __init__(self, config: Config):
        self.config = config
        super().__init__()

    def load_config(self) -> None:
        c = self.config
        log_config = c.log

        class Logger(glogging.Logger):
            def setup(self, cfg: Any) -> None:
                super().setup(cfg)
                for handler in self.error_log.handlers:
                    handler.setFormatter(formatter_for(log_config))

        settings: dict[str, Any] = {
            "bind": [bind_address(c.console.listen_addr)],
            "workers": c.console.workers,
            "threads": c.console.threads,
            "worker_class": "gthread",
            "timeout": 60,
            "graceful_timeout": 5,
            "keepalive": 5,
            "accesslog": None,  # the app logs each request itself (services/console/app.py)
            "errorlog": "-",
            "logger_class": Logger,
            "loglevel": "warning",
            "when_ready": lambda server: log.info(kv(
                "console listening", addr=c.console.listen_addr, workers=c.console.workers)),
            "preload_app": False,
        }
        for key, value in settings.items():
            self.cfg.set(key, value)

    def load(self) -> Any:
        from services.console.app import create_app

        return create_app(self.config)


def run(config: Config) -> int:
    from services.console.app import console_secret
    from shared.config import ConfigError

    try:
        console_secret(config)
    except ConfigError as exc:
        log.error(str(exc))
        return 2
    ConsoleServer(config).run()
    return 0
