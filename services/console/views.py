"""What every page and API resource shares: the config, the registry client, the content cache,
the history, and the templates."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import falcon
from jinja2 import Environment, FileSystemLoader, select_autoescape

from services.console.access.session import SessionCodec
from services.console.history import History
from services.console.inventory import ContentCache
from services.console.inventory.store import TimedCache
from services.console.registry import RegistryClient, pull_host
from services.console.registry.client import RegistryCalls
from shared.config import Config

TEMPLATES = Path(__file__).parent / "templates"

# The navigation of every page: (path, label).
NAV = (
    ("/", "Overview"),
    ("/repositories", "Repositories"),
    ("/events", "Events"),
    ("/endpoints", "Endpoints"),
    ("/deadletters", "Dead letters"),
)


def human_bytes(n: int | None) -> str:
    if n is None:
        return "—"
    size = float(n)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if size < 1024 or unit == "TiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{n} B"


def short_digest(digest: str | None) -> str:
    if not digest:
        return ""
    algo, _, hexpart = digest.partition(":")
    return f"{algo}:{hexpart[:12]}" if hexpart else digest


def when(value: datetime | str | None) -> str:
    if value is None:
        return "—"
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S %Z").strip()
    return str(value).replace("T", " ")[:19]


def percent(share: float | None) -> str:
    return "—" if share is None else f"{share * 100:.1f}%"


def millis(value: float | None) -> str:
    if value is None:
        return "—"
    return f"{value:.0f} ms" if value < 10_000 else f"{value / 1000:.1f} s"


def templates() -> Environment:
    env = Environment(loader=FileSystemLoader(str(TEMPLATES)),
                      autoescape=select_autoescape(["html"]), trim_blocks=True,
                      lstrip_blocks=True)
    env.filters.update(bytes=human_bytes, short=short_digest, when=when, percent=percent,
                       ms=millis)
    return env


@dataclass
class Views:
    config: Config
    client: RegistryClient
    cache: ContentCache
    summaries: TimedCache  # catalog pages and repository summaries, per user, for a while
    history: History
    codec: SessionCodec
    env: Environment

    def calls(self, req: falcon.Request) -> RegistryCalls:
        session = req.context.session
        return self.client.as_user(session.credentials if session else None)

    @property
    def delete_enabled(self) -> bool:
        return self.config.storage.delete_enabled

    def pull_host(self, req: falcon.Request) -> str:
        return pull_host(self.config, req.get_header("Host") or req.host)

    def render(self, req: falcon.Request, resp: falcon.Response, template: str,
               status: str = falcon.HTTP_200, **values: Any) -> None:
        session = req.context.session
        resp.status = status
        resp.content_type = "text/html; charset=utf-8"
        resp.text = self.env.get_template(template).render(
            nav=NAV, path=req.path, session=session,
            user=session.user if session else None,
            operator=getattr(req.context, "operator", False),
            csrf_token=session.csrf if session else "",
            history_available=self.history.available, history_reason=self.history.reason,
            **values)
