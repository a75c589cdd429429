"""The database side of a running turn: undo snapshots, approval claims, audit entries."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hexa.agent import snapshots
from hexa.agent.redaction import Redactor
from hexa.agent.registry import ToolContext
from hexa.agent.toolset import CallRecord, TurnState
from hexa.agent.turn_writes import TurnWrites, Write
from hexa.errors import HexaError
from hexa.marimo.errors import MarimoError
from hexa.store import ApprovalRepository, AuditRepository

logger = logging.getLogger(__name__)

SNAPSHOT_TIMEOUT = 15.0


class DbLedger:
    """`TurnLedger` over the store.

    Latency matters here (a builtin turn is little more than one marimo call), so:
    - the snapshot of the chat's notebook is read when the turn starts, alongside the
      first model request, and used if the turn changes that notebook ("the cells as
      they were before the turn"); the service stores it with the turn's end
      (`snapshot_json`), in the transaction it writes anyway;
    - the turn's rows (its own, then an audit entry per call) are written while it
      waits, in order (`TurnWrites`); `settle` hands the rest to the turn's end, which
      writes them in its own transaction: every row is durable before the reply.
    """

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        redactor: Redactor,
        clock: Callable[[], datetime],
    ) -> None:
        self._sessions = sessions
        self._redactor = redactor
        self._clock = clock
        # turn id -> notebook id -> cells before the turn changed that notebook
        self._snapshots: dict[str, dict[str, list[snapshots.CellState]]] = {}
        self._unsaved: set[str] = set()  # turns with a snapshot not stored yet
        self._prefetched: dict[tuple[str, str], asyncio.Task[list[snapshots.CellState]]] = {}
        self._writes = TurnWrites(sessions)
        # (turn id, notebook id) -> the cells right after the turn's last change there:
        # as its batch reported them, or read while the model takes its next step
        # (`after_json` uses it).
        self._after: dict[tuple[str, str], asyncio.Future[list[snapshots.CellState]]] = {}

    def begin(self, turn_id: str, rows: Write, *, at_calls: bool) -> None:
        """A new turn and its first rows (see `TurnWrites.open`)."""
        self._writes.open(turn_id, rows, at_calls=at_calls)

    def calling(self, state: TurnState) -> None:
        """The run calls a tool (and so waits on marimo): write its pending rows now."""
        self._writes.write_now(state.turn_id)

    async def settle(self, turn_id: str) -> list[Write]:
        """The turn's rows not written yet (or whose write failed), for its end's
        transaction (then `written`)."""
        return await self._writes.settle(turn_id)

    def written(self, turn_id: str, rows: list[Write]) -> None:
        self._writes.written(turn_id, rows)

    def load(self, turn_id: str, cells_before_json: str | None) -> None:
        """Carry a stored snapshot into a resumed turn (so it is not taken again)."""
        self._snapshots[turn_id] = snapshots.decode(cells_before_json)

    @staticmethod
    def read_early(tools: ToolContext, notebook_id: str) -> asyncio.Task[list[snapshots.CellState]]:
        """Start reading a notebook's cells now, in case the coming turn changes them."""

        async def read() -> list[snapshots.CellState]:
            async with asyncio.timeout(SNAPSHOT_TIMEOUT):
                return await snapshots.read_state(await tools.client(notebook_id))

        task = asyncio.create_task(read())
        # Read-only turns never look at it: keep a failure from being reported as unseen.
        task.add_done_callback(lambda t: t.cancelled() or t.exception())
        return task

    def adopt(
        self, state: TurnState, notebook_id: str, early: asyncio.Task[list[snapshots.CellState]]
    ) -> None:
        """Use an early read (`read_early`) as the turn's snapshot, if it needs one."""
        if notebook_id in self._snapshots.get(state.turn_id, {}):
            early.cancel()
            return
        self._prefetched[(state.turn_id, notebook_id)] = early

    def snapshot_json(self, turn_id: str) -> str | None:
        """The turn's snapshots to store with it, if any was taken since last asked."""
        if turn_id not in self._unsaved:
            return None
        self._unsaved.discard(turn_id)
        return snapshots.encode(self._snapshots[turn_id])

    async def after_json(self, state: TurnState) -> str | None:
        """The cells of every notebook the turn changed, as it leaves them (None when it
        changed nothing, or they could not be read)."""
        changed = self._snapshots.get(state.turn_id)
        if not changed:
            return None
        try:
            async with asyncio.timeout(SNAPSHOT_TIMEOUT):
                after = {}
                for nb in changed:
                    early = self._after.pop((state.turn_id, nb), None)
                    after[nb] = await (early or self._read(state, nb))
        except (MarimoError, HexaError, TimeoutError) as exc:
            logger.warning("could not read the cells turn %s left: %s", state.turn_id, exc)
            return None
        return snapshots.encode(after)

    @staticmethod
    async def _read(state: TurnState, notebook_id: str) -> list[snapshots.CellState]:
        return await snapshots.read_state(await state.tools.client(notebook_id))

    def _read_after(self, state: TurnState, notebook_id: str) -> None:
        """The cells as this call left them: if no later call changes them, it is the
        turn's end state. Taken from the call's batch, which reports them; else read now,
        while the model writes its reply."""
        key = (state.turn_id, notebook_id)
        stale = self._after.pop(key, None)
        if stale is not None:
            stale.cancel()
        left = state.tools.left.pop(notebook_id, None)
        if left is not None:
            reported = asyncio.get_running_loop().create_future()
            reported.set_result(left)
            self._after[key] = reported
            return
        task = asyncio.create_task(self._read(state, notebook_id))
        task.add_done_callback(lambda t: t.cancelled() or t.exception())
        self._after[key] = task
        self._writes.write_now(state.turn_id)  # the turn's end may wait for that read

    async def forget(self, turn_id: str) -> None:
        await self._writes.close(turn_id)
        self._snapshots.pop(turn_id, None)
        self._unsaved.discard(turn_id)
        for key in [k for k in self._prefetched if k[0] == turn_id]:
            self._prefetched.pop(key).cancel()
        for key in [k for k in self._after if k[0] == turn_id]:
            self._after.pop(key).cancel()

    async def snapshot(self, state: TurnState, notebook_id: str) -> None:
        taken = self._snapshots.setdefault(state.turn_id, {})
        if notebook_id in taken:
            return
        early = self._prefetched.pop((state.turn_id, notebook_id), None)
        try:
            if early is not None:
                try:
                    taken[notebook_id] = await early
                except (MarimoError, HexaError, TimeoutError):
                    early = None  # read again below
            if early is None:
                async with asyncio.timeout(SNAPSHOT_TIMEOUT):
                    client = await state.tools.client(notebook_id)
                    taken[notebook_id] = await snapshots.read_state(client)
        except (MarimoError, HexaError, TimeoutError) as exc:
            # The change goes ahead (it is what the person asked for); only its undo is lost.
            logger.warning(
                "no undo snapshot of %s for turn %s: %s", notebook_id, state.turn_id, exc
            )
            return
        self._unsaved.add(state.turn_id)

    async def consume(
        self, state: TurnState, approval_id: str, tool_name: str, bound_sha256: str
    ) -> bool:
        async with self._sessions.begin() as session:
            claimed = await ApprovalRepository(session).consume(
                approval_id, tool_name=tool_name, bound_sha256=bound_sha256, now=self._clock()
            )
        return claimed is not None

    async def record(self, state: TurnState, record: CallRecord) -> None:
        scrub = self._redactor
        outcome = record.outcome
        entry: dict[str, Any] = {
            "user_id": state.tools.user.id,
            "user_name": state.tools.user.name,
            "notebook_id": record.notebook_id,
            "turn_id": state.turn_id,
            "prompt": scrub.text(state.prompt),
            "tool_name": record.tool_name,
            "args": scrub.json(record.arguments),
            "code_before": scrub.text(outcome.code_before) if outcome.code_before else None,
            "code_after": scrub.text(outcome.code_after) if outcome.code_after else None,
            "decision": record.decision,
            "outcome": scrub.text(f"{'ok' if outcome.ok else 'failed'}: {outcome.summary}"),
            "duration_ms": round(record.duration_ms, 1),
            "at": self._clock(),
        }
        if outcome.ok and record.notebook_id in self._snapshots.get(state.turn_id, {}):
            self._read_after(state, record.notebook_id)  # a call that changed cells there

        async def write(session: AsyncSession) -> None:
            await AuditRepository(session).append(**entry)

        self._writes.add(state.turn_id, write)
