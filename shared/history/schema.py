"""The history's tables (SQLAlchemy Core), the same on SQLite and PostgreSQL.

Times are epoch seconds (double precision): one type on both databases, compared and indexed
as numbers. ``history_deliveries`` repeats the event's action, repository, tag, digest and time
so that listing deliveries with filters reads one table through one index (1 million rows, a
filtered page in well under 200 ms). Migrations (``migrations/versions``) create and change
these tables; this module is what the code reads and writes through.
"""

from __future__ import annotations

import sqlalchemy as sa

metadata = sa.MetaData(naming_convention={
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "pk": "pk_%(table_name)s",
})

# An id that is BIGINT on PostgreSQL and SQLite's rowid (only INTEGER PRIMARY KEY is that).
RowId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

events = sa.Table(
    "history_events", metadata,
    sa.Column("id", sa.String(128), primary_key=True),
    sa.Column("time", sa.Double, nullable=False),  # the event's timestamp
    sa.Column("action", sa.String(32), nullable=False),
    sa.Column("routing_key", sa.String(64), nullable=False),  # manifest.push ...
    sa.Column("repository", sa.String(512)),
    sa.Column("tag", sa.String(256)),
    sa.Column("digest", sa.String(160)),
    sa.Column("media_type", sa.String(256)),
    sa.Column("actor", sa.String(256)),
    sa.Column("source", sa.String(256)),  # the registry instance that published it
    sa.Column("body", sa.Text, nullable=False),  # the event's JSON
    sa.Index(None, "time"),
    sa.Index(None, "repository", "time"),
    sa.Index(None, "tag", "time"),
    sa.Index(None, "repository", "tag", "time"),  # a tag's events (migration 0002)
    sa.Index(None, "digest"),
    sa.Index(None, "actor", "time"),
)

deliveries = sa.Table(
    "history_deliveries", metadata,
    sa.Column("id", RowId, primary_key=True, autoincrement=True),
    sa.Column("event_id", sa.String(128), nullable=False),
    sa.Column("endpoint", sa.String(128), nullable=False),
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("event_time", sa.Double, nullable=False),
    sa.Column("action", sa.String(32), nullable=False),
    sa.Column("repository", sa.String(512)),
    sa.Column("tag", sa.String(256)),
    sa.Column("digest", sa.String(160)),
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    sa.Column("last_status", sa.Integer),
    sa.Column("last_error_class", sa.String(16)),
    sa.Column("last_error", sa.String(300)),
    sa.Column("updated", sa.Double, nullable=False),
    sa.Column("delivered_at", sa.Double),
    sa.Column("latency_ms", sa.Double),  # the event's timestamp to the 2xx
    sa.Column("next_attempt", sa.Double),
    sa.UniqueConstraint("event_id", "endpoint"),
    sa.Index(None, "event_time"),
    sa.Index(None, "endpoint", "event_time"),
    sa.Index(None, "state", "endpoint", "event_time"),
    sa.Index(None, "repository", "event_time"),
)

attempts = sa.Table(
    "history_attempts", metadata,
    sa.Column("id", RowId, primary_key=True, autoincrement=True),
    sa.Column("event_id", sa.String(128), nullable=False),
    sa.Column("endpoint", sa.String(128), nullable=False),
    sa.Column("time", sa.Double, nullable=False),  # when the attempt started
    sa.Column("notifier", sa.String(256), nullable=False),
    sa.Column("duration_ms", sa.Double, nullable=False),
    sa.Column("request_headers", sa.Text, nullable=False),  # JSON, secret values masked
    sa.Column("status", sa.Integer),
    sa.Column("response_headers", sa.Text),  # JSON
    sa.Column("response_body", sa.Text),  # the first maxbodybytes
    sa.Column("error_class", sa.String(16)),
    sa.Column("error", sa.String(300)),
    sa.Index(None, "event_id", "endpoint"),
    sa.Index(None, "endpoint", "time"),
    sa.Index(None, "time"),
)

# Pauses, shared by every notifier (each reads this table twice a second).
controls = sa.Table(
    "history_endpoint_controls", metadata,
    sa.Column("endpoint", sa.String(128), primary_key=True),
    sa.Column("paused", sa.Boolean, nullable=False),
    sa.Column("reason", sa.String(16)),  # operator | auto
    sa.Column("since", sa.Double),
    sa.Column("paused_by", sa.String(256)),
    sa.Column("last_probe", sa.Double),  # an auto-paused endpoint's last probe (any notifier)
)

notifiers = sa.Table(
    "history_notifiers", metadata,
    sa.Column("id", sa.String(256), primary_key=True),
    sa.Column("host", sa.String(256), nullable=False),
    sa.Column("pid", sa.Integer, nullable=False),
    sa.Column("started", sa.Double, nullable=False),
    sa.Column("last_seen", sa.Double, nullable=False),
    sa.Index(None, "last_seen"),
)
