"""The database side of a running turn: undo snapshots, approval claims, audit entries."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hexa.agent import snapshots
from hexa.agent.redaction import Redactor
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
    - the snapshot of a notebook ("the cells as they were before the turn") is what the
      turn's first batch there found before it applied anything, reported by the batch
      itself (`ToolContext.before_hook`): exactly the document the change applied to, a
      person's edit made while the model thought included. A read through marimo's tools,
      as the call ends, stands in when the batch reported nothing by then (it waits
      behind another run). A turn that only reads costs marimo nothing. The service
      stores the snapshot with the turn's end (`snapshot_json`);
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
        self._writes = TurnWrites(sessions)
        # (turn id, notebook id) -> the read standing in for a batch that had not reported
        self._stand_ins: dict[tuple[str, str], asyncio.Task[None]] = {}
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
        for key in [k for k in self._stand_ins if k[0] == turn_id]:
            self._stand_ins.pop(key).cancel()
        for key in [k for k in self._after if k[0] == turn_id]:
            self._after.pop(key).cancel()

    @contextlib.asynccontextmanager
    async def snapshot(self, state: TurnState, notebook_id: str) -> AsyncIterator[None]:
        """Around a call that changes cells: the turn's snapshot of the notebook, if it
        has none yet, kept however the call ends (an unexpected exception included).

        The call's first batch reports the cells it found before it applied anything.
        When none did, the cells are read as the call ends: it sent no batch (nothing
        changed), or its batch has not started yet (it waits behind another run, past
        the tool's wait), so the notebook is still as the batch will find it. Should
        the batch report after all (it started just as the call stopped waiting), its
        report replaces the read (`take_late_reports`). A call cancelled with nothing
        reported (its batch may still apply) starts the read and does not wait for it;
        the turn's end does."""
        key = (state.turn_id, notebook_id)
        taken = self._snapshots.setdefault(state.turn_id, {})
        if notebook_id in taken:
            yield
            return
        if notebook_id not in state.tools.before:  # else a report is already waiting
            state.tools.want_before.add(notebook_id)
        cancelled = False
        try:
            yield
        except asyncio.CancelledError:
            cancelled = True
            raise
        finally:
            found = state.tools.before.pop(notebook_id, None)
            if found is not None:
                state.tools.want_before.discard(notebook_id)
                # Another call on the notebook (run beside this one) may have set it: only
                # a read that stood in gives way to a report.
                if notebook_id not in taken or key in self._stand_ins:
                    stood_in = self._stand_ins.pop(key, None)
                    if stood_in is not None:
                        stood_in.cancel()
                    taken[notebook_id] = found
                    self._unsaved.add(state.turn_id)
            elif notebook_id not in taken:
                read = asyncio.create_task(self._snapshot_read(state, notebook_id))
                read.add_done_callback(lambda t: t.cancelled() or t.exception())
                self._stand_ins[key] = read
                if not cancelled:
                    # Shielded: a call cancelled while it waits leaves the read to the end.
                    await asyncio.shield(read)

    async def take_late_reports(self, state: TurnState) -> None:
        """Before the turn's end is stored: the reads that stood in are done, and a batch
        that reported the cells it found only after its call stopped waiting replaces
        the read that stood in for it."""
        for key in [k for k in self._stand_ins if k[0] == state.turn_id]:
            await asyncio.wait([self._stand_ins.pop(key)])  # bounded by SNAPSHOT_TIMEOUT
            found = state.tools.before.pop(key[1], None)
            if found is not None:
                self._snapshots.setdefault(key[0], {})[key[1]] = found
                self._unsaved.add(key[0])

    async def _snapshot_read(self, state: TurnState, notebook_id: str) -> None:
        try:
            async with asyncio.timeout(SNAPSHOT_TIMEOUT):
                cells = await self._read(state, notebook_id)
        except (MarimoError, HexaError, TimeoutError) as exc:
            # The change went ahead (it is what the person asked for); only its undo is lost.
            logger.warning(
                "no undo snapshot of %s for turn %s: %r", notebook_id, state.turn_id, exc
            )
            return
        self._snapshots.setdefault(state.turn_id, {}).setdefault(notebook_id, cells)
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
