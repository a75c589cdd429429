"""Undo of the agent's last turn: the cells put back as they were before it, leaving alone
what the person changed since (see `snapshots`), audited, and told to the chat."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hexa.agent import snapshots
from hexa.agent.approvals import Approvals
from hexa.agent.events import TurnUndone
from hexa.agent.redaction import Redactor
from hexa.agent.registry import NotebookAccess
from hexa.agent.views import UndoResult
from hexa.errors import ConflictError, UpstreamError
from hexa.live import EventBus
from hexa.marimo.errors import CodeModeError, MarimoError
from hexa.store import (
    AuditRepository,
    ChatRepository,
    ChatRole,
    Turn,
    TurnRepository,
    TurnStatus,
)
from hexa.users import Principal


class Undo:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        notebooks: NotebookAccess,
        approvals: Approvals,
        bus: EventBus,
        redactor: Redactor,
    ) -> None:
        self._sessions = sessions
        self._notebooks = notebooks
        self._approvals = approvals
        self._bus = bus
        self._redactor = redactor

    async def last_turn(self, user: Principal, notebook_id: str) -> UndoResult:
        """Undo the user's last turn in the notebook that changed cells and is not undone
        (the caller holds the notebook's lock)."""
        turn = await self._last_change(user, notebook_id)
        before = snapshots.decode(turn.cells_before_json)
        after = snapshots.decode(turn.cells_after_json) if turn.cells_after_json else None
        started = asyncio.get_running_loop().time()
        restored: list[str] = []
        spared: list[str] = []
        replaced: list[str] = []  # the code each notebook had just before the undo
        for target_id, cells in before.items():
            left = after.get(target_id) if after is not None else None
            current, kept, changed = await self._restore(user, target_id, cells, left)
            replaced.append(snapshots.joined(current))
            spared.extend(kept)
            if changed:
                restored.append(target_id)
        elapsed_ms = (asyncio.get_running_loop().time() - started) * 1000
        message = _message(turn.prompt, restored, spared)
        async with self._sessions.begin() as session:
            await self._approvals.supersede(session, user, turn.id, "the turn was undone")
            await TurnRepository(session).update(turn.id, status=TurnStatus.UNDONE)
            await AuditRepository(session).append(
                user_id=user.id,
                user_name=user.name,
                notebook_id=notebook_id,
                turn_id=turn.id,
                prompt=self._redactor.text(turn.prompt),
                tool_name="undo_turn",
                args={"turn_id": turn.id},
                code_before=self._redactor.text("\n\n".join(replaced)) or None,
                code_after=self._redactor.text(
                    "\n\n".join(snapshots.joined(c) for c in before.values())
                ),
                decision=None,
                outcome=f"ok: undone by {user.name}",
                duration_ms=round(elapsed_ms, 1),
            )
            await ChatRepository(session).add(
                notebook_id, ChatRole.SYSTEM, message, turn_id=turn.id
            )
        self._bus.publish(notebook_id, TurnUndone(turn_id=turn.id, message=message))
        return UndoResult(turn_id=turn.id, prompt=turn.prompt, message=message, notebooks=restored)

    async def _last_change(self, user: Principal, notebook_id: str) -> Turn:
        async with self._sessions() as session:
            turns = await TurnRepository(session).list_for_notebook(notebook_id, limit=200)
        for turn in turns:
            # A turn that changed nothing is not what a person means to undo.
            if (
                turn.status is not TurnStatus.UNDONE
                and turn.user_id == user.id
                and snapshots.changed(turn.cells_before_json, turn.cells_after_json)
            ):
                return turn
        raise ConflictError("there is no agent change to undo in this notebook")

    async def _restore(
        self,
        user: Principal,
        notebook_id: str,
        before: Sequence[snapshots.CellState],
        left: Sequence[snapshots.CellState] | None,
    ) -> tuple[list[snapshots.CellState], list[str], bool]:
        """Put one notebook's cells back; returns its cells as they were, the cells spared
        (changed by the person since the turn), and whether anything changed."""
        client = (await self._notebooks.running(user, notebook_id)).client
        current = await snapshots.read_state(client)
        cells, kept = snapshots.spare_later_edits(before, left, current)
        ops = snapshots.plan_restore(cells, current)
        if not ops:
            return current, kept, False
        try:
            try:
                await client.apply(ops)
            except CodeModeError as exc:
                if exc.applied:
                    raise
                # The minimal batch failed validation: rebuild the notebook whole.
                await client.replace_cells([(c.code, c.name) for c in cells])
        except CodeModeError as exc:
            if not exc.applied:
                raise ConflictError(f"the cells could not be restored: {exc.message}") from exc
        except MarimoError as exc:
            raise UpstreamError(f"marimo refused the undo: {exc.message}") from exc
        return current, kept, True


def _message(prompt: str, restored: Sequence[str], spared: Sequence[str]) -> str:
    message = f"Undid the agent's turn {prompt!r}: " + (
        f"restored {', '.join(restored)}." if restored else "nothing had changed."
    )
    if spared:
        message += (
            " Left as you changed them after that turn: cell(s) "
            + ", ".join(f"`{c}`" for c in spared)
            + "."
        )
    return message
