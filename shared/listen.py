"""Listening addresses as the config writes them, as servers bind them."""

from __future__ import annotations


def bind_address(addr: str) -> str:
    """``:5000`` -> ``0.0.0.0:5000``; ``[::]:5000`` and ``host:port`` as they are."""
    return f"0.0.0.0{addr}" if addr.startswith(":") else addr
