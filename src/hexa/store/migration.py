"""Bringing a database to the current schema at start-up (JupyterHub's `upgrade_if_needed`)."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from contextlib import closing
from datetime import UTC, datetime
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection, make_url

from hexa.store.database import create_engine, is_sqlite

logger = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
# PostgreSQL advisory lock held while a database is upgraded ("hexa" and 1, as a bigint).
MIGRATION_LOCK_KEY = 0x6865_7861_0000_0001


def alembic_config(url: str) -> Config:
    """An alembic `Config` for `url`, built in code (no alembic.ini ships with Hexa).

    Also the way to write a new revision by hand:
    `command.revision(alembic_config(url), message="...", autogenerate=True)`.
    """
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    # The values go through configparser interpolation, so a literal % must be doubled.
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    # Revision files are importable module names (mypy checks them with the package).
    cfg.set_main_option("file_template", "r%%(rev)s_%%(slug)s")
    return cfg


def head_revision() -> str:
    """The revision the code expects the database to be at."""
    head = ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()
    if head is None:
        raise RuntimeError(f"no migrations found in {MIGRATIONS_DIR}")
    return head


async def current_revision(url: str) -> str | None:
    """The revision the database at `url` is at; None for an empty (never migrated) one."""
    engine = create_engine(url)
    try:
        async with engine.connect() as connection:
            return await connection.run_sync(_current_revision)
    finally:
        await engine.dispose()


def _current_revision(connection: Connection) -> str | None:
    return MigrationContext.configure(connection).get_current_revision()


async def upgrade_database(url: str, *, backup: bool = True) -> None:
    """Apply every pending migration to the database at `url`; a no-op when at head.

    An existing SQLite file that is behind head is first copied next to itself as
    `<file>.<UTC timestamp>.bak`, so a bad migration never costs the user their history.
    """
    head = head_revision()
    # A dedicated engine: migrations switch SQLite foreign keys off on their connection,
    # which must never be handed to the application afterwards.
    engine = create_engine(url)
    try:
        async with engine.connect() as connection:
            if connection.dialect.name == "postgresql":
                # Several processes may start on one server at once (`hexa serve` and a
                # `hexa user add`, or replicas): one migrates, the others wait for it here,
                # until its commit, and then find the database at head.
                await connection.execute(
                    text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK_KEY}
                )
            current, has_tables = await connection.run_sync(_inspect)
            if current == head:
                return
            if backup and has_tables and is_sqlite(url):
                await asyncio.to_thread(backup_sqlite, url)
            logger.info("upgrading database from %s to %s", current or "empty", head)
            cfg = alembic_config(url)
            await connection.run_sync(_upgrade, cfg)
            await connection.commit()
    finally:
        await engine.dispose()


def _inspect(connection: Connection) -> tuple[str | None, bool]:
    # Tables, not the file's existence, tell whether there is anything to back up:
    # merely connecting creates the file.
    return _current_revision(connection), bool(inspect(connection).get_table_names())


def _upgrade(connection: Connection, cfg: Config) -> None:
    cfg.attributes["connection"] = connection
    command.upgrade(cfg, "head")


def backup_sqlite(url: str) -> Path | None:
    """Copy the SQLite database at `url` to a timestamped file; None if there is nothing.

    Uses SQLite's online backup rather than a file copy, so pages still in the WAL file
    are included and the copy is consistent.
    """
    database = make_url(url).database
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    source = Path(database)
    if not source.is_file() or source.stat().st_size == 0:
        return None
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    target = source.with_name(f"{source.name}.{stamp}.bak")
    # closing(): sqlite3's own context manager commits but never closes.
    with closing(sqlite3.connect(source)) as src, closing(sqlite3.connect(target)) as dst:
        src.backup(dst)
    logger.warning("backed up %s to %s before upgrading it", source, target)
    return target
