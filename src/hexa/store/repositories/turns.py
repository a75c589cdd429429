"""Turns: one prompt to the agent each, with what it did and the cells before and after."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import func, or_, select, update

from hexa.store.models import Turn, TurnStatus, new_uuid, utcnow
from hexa.store.repositories.base import Repository


class TurnRepository(Repository):
    async def create(
        self,
        notebook_id: str,
        user_id: int,
        prompt: str,
        *,
        cells_before_json: str | None = None,
        replica_id: str | None = None,
        now: datetime | None = None,
        turn_id: str | None = None,
    ) -> Turn:
        return await self._add(
            Turn(
                id=turn_id or new_uuid(),
                notebook_id=notebook_id,
                user_id=user_id,
                prompt=prompt,
                status=TurnStatus.RUNNING,
                cells_before_json=cells_before_json,
                replica_id=replica_id,
                created_at=now or utcnow(),
            )
        )

    async def get(self, turn_id: str) -> Turn | None:
        return await self._session.get(Turn, turn_id)

    async def interrupt_running(
        self, reason: str, *, spare: Iterable[str] = (), now: datetime | None = None
    ) -> list[Turn]:
        """Turns left `running` by a Hexa that stopped mid-turn: failed, with `reason`,
        except those of the live replicas in `spare`, which are still running them.
        (A turn waiting for an approval is not running: it can still be answered.)"""
        stmt = select(Turn).where(Turn.status == TurnStatus.RUNNING)
        alive = list(spare)
        if alive:
            stmt = stmt.where(or_(Turn.replica_id.is_(None), Turn.replica_id.not_in(alive)))
        turns = await self._all(stmt)
        for turn in turns:
            turn.status = TurnStatus.FAILED
            turn.reply = reason
            turn.finished_at = now or utcnow()
        await self._session.flush()
        return turns

    async def update(
        self,
        turn_id: str,
        *,
        status: TurnStatus | None = None,
        messages_json: str | None = None,
        cells_before_json: str | None = None,
        cells_after_json: str | None = None,
        reply: str | None = None,
        finished_at: datetime | None = None,
    ) -> Turn | None:
        """Set the given fields (None leaves a field as it is). Moving to DONE or FAILED
        stamps `finished_at` with now unless given or already set."""
        turn = await self.get(turn_id)
        if turn is None:
            return None
        if status is not None:
            turn.status = status
            if status in (TurnStatus.DONE, TurnStatus.FAILED) and turn.finished_at is None:
                turn.finished_at = finished_at or utcnow()
        if finished_at is not None:
            turn.finished_at = finished_at
        if messages_json is not None:
            turn.messages_json = messages_json
        if cells_before_json is not None:
            turn.cells_before_json = cells_before_json
        if cells_after_json is not None:
            turn.cells_after_json = cells_after_json
        if reply is not None:
            turn.reply = reply
        await self._session.flush()
        return turn

    async def end(
        self,
        turn_id: str,
        status: TurnStatus,
        reply: str,
        *,
        messages_json: str | None = None,
        cells_before_json: str | None = None,
        cells_after_json: str | None = None,
        now: datetime | None = None,
    ) -> bool:
        """How a run of the turn ended, in one UPDATE (`update` reads the row first; this
        is on every turn's path). None leaves a field as it is; DONE and FAILED stamp
        `finished_at` unless it is set. False if there is no such turn."""
        values: dict[str, object] = {"status": status, "reply": reply}
        if status in (TurnStatus.DONE, TurnStatus.FAILED):
            values["finished_at"] = func.coalesce(Turn.finished_at, now or utcnow())
        for name, value in (
            ("messages_json", messages_json),
            ("cells_before_json", cells_before_json),
            ("cells_after_json", cells_after_json),
        ):
            if value is not None:
                values[name] = value
        stmt = update(Turn).where(Turn.id == turn_id).values(values)
        return await self._changed(stmt.execution_options(synchronize_session=False)) == 1

    async def list_for_notebook(self, notebook_id: str, *, limit: int = 50) -> list[Turn]:
        """The notebook's turns, newest first."""
        return await self._all(
            select(Turn)
            .where(Turn.notebook_id == notebook_id)
            .order_by(Turn.created_at.desc(), Turn.id.desc())
            .limit(limit)
        )
