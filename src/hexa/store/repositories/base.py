"""What every repository shares: one AsyncSession, and the way rows are added and changed.

Repositories flush but never commit: the caller owns the transaction, so a state change and
its audit entry land together (`async with sessionmaker.begin() as session: ...`). They
never use SAVEPOINTs either (unreliable on pysqlite, see `database.create_engine`): a
duplicate is reported as `ConflictError` after a look-up, and the rare race past that look-up
surfaces as sqlalchemy's `IntegrityError`, after which the transaction must be rolled back.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, TypeVar, cast

from sqlalchemy import CursorResult, Select, Update
from sqlalchemy.ext.asyncio import AsyncSession

RowT = TypeVar("RowT")
KeyT = TypeVar("KeyT", str, tuple[str, ...])


class Repository:
    """A repository over one AsyncSession, which the caller opened and will commit."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def _add(self, row: RowT) -> RowT:
        """Insert `row` now (flush, no commit), so that its id and defaults are filled in."""
        self._session.add(row)
        await self._session.flush()
        return row

    async def _all(self, stmt: Select[RowT]) -> list[RowT]:
        return list(await self._session.scalars(stmt))

    async def _changed(self, stmt: Update) -> int:
        """Run an UPDATE; how many rows it changed."""
        result = await self._session.execute(stmt)
        # An UPDATE's result is a CursorResult; the session API only types it as Result.
        return cast("CursorResult[Any]", result).rowcount


def by_codepoint(rows: Iterable[RowT], key: Callable[[RowT], KeyT]) -> list[RowT]:
    """`rows` sorted by `key`, text compared by codepoint: as SQLite's ORDER BY does, and not
    as PostgreSQL's does under a server's linguistic collation (en_US: `apple` < `Zebra`).
    For the short, unpaged lists of names (a user's notebooks, the users); a paged order
    stays in SQL on ids or timestamps."""
    return sorted(rows, key=key)
