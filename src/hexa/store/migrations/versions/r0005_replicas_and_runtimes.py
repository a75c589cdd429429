"""Replicas: each `hexa serve` with its heartbeat, where each notebook runs, and which
replica runs each agent turn.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01

With these the database is all that replicas share (README "Scale out"): any replica finds
a notebook's marimo (origin, token, session) in `runtimes`, claims a notebook whose replica
died, and interrupts at start only the turns of replicas that are gone.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | Sequence[str] | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "replicas",
        sa.Column("id", sa.String(128), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("heartbeat_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_replicas")),
    )
    op.create_table(
        "runtimes",
        sa.Column("notebook_id", sa.String(64), nullable=False),
        sa.Column("replica_id", sa.String(128), nullable=False),
        sa.Column("sandbox", sa.String(32), nullable=False),
        sa.Column("origin", sa.String(255), nullable=True),
        sa.Column("token", sa.String(128), nullable=True),
        sa.Column("session_id", sa.String(128), nullable=True),
        sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_activity_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["notebook_id"],
            ["notebooks.id"],
            name=op.f("fk_runtimes_notebook_id_notebooks"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("notebook_id", name=op.f("pk_runtimes")),
    )
    op.create_index(op.f("ix_runtimes_replica_id"), "runtimes", ["replica_id"])
    with op.batch_alter_table("turns") as batch:
        batch.add_column(sa.Column("replica_id", sa.String(128), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("turns") as batch:
        batch.drop_column("replica_id")
    op.drop_index(op.f("ix_runtimes_replica_id"), table_name="runtimes")
    op.drop_table("runtimes")
    op.drop_table("replicas")
