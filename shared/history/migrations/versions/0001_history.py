"""The delivery history: events, deliveries, attempts, endpoint pauses, notifiers seen.

Revision ID: 0001
Revises:
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

RowId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "history_events",
        sa.Column("id", sa.String(128), nullable=False),
        sa.Column("time", sa.Double, nullable=False),
        sa.Column("action", sa.String(32), nullable=False),
        sa.Column("routing_key", sa.String(64), nullable=False),
        sa.Column("repository", sa.String(512)),
        sa.Column("tag", sa.String(256)),
        sa.Column("digest", sa.String(160)),
        sa.Column("media_type", sa.String(256)),
        sa.Column("actor", sa.String(256)),
        sa.Column("source", sa.String(256)),
        sa.Column("body", sa.Text, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_history_events"),
    )
    op.create_index("ix_history_events_time", "history_events", ["time"])
    op.create_index("ix_history_events_repository_time", "history_events", ["repository", "time"])
    op.create_index("ix_history_events_tag_time", "history_events", ["tag", "time"])
    op.create_index("ix_history_events_digest", "history_events", ["digest"])
    op.create_index("ix_history_events_actor_time", "history_events", ["actor", "time"])

    op.create_table(
        "history_deliveries",
        sa.Column("id", RowId, autoincrement=True, nullable=False),
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
        sa.Column("latency_ms", sa.Double),
        sa.Column("next_attempt", sa.Double),
        sa.PrimaryKeyConstraint("id", name="pk_history_deliveries"),
        sa.UniqueConstraint("event_id", "endpoint", name="uq_history_deliveries_event_id_endpoint"),
    )
    op.create_index("ix_history_deliveries_event_time", "history_deliveries", ["event_time"])
    op.create_index("ix_history_deliveries_endpoint_event_time", "history_deliveries",
                    ["endpoint", "event_time"])
    op.create_index("ix_history_deliveries_state_endpoint_event_time", "history_deliveries",
                    ["state", "endpoint", "event_time"])
    op.create_index("ix_history_deliveries_repository_event_time", "history_deliveries",
                    ["repository", "event_time"])

    op.create_table(
        "history_attempts",
        sa.Column("id", RowId, autoincrement=True, nullable=False),
        sa.Column("event_id", sa.String(128), nullable=False),
        sa.Column("endpoint", sa.String(128), nullable=False),
        sa.Column("time", sa.Double, nullable=False),
        sa.Column("notifier", sa.String(256), nullable=False),
        sa.Column("duration_ms", sa.Double, nullable=False),
        sa.Column("request_headers", sa.Text, nullable=False),
        sa.Column("status", sa.Integer),
        sa.Column("response_headers", sa.Text),
        sa.Column("response_body", sa.Text),
        sa.Column("error_class", sa.String(16)),
        sa.Column("error", sa.String(300)),
        sa.PrimaryKeyConstraint("id", name="pk_history_attempts"),
    )
    op.create_index("ix_history_attempts_event_id_endpoint", "history_attempts",
                    ["event_id", "endpoint"])
    op.create_index("ix_history_attempts_endpoint_time", "history_attempts", ["endpoint", "time"])
    op.create_index("ix_history_attempts_time", "history_attempts", ["time"])

    op.create_table(
        "history_endpoint_controls",
        sa.Column("endpoint", sa.String(128), nullable=False),
        sa.Column("paused", sa.Boolean, nullable=False),
        sa.Column("reason", sa.String(16)),
        sa.Column("since", sa.Double),
        sa.Column("paused_by", sa.String(256)),
        sa.Column("last_probe", sa.Double),
        sa.PrimaryKeyConstraint("endpoint", name="pk_history_endpoint_controls"),
    )

    op.create_table(
        "history_notifiers",
        sa.Column("id", sa.String(256), nullable=False),
        sa.Column("host", sa.String(256), nullable=False),
        sa.Column("pid", sa.Integer, nullable=False),
        sa.Column("started", sa.Double, nullable=False),
        sa.Column("last_seen", sa.Double, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_history_notifiers"),
    )
    op.create_index("ix_history_notifiers_last_seen", "history_notifiers", ["last_seen"])


def downgrade() -> None:
    for table in ("history_notifiers", "history_endpoint_controls", "history_attempts",
                  "history_deliveries", "history_events"):
        op.drop_table(table)
