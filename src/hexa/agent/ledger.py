"""The database side of a running turn: undo snapshots, approval claims, audit entries."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hexa.agent import undo
from hexa.agent.redaction import Redactor
from hexa.agent.toolset import CallRecord, TurnState
from hexa.marimo.errors import MarimoError
from hexa.notebooks.errors import HexaError
from hexa.store import ApprovalRepository, AuditRepository, TurnRepository

logger = logging.getLogger(__name__)


class DbLedger:
    """`TurnLedger` over the store. Each write is its own short transaction, so the audit
    entry of a call is durable as soon as the call is done."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        redactor: Redactor,
        clock: Callable[[], datetime],
    ) -> None:
        self._sessions = sessions
        self._redactor = redactor
        self._clock = clock
        # turn id -> notebook id -> cells before the turn changed that notebook; written
        # to the turn with the first audit entry after it was taken.
        self._snapshots: dict[str, dict[str, list[undo.CellState]]] = {}
        self._unsaved: set[str] = set()

    def load(self, turn_id: str, cells_before_json: str | None) -> None:
        """Carry a stored snapshot into a resumed turn (so it is not taken again)."""
        self._snapshots[turn_id] = undo.decode(cells_before_json)

    def forget(self, turn_id: str) -> None:
        self._snapshots.pop(turn_id, None)
        self._unsaved.discard(turn_id)

    async def snapshot(self, state: TurnState, notebook_id: str) -> None:
        taken = self._snapshots.setdefault(state.turn_id, {})
        if notebook_id in taken:
            return
        try:
            client = await state.tools.client(notebook_id)
            taken[notebook_id] = await undo.read_state(client)
        except (MarimoError, HexaError, TimeoutError) as exc:
            # The change goes ahead (it is what the person asked for); only its undo is lost.
            logger.warning(
                "no undo snapshot of %s for turn %s: %s", notebook_id, state.turn_id, exc
            )
            return
        self._unsaved.add(state.turn_id)

    async def consume(
        self, state: TurnState, approval_id: str, tool_name: str, arguments: dict[str, Any]
    ) -> bool:
        async with self._sessions.begin() as session:
            claimed = await ApprovalRepository(session).consume(
                approval_id, tool_name=tool_name, args=arguments, now=self._clock()
            )
        return claimed is not None

    async def record(self, state: TurnState, record: CallRecord) -> None:
        scrub = self._redactor
        outcome = record.outcome
        async with self._sessions.begin() as session:
            await AuditRepository(session).append(
                user_id=state.tools.user.id,
                user_name=state.tools.user.name,
                notebook_id=record.notebook_id,
                turn_id=state.turn_id,
                prompt=scrub.text(state.prompt),
                tool_name=record.tool_name,
                args=scrub.json(record.arguments),
                code_before=scrub.text(outcome.code_before) if outcome.code_before else None,
                code_after=scrub.text(outcome.code_after) if outcome.code_after else None,
                decision=record.decision,
                outcome=scrub.text(f"{'ok' if outcome.ok else 'failed'}: {outcome.summary}"),
                duration_ms=round(record.duration_ms, 1),
            )
            if state.turn_id in self._unsaved:
                await TurnRepository(session).update(
                    state.turn_id, cells_before_json=undo.encode(self._snapshots[state.turn_id])
                )
                self._unsaved.discard(state.turn_id)
