"""Dataclasses and dates as JSON."""

from __future__ import annotations

import dataclasses
import json
from datetime import datetime
from typing import Any

import falcon


def as_dict(value: Any) -> dict[str, Any]:
    """A dataclass's fields, one level deep (json.dumps goes on with the rest)."""
    return {f.name: getattr(value, f.name) for f in dataclasses.fields(value)}


def _default(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return as_dict(value)
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, tuple | set | frozenset):
        return list(value)
    raise TypeError(f"not JSON: {type(value).__name__}")


def send_json(resp: falcon.Response, doc: Any, status: str = falcon.HTTP_200) -> None:
    resp.status = status
    resp.content_type = "application/json"
    resp.text = json.dumps(doc, default=_default)
