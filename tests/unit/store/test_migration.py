from __future__ import annotations

import asyncio
import shutil
import sqlite3
import sys
from collections.abc import Callable
from contextlib import closing
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection

from hexa.store import (
    Base,
    NotebookRepository,
    UserRepository,
    alembic_config,
    create_engine,
    create_sessionmaker,
    current_revision,
    head_revision,
    upgrade_database,
)
from hexa.store import migration as migration_module

TABLES = {"users", "notebooks", "turns", "chat_messages", "approvals", "audit_log"}


def _sqlite(path: Path, sql: str) -> list[tuple[object, ...]]:
    with closing(sqlite3.connect(path)) as conn:
        return conn.execute(sql).fetchall()


def _backups(db_path: Path) -> list[Path]:
    return sorted(db_path.parent.glob(f"{db_path.name}.*.bak"))


async def _query(url: str, sql: str) -> list[tuple[object, ...]]:
    engine = create_engine(url)
    try:
        async with engine.connect() as connection:
            return [tuple(row) for row in await connection.execute(text(sql))]
    finally:
        await engine.dispose()


async def _tables(url: str) -> set[str]:
    engine = create_engine(url)
    try:
        async with engine.connect() as connection:
            return set(await connection.run_sync(lambda c: inspect(c).get_table_names()))
    finally:
        await engine.dispose()


TRIGGERS = {
    "sqlite": (
        "SELECT name FROM sqlite_master WHERE type = 'trigger'",
        {"audit_log_no_update", "audit_log_no_delete"},
    ),
    "postgres": (
        "SELECT tgname FROM pg_trigger WHERE NOT tgisinternal",
        {"audit_log_append_only"},
    ),
}


async def test_upgrade_creates_every_table_from_nothing(
    backend: str, db_url: str, db_path: Path
) -> None:
    assert await current_revision(db_url) is None

    await upgrade_database(db_url)

    assert await current_revision(db_url) == head_revision()
    assert await _tables(db_url) >= TABLES | {"alembic_version"}
    sql, triggers = TRIGGERS[backend]
    assert {row[0] for row in await _query(db_url, sql)} == triggers
    # A fresh database has nothing worth keeping, so no backup.
    assert _backups(db_path) == []


async def test_migrated_schema_matches_the_models(db_url: str) -> None:
    await upgrade_database(db_url)

    def diff(connection: Connection) -> list[object]:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return list(compare_metadata(context, Base.metadata))

    engine = create_engine(db_url)
    try:
        async with engine.connect() as connection:
            assert await connection.run_sync(diff) == []
    finally:
        await engine.dispose()


async def test_upgrade_is_idempotent(db_url: str, db_path: Path) -> None:
    await upgrade_database(db_url)
    engine = create_engine(db_url)
    async with create_sessionmaker(engine).begin() as session:
        await UserRepository(session).create("alice")
    await engine.dispose()

    await upgrade_database(db_url)
    await upgrade_database(db_url)

    assert await current_revision(db_url) == head_revision()
    assert await _query(db_url, "SELECT name FROM users") == [("alice",)]
    assert _backups(db_path) == []


async def test_downgrade_to_base_and_up_again(db_url: str) -> None:
    await upgrade_database(db_url)
    # Without a connection handed over, env.py makes its own engine (the alembic CLI path).
    await asyncio.to_thread(command.downgrade, alembic_config(db_url), "base")

    assert await current_revision(db_url) is None
    assert await _tables(db_url) & TABLES == set()

    await upgrade_database(db_url)
    assert await current_revision(db_url) == head_revision()


SECOND_REVISION = """
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0999"
down_revision = "{head}"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # recreate="always" copies users and drops the old table: with foreign keys on, that
    # DROP would cascade-delete every notebook.
    with op.batch_alter_table("users", recreate="always") as batch:
        batch.add_column(sa.Column("email", sa.String(255), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.drop_column("email")
"""


@pytest.fixture
def ship_next_revision(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[[], None]:
    """Returns a function that makes the code look like a newer Hexa (a revision past head)."""

    def ship() -> None:
        scripts = tmp_path / "migrations"
        shutil.copytree(
            migration_module.MIGRATIONS_DIR,
            scripts,
            ignore=shutil.ignore_patterns("__pycache__"),
        )
        script = SECOND_REVISION.replace("{head}", head_revision())
        (scripts / "versions" / "r0999_users_email.py").write_text(script)
        monkeypatch.setattr(migration_module, "MIGRATIONS_DIR", scripts)

    return ship


async def _seed_user_and_notebook(db_url: str) -> None:
    engine = create_engine(db_url)
    async with create_sessionmaker(engine).begin() as session:
        user = (await UserRepository(session).create("alice")).user
        await NotebookRepository(session).create(user.id, "nb-1", "a.py", "A")
    await engine.dispose()


@pytest.mark.sqlite_only  # backups are of SQLite files; the rebuild is SQLite's batch mode
async def test_upgrading_an_old_database_backs_it_up_and_keeps_its_rows(
    db_url: str, db_path: Path, ship_next_revision: Callable[[], None]
) -> None:
    await upgrade_database(db_url)
    await _seed_user_and_notebook(db_url)
    shipped = head_revision()

    ship_next_revision()
    assert head_revision() == "0999"

    await upgrade_database(db_url)

    assert await current_revision(db_url) == "0999"
    columns = {c[1] for c in _sqlite(db_path, "PRAGMA table_info(users)")}
    assert "email" in columns
    # Foreign keys were off while users was rebuilt, so its notebooks were not cascaded away.
    assert _sqlite(db_path, "SELECT id, path FROM notebooks") == [("nb-1", "a.py")]
    assert _sqlite(db_path, "PRAGMA foreign_key_check") == []

    [backup] = _backups(db_path)
    assert _sqlite(backup, "SELECT version_num FROM alembic_version") == [(shipped,)]
    assert _sqlite(backup, "SELECT name FROM users") == [("alice",)]
    assert _sqlite(backup, "SELECT id FROM notebooks") == [("nb-1",)]

    # The application's own connections still enforce foreign keys afterwards.
    engine = create_engine(db_url)
    try:
        async with engine.connect() as connection:
            assert (await connection.exec_driver_sql("PRAGMA foreign_keys")).scalar() == 1
    finally:
        await engine.dispose()


async def test_a_failing_migration_leaves_the_database_as_it_was(
    backend: str, db_url: str, db_path: Path
) -> None:
    # A stray audit_log table makes the initial revision fail on its last CREATE TABLE,
    # after it has created the other five.
    engine = create_engine(db_url)
    try:
        async with engine.begin() as connection:
            await connection.execute(
                text("CREATE TABLE audit_log (id INTEGER PRIMARY KEY, note TEXT)")
            )
            await connection.execute(text("INSERT INTO audit_log (id, note) VALUES (1, 'keep me')"))
    finally:
        await engine.dispose()

    with pytest.raises(Exception, match="audit_log"):
        await upgrade_database(db_url)

    # The DDL ran in one transaction, so nothing of the half-done upgrade is left.
    assert await _tables(db_url) & TABLES == {"audit_log"}
    assert await current_revision(db_url) is None
    assert await _query(db_url, "SELECT note FROM audit_log") == [("keep me",)]
    if backend == "sqlite":
        [backup] = _backups(db_path)
        assert _sqlite(backup, "SELECT note FROM audit_log") == [("keep me",)]


@pytest.mark.postgres_only
async def test_processes_starting_at_once_migrate_once(db_url: str) -> None:
    """`hexa serve` and a `hexa user add` (or replicas) starting together on one server:
    each process is released into `upgrade_database` once all have imported Hexa."""
    code = (
        "import asyncio, sys; from hexa.store import upgrade_database; "
        "print('ready', flush=True); sys.stdin.readline(); "
        "asyncio.run(upgrade_database(sys.argv[1]))"
    )
    pipe = asyncio.subprocess.PIPE
    starts = [
        await asyncio.create_subprocess_exec(
            sys.executable, "-c", code, db_url, stdin=pipe, stdout=pipe, stderr=pipe
        )
        for _ in range(3)
    ]
    for start in starts:
        assert start.stdout is not None
        assert await start.stdout.readline() == b"ready\n"
    for start in starts:
        assert start.stdin is not None
        start.stdin.write(b"go\n")
    results = [await start.communicate() for start in starts]
    assert [start.returncode for start in starts] == [0] * 3, [err for _, err in results]
    assert await current_revision(db_url) == head_revision()


async def test_tables_and_indexes_have_stable_names(db_url: str) -> None:
    await upgrade_database(db_url)

    def names(connection: Connection) -> dict[str, set[str]]:
        inspector = inspect(connection)
        return {
            table: {str(ix["name"]) for ix in inspector.get_indexes(table)}
            | {str(ck["name"]) for ck in inspector.get_check_constraints(table)}
            for table in TABLES
        }

    engine = create_engine(db_url)
    try:
        async with engine.connect() as connection:
            found = await connection.run_sync(names)
    finally:
        await engine.dispose()
    assert "ck_notebooks_notebook_status" in found["notebooks"]
    assert "ix_approvals_status_expires_at" in found["approvals"]
    assert "ix_audit_log_notebook_id" in found["audit_log"]
