"""What the history benchmarks share, with no import of the registry's code: a script that
measures another checkout (``history_write_bench.py --baseline``) imports the history from there."""

from __future__ import annotations

import os
import time
import uuid

PG = os.environ.get("BENCH_POSTGRES_URL", "postgresql://127.0.0.1:5432/test")


def pg_schema() -> tuple[str, callable]:
    import sqlalchemy as sa

    name = f"bench_{uuid.uuid4().hex[:10]}"
    engine = sa.create_engine(PG.replace("postgresql://", "postgresql+psycopg://"))
    with engine.begin() as c:
        c.execute(sa.text(f"CREATE SCHEMA {name}"))

    def drop() -> None:
        with engine.begin() as c:
            c.execute(sa.text(f"DROP SCHEMA {name} CASCADE"))

    return f"{PG}?options=-csearch_path%3D{name}", drop


def event(tag: str) -> dict:
    digest = "sha256:" + uuid.uuid4().hex * 2
    return {"id": str(uuid.uuid4()), "timestamp": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "action": "push",
            "target": {"mediaType": "application/vnd.oci.image.manifest.v1+json", "size": 561,
                       "digest": digest, "length": 561, "repository": "bench/drain",
                       "url": f"http://127.0.0.1:5000/v2/bench/drain/manifests/{digest}",
                       "tag": tag},
            "request": {"id": str(uuid.uuid4()), "addr": "127.0.0.1:1", "host": "127.0.0.1:5000",
                        "method": "PUT", "useragent": "bench"},
            "actor": {}, "source": {"addr": "bench:5000", "instanceID": "bench"}}


def history_backends(since: float) -> list[int]:
    """The PostgreSQL server processes serving the notifier started at ``since``."""
    import sqlalchemy as sa

    engine = sa.create_engine(PG.replace("postgresql://", "postgresql+psycopg://"))
    try:
        with engine.connect() as c:
            return list(c.execute(sa.text(
                "SELECT pid FROM pg_stat_activity WHERE application_name = 'registry-history' "
                "AND backend_start >= to_timestamp(:t)"), {"t": since - 1}).scalars())
    finally:
        engine.dispose()
