"""Approvals of destructive tool calls, and the conditional UPDATEs that answer and claim them.

Answering (`decide`) and claiming for execution (`consume`) are each one conditional UPDATE
of the row, never a read then a write: of two concurrent calls exactly one matches.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, select, update

from hexa.store.models import Approval, ApprovalStatus, utcnow
from hexa.store.repositories.base import Repository
from hexa.store.repositories.digests import args_sha256, canonical_json

_OLDEST_FIRST = (Approval.created_at, Approval.id)


class ApprovalRepository(Repository):
    """Approvals of destructive tool calls: stored before the question is shown, answered
    at most once, bound to user, notebook, tool call and arguments, and carried out once."""

    async def create(
        self,
        *,
        turn_id: str,
        user_id: int,
        notebook_id: str,
        tool_call_id: str,
        tool_name: str,
        args: Mapping[str, Any],
        description: str,
        expires_at: datetime,
        now: datetime | None = None,
        bound_sha256: str | None = None,
        preview: Mapping[str, Any] | None = None,
    ) -> Approval:
        """`args` and `preview` are stored to be shown (redacted); `bound_sha256` is what a
        later `consume` must match: the hash of the exact call (default: of `args`)."""
        now = now or utcnow()
        if expires_at <= now:
            raise ValueError("an approval must expire after it is created")
        return await self._add(
            Approval(
                turn_id=turn_id,
                user_id=user_id,
                notebook_id=notebook_id,
                tool_call_id=tool_call_id,
                tool_name=tool_name,
                args_json=canonical_json(args),
                args_sha256=bound_sha256 or args_sha256(args),
                description=description,
                preview_json=canonical_json(preview) if preview is not None else None,
                status=ApprovalStatus.PENDING,
                created_at=now,
                expires_at=expires_at,
            )
        )

    async def get(self, approval_id: str) -> Approval | None:
        return await self._session.get(Approval, approval_id)

    async def list_pending(self, notebook_id: str, *, now: datetime) -> list[Approval]:
        """Still-answerable approvals of a notebook, oldest first."""
        return await self._all(
            select(Approval)
            .where(Approval.notebook_id == notebook_id, *_answerable(now))
            .order_by(*_OLDEST_FIRST)
        )

    async def for_turn(self, turn_id: str) -> list[Approval]:
        """Every approval one turn asked for, oldest first, as the database has them now."""
        return await self._all(
            select(Approval)
            .where(Approval.turn_id == turn_id)
            .order_by(*_OLDEST_FIRST)
            .execution_options(populate_existing=True)
        )

    async def due(self, now: datetime) -> list[Approval]:
        """Pending approvals whose time is up (not yet marked expired)."""
        return await self._all(select(Approval).where(*_overdue(now)))

    async def decide(
        self,
        approval_id: str,
        user_id: int,
        approve: bool,
        now: datetime,
        *,
        notebook_id: str | None = None,
    ) -> Approval | None:
        """Approve or reject, if the approval is still pending, unexpired and `user_id`'s
        (and in `notebook_id`, when given). Returns the decided approval, or None when
        nothing changed: unknown, someone else's, already decided, or expired.

        One conditional UPDATE, so of two concurrent calls exactly one matches the row.
        """
        where = [Approval.user_id == user_id, *_answerable(now)]
        if notebook_id is not None:
            where.append(Approval.notebook_id == notebook_id)
        return await self._update_one(
            approval_id,
            *where,
            status=ApprovalStatus.APPROVED if approve else ApprovalStatus.REJECTED,
            decided_at=now,
            decided_by=user_id,
        )

    async def consume(
        self,
        approval_id: str,
        *,
        tool_name: str,
        bound_sha256: str,
        now: datetime,
    ) -> Approval | None:
        """Claim an approved call for execution: succeeds once, and only if the call about
        to run is the one approved (same tool, same binding hash: arguments and the content
        the person was shown). None means: do not run."""
        return await self._update_one(
            approval_id,
            Approval.status == ApprovalStatus.APPROVED,
            Approval.consumed_at.is_(None),
            Approval.tool_name == tool_name,
            Approval.args_sha256 == bound_sha256,
            consumed_at=now,
        )

    async def expire_due(self, now: datetime) -> int:
        """Mark pending approvals whose time is up as expired; returns how many."""
        return await self._changed(
            update(Approval)
            .where(*_overdue(now))
            .values(status=ApprovalStatus.EXPIRED)
            .execution_options(synchronize_session="fetch")
        )

    async def _update_one(
        self, approval_id: str, *where: ColumnElement[bool], **values: Any
    ) -> Approval | None:
        """Set `values` on the approval if it also matches `where`, in one conditional UPDATE.
        The approval as the database now has it, or None if the row did not match."""
        changed = await self._changed(
            update(Approval)
            .where(Approval.id == approval_id, *where)
            .values(**values)
            .execution_options(synchronize_session=False)
        )
        if changed != 1:
            return None
        return await self._session.get(Approval, approval_id, populate_existing=True)


def _answerable(now: datetime) -> tuple[ColumnElement[bool], ...]:
    """The conditions of an approval that can still be answered: pending and unexpired."""
    return (Approval.status == ApprovalStatus.PENDING, Approval.expires_at > now)


def _overdue(now: datetime) -> tuple[ColumnElement[bool], ...]:
    """The conditions of an approval whose time is up but that is not yet marked expired."""
    return (Approval.status == ApprovalStatus.PENDING, Approval.expires_at <= now)
