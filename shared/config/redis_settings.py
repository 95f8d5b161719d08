"""The ``redis`` section (the blob descriptor cache's server)."""

from __future__ import annotations

from dataclasses import dataclass

from shared.config.section import Section


@dataclass(frozen=True)
class RedisConfig:
    addrs: tuple[str, ...] = ()
    username: str | None = None
    password: str | None = None
    db: int = 0
    dialtimeout: float | None = None
    readtimeout: float | None = None
    writetimeout: float | None = None
    maxactive: int | None = None  # pool.maxactive / poolsize / maxactiveconns
    maxidle: int | None = None
    idletimeout: float | None = None
    tls: bool = False



def parse_redis(redis: Section) -> RedisConfig:
    addrs = list(redis.strings("addrs"))
    single = redis.str("addr")
    if single:
        addrs.insert(0, single)
    pool = redis.section("pool")
    return RedisConfig(
        addrs=tuple(addrs),
        username=redis.str("username"),
        password=redis.str("password") or None,
        db=redis.int("db", 0, minimum=0) or 0,
        dialtimeout=redis.duration("dialtimeout"),
        readtimeout=redis.duration("readtimeout"),
        writetimeout=redis.duration("writetimeout"),
        maxactive=pool.int("maxactive") or redis.int("poolsize") or redis.int("maxactiveconns"),
        maxidle=pool.int("maxidle") or redis.int("maxidleconns"),
        idletimeout=pool.duration("idletimeout") or redis.duration("connmaxidletime"),
        tls=bool(redis.section("tls").raw) if redis.has("tls") else False,
    )
