"""Where the registry's API is, for the console's calls and for the pull commands it shows."""

from __future__ import annotations

from urllib.parse import urlparse

from shared.config import Config


def registry_base_url(config: Config) -> str:
    """``console.registry``, else ``http.host``, else ``http.addr`` on loopback; with
    ``http.prefix`` after the host, where ``/v2/`` lives."""
    if config.console.registry:
        root = config.console.registry
    elif config.http.host:
        root = config.http.host
    else:
        scheme = "https" if config.http.tls_certificate else "http"
        host, port = config.http.addr.rsplit(":", 1)
        host = host if host not in ("", "0.0.0.0", "[::]") else "127.0.0.1"
        root = f"{scheme}://{host}:{port}"
    prefix = config.http.prefix.strip("/")
    return root.rstrip("/") + (f"/{prefix}" if prefix else "")


def pull_host(config: Config, browser_host: str) -> str:
    """The ``host[:port]`` a person pulls from: ``http.host``'s, else the host the browser
    used for the console with the registry's port."""
    if config.http.host:
        return urlparse(config.http.host).netloc
    name = browser_host.rsplit(":", 1)[0] if not browser_host.endswith("]") else browser_host
    port = config.http.addr.rsplit(":", 1)[1]
    return f"{name or '127.0.0.1'}:{port}"
