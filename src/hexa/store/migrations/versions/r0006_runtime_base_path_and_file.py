"""Runtimes: marimo's base path and the file it serves, so that another replica can reach
a notebook whose marimo was a warm spare (at its root, serving the owner's folder).

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01

Rows written before this have neither: such a marimo serves its notebook under /nb/<id>.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | Sequence[str] | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("runtimes") as batch:
        batch.add_column(sa.Column("base_path", sa.String(255), nullable=True))
        batch.add_column(sa.Column("file_key", sa.String(1024), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("runtimes") as batch:
        batch.drop_column("file_key")
        batch.drop_column("base_path")
