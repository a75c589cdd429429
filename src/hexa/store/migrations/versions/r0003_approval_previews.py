"""An approval keeps the preview the person was shown (the code before and after, by cell).

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01

Before this the preview lived only in the chat row that asked, and was found again by
scanning the chat; stored on the approval it travels with the approval wherever it goes.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("approvals") as batch:
        batch.add_column(sa.Column("preview_json", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("approvals") as batch:
        batch.drop_column("preview_json")
