"""SQLite under the async engine with one thread hand-off per statement.

aiosqlite runs each sqlite3 call in the connection's own thread and wakes the event loop
with its answer. SQLAlchemy's adapter makes four such calls for one statement (open a
cursor, execute, fetch, close) and one more for the rollback with which the pool resets
a connection that has no transaction. Each wake-up costs the loop far more than the
statement costs SQLite: they were about a third of `hexa serve`'s CPU for a request that
reads the token and writes one audit entry.

Here a statement is one call: it executes, fetches and closes in the connection's thread
and comes back with its rows, description, row count and last row id. A commit or
rollback with no transaction open (pysqlite begins one at the first write) stays on the
loop. Everything else (connecting, closing, errors, server-side cursors: a streamed
statement counts as having begun a transaction) is SQLAlchemy's aiosqlite adapter as it is.
Code that uses the aiosqlite connection directly must end its own transactions.
"""

from __future__ import annotations

import collections
import sqlite3
from collections.abc import Awaitable, Callable
from typing import Any, NamedTuple, cast

import aiosqlite
from sqlalchemy.dialects.sqlite.aiosqlite import (
    AsyncAdapt_aiosqlite_connection,
    AsyncAdapt_aiosqlite_cursor,
    AsyncAdapt_aiosqlite_dbapi,
)
from sqlalchemy.util import await_, immutabledict


class _Done(NamedTuple):
    """What one statement left behind, carried back from the connection's thread."""

    description: Any
    rowcount: int
    lastrowid: int | None
    rows: list[Any]
    in_transaction: bool


def _execute(conn: sqlite3.Connection, operation: str, parameters: Any, many: bool) -> _Done:
    cursor = conn.cursor()
    try:
        if many:
            cursor.executemany(operation, parameters)
        elif parameters is None:
            cursor.execute(operation)
        else:
            cursor.execute(operation, parameters)
        rows = cursor.fetchall() if cursor.description else []
        return _Done(
            cursor.description, cursor.rowcount, cursor.lastrowid, rows, conn.in_transaction
        )
    finally:
        cursor.close()


def _finish(conn: sqlite3.Connection, commit: bool) -> None:
    if commit:
        conn.commit()
    else:
        conn.rollback()


class OneCallCursor(AsyncAdapt_aiosqlite_cursor):
    """A cursor that holds no sqlite3 cursor: each execute is one call in the thread."""

    __slots__ = ("_arraysize", "_done")

    def __init__(self, adapt_connection: OneCallConnection) -> None:
        self._adapt_connection = adapt_connection
        self._connection = adapt_connection._connection
        self._cursor = None  # type: ignore[assignment]
        self._soft_closed_memoized = immutabledict()
        self._rows = collections.deque()
        self._done: _Done | None = None
        self._arraysize = 1  # sqlite3's default: fetchmany() without a size takes one row

    @property
    def arraysize(self) -> int:
        return self._arraysize

    @arraysize.setter
    def arraysize(self, value: int) -> None:
        self._arraysize = value

    @property
    def description(self) -> Any:
        return self._done.description if self._done is not None else None

    @property
    def rowcount(self) -> int:
        return self._done.rowcount if self._done is not None else -1

    @property
    def lastrowid(self) -> int:
        return self._done.lastrowid if self._done is not None else None  # type: ignore[return-value]

    async def _async_soft_close(self) -> None:
        """Nothing stays open: the rows were fetched with the statement."""

    def close(self) -> None:
        self._rows.clear()

    def execute(self, operation: Any, parameters: Any = None) -> Any:
        return self._call(operation, parameters, many=False)

    def executemany(self, operation: Any, seq_of_parameters: Any) -> Any:
        return self._call(operation, seq_of_parameters, many=True)

    def _call(self, operation: Any, parameters: Any, *, many: bool) -> None:
        adapt = self._adapt_connection
        assert isinstance(adapt, OneCallConnection)
        try:
            done = await_(adapt.run(operation, parameters, many))
        except Exception as error:
            adapt._handle_exception(error)
        self._done = done
        self._rows = collections.deque(done.rows)


class OneCallConnection(AsyncAdapt_aiosqlite_connection):
    __slots__ = ("_open",)

    _cursor_cls = OneCallCursor  # type: ignore[assignment]

    def __init__(self, dbapi: Any, connection: Any) -> None:
        super().__init__(dbapi, connection)
        self._open = False  # a transaction is open (as of the last statement)

    def cursor(self, server_side: bool = False) -> Any:
        if server_side:
            # A streamed statement goes through aiosqlite's own cursor, which does not report
            # whether it began a transaction: assume it did, so the end is not skipped.
            self._open = True
        return super().cursor(server_side)

    def _in_thread(self, fn: Callable[..., Any], *args: Any) -> Awaitable[Any]:
        """`fn(sqlite3_connection, *args)` in the connection's thread: aiosqlite's own
        queue, which SQLAlchemy's adapter uses the same way (`isolation_level`)."""
        connection = cast(aiosqlite.Connection, self._connection)
        queue = cast(Callable[..., Awaitable[Any]], connection._execute)
        return queue(fn, connection._conn, *args)

    async def run(self, operation: str, parameters: Any, many: bool) -> _Done:
        """One statement, executed, fetched and closed in the connection's thread."""
        async with self._execute_mutex:
            try:
                done: _Done = await self._in_thread(_execute, operation, parameters, many)
            except BaseException:
                self._open = True  # a failed statement may have begun one: roll back
                raise
        self._open = done.in_transaction
        return done

    def commit(self) -> None:
        self._end(commit=True)

    def rollback(self) -> None:
        self._end(commit=False)

    def _end(self, *, commit: bool) -> None:
        if not self._open or not cast(aiosqlite.Connection, self._connection)._connection:
            return
        try:
            await_(self._in_thread(_finish, commit))
        except Exception as error:
            self._handle_exception(error)
        self._open = False


class OneCallDbapi(AsyncAdapt_aiosqlite_dbapi):
    def connect(self, *arg: Any, **kw: Any) -> OneCallConnection:
        adapted = super().connect(*arg, **kw)
        return OneCallConnection(self, adapted._connection)


def dbapi() -> OneCallDbapi:
    """The module to hand `create_async_engine(module=...)` for a `sqlite+aiosqlite` URL."""
    return OneCallDbapi(aiosqlite, sqlite3)
