"""Alembic environment: runs on the connection `upgrade_database` passes in, or on its own.

`hexa.store.migration.upgrade_database` hands over a live connection through
`config.attributes["connection"]`. Without one (alembic driven by hand, e.g. to
autogenerate a revision with `hexa.store.migration.alembic_config`), an engine is made
from `sqlalchemy.url`.
"""

from __future__ import annotations

import asyncio

from alembic import context
from sqlalchemy.engine import Connection

from hexa.store.database import create_engine
from hexa.store.models import Base

config = context.config
target_metadata = Base.metadata


def run_migrations_offline() -> None:
    context.configure(
        url=config.get_main_option("sqlalchemy.url"),
        target_metadata=target_metadata,
        literal_binds=True,
        render_as_batch=True,
        dialect_opts={"paramstyle": "named"},
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations(connection: Connection) -> None:
    """Apply the migrations on `connection`; the caller commits and then drops the connection.

    On SQLite, foreign keys are switched off first: batch migrations copy a table and drop
    the old one, and with foreign keys on, that DROP would cascade-delete the rows that
    point at it. The pragma only takes effect outside a transaction, which is why the
    connection must be fresh and must not go back to a pool afterwards. Then an explicit
    BEGIN makes the DDL transactional (pysqlite alone would autocommit each CREATE/ALTER),
    so a failed migration leaves the old schema intact.
    """
    sqlite = connection.dialect.name == "sqlite"
    if sqlite:
        connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
        connection.exec_driver_sql("BEGIN")
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=True,
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()
    if sqlite:
        broken = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
        if broken:
            raise RuntimeError(f"migration left rows with dangling foreign keys: {broken[:10]}")


async def _run_migrations_with_own_engine(url: str) -> None:
    engine = create_engine(url)
    try:
        async with engine.connect() as connection:
            await connection.run_sync(run_migrations)
            await connection.commit()
    finally:
        await engine.dispose()


def main() -> None:
    if context.is_offline_mode():
        run_migrations_offline()
        return
    connection = config.attributes.get("connection")
    if connection is not None:
        run_migrations(connection)
        return
    url = config.get_main_option("sqlalchemy.url")
    if not url:
        raise RuntimeError("alembic config has neither a connection nor sqlalchemy.url")
    asyncio.run(_run_migrations_with_own_engine(url))


main()
