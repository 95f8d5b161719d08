"""Secrets kept outside the config file."""

from __future__ import annotations

import os
import re
from pathlib import Path

from shared.config.errors import ConfigError

_SECRET_REF = re.compile(r"^\$\{(env|file):([^}]+)\}$")


def is_secret_reference(value: str) -> bool:
    return _SECRET_REF.match(value.strip()) is not None


def expand_secret(value: str, key: str) -> str:
    """``${env:NAME}`` and ``${file:/path}`` let a secret live outside the config file
    (a Kubernetes Secret mounted as a file or an environment variable)."""
    match = _SECRET_REF.match(value.strip())
    if not match:
        return value
    kind, ref = match.groups()
    if kind == "env":
        if ref not in os.environ:
            raise ConfigError(key, f"environment variable {ref} is not set")
        return os.environ[ref]
    try:
        return Path(ref).read_text().strip()
    except OSError as exc:
        raise ConfigError(key, f"cannot read {ref}: {exc.strerror}") from None
