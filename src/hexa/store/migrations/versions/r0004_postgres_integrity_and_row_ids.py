"""PostgreSQL behaves as SQLite does: the audit trigger's refusal is an integrity error, and
the row ids of the chat and the audit log are 64-bit.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01

Nothing changes on SQLite, where both were already so: `RAISE(ABORT, ...)` in a trigger is
SQLITE_CONSTRAINT (sqlalchemy's `IntegrityError`), and an INTEGER PRIMARY KEY is the 64-bit
rowid. On PostgreSQL, 0001's trigger raised a plain `raise_exception` (P0001, a generic
`DBAPIError`), and its SERIAL ids were 32-bit, so an id the API accepts (`after_id`,
`before_id` up to 2**63 - 1) failed as "out of int32 range" instead of matching nothing.
The ids' sequences are widened along with their columns.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Tables whose SERIAL id becomes BIGSERIAL: the two that grow with use and whose ids the API
# takes from clients.
_TABLES = ("chat_messages", "audit_log")


def _append_only_function(errcode: str | None) -> str:
    using = f" USING ERRCODE = '{errcode}'" if errcode else ""
    return (
        "CREATE OR REPLACE FUNCTION audit_log_append_only() RETURNS trigger "
        "LANGUAGE plpgsql AS "
        f"$$ BEGIN RAISE EXCEPTION 'audit_log is append-only'{using}; END $$"
    )


def _id_type(table: str, type_: sa.types.TypeEngine[int], sql_type: str) -> None:
    op.alter_column(table, "id", type_=type_, existing_nullable=False)
    op.execute(
        f"DO $$ BEGIN EXECUTE format('ALTER SEQUENCE %s AS {sql_type}', "
        f"pg_get_serial_sequence('{table}', 'id')); END $$"
    )


def upgrade() -> None:
    if op.get_context().dialect.name != "postgresql":
        return
    # SQLSTATE class 23: asyncpg raises IntegrityConstraintViolationError, which sqlalchemy
    # turns into IntegrityError, as it does with SQLite's RAISE(ABORT).
    op.execute(_append_only_function("integrity_constraint_violation"))
    for table in _TABLES:
        _id_type(table, sa.BigInteger(), "bigint")


def downgrade() -> None:
    if op.get_context().dialect.name != "postgresql":
        return
    for table in _TABLES:
        _id_type(table, sa.Integer(), "integer")
    op.execute(_append_only_function(None))
