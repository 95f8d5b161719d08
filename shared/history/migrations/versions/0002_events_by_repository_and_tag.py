"""Events of one repository's tag, newest first, read through one index (the console's
"deliveries caused by this tag"): with only (repository, time) and (tag, time), a database picks
the tag's index and, for a tag as common as ``latest``, reads most events to find ten.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-07
"""

from __future__ import annotations

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_history_events_repository_tag_time", "history_events",
                    ["repository", "tag", "time"])


def downgrade() -> None:
    op.drop_index("ix_history_events_repository_tag_time", table_name="history_events")
