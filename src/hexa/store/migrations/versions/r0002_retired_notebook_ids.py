"""Retired notebook ids, the cells as each agent turn left them, browser sessions.

A deleted notebook's id is never handed out again. A turn keeps the cells it left, so an
undo can tell the person's later edits from the agent's and leave them alone. A browser
signs in to a server-side session (a cookie with a random secret, stored hashed), which
survives a restart of Hexa and can be revoked on its own.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-01

Chats, turns and approvals go with the notebook (foreign keys), but the audit log keeps
its rows and in-memory caches are keyed by id; a reused id would show the next owner the
first one's history.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "retired_notebook_ids",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("retired_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_retired_notebook_ids")),
    )
    with op.batch_alter_table("turns") as batch:
        batch.add_column(sa.Column("cells_after_json", sa.Text(), nullable=True))
    op.create_table(
        "browser_sessions",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_browser_sessions_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_browser_sessions")),
    )
    op.create_index(
        op.f("ix_browser_sessions_user_id"), "browser_sessions", ["user_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_browser_sessions_user_id"), table_name="browser_sessions")
    op.drop_table("browser_sessions")
    with op.batch_alter_table("turns") as batch:
        batch.drop_column("cells_after_json")
    op.drop_table("retired_notebook_ids")
