"""Approvals of destructive calls: stored when a turn asks, decided once, closed when the
turn moves on. Every decision and every call that is not run is audited.

Deciding is one straight path: the approval is looked up once, answered by the store's
single conditional UPDATE (so of two concurrent answers exactly one wins), and the turn's
approvals are read back to resume it. What the person was shown is stored on the row.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from pydantic_ai import DeferredToolRequests, ToolApproved, ToolDenied
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hexa.agent.redaction import Redactor
from hexa.agent.views import PendingApproval
from hexa.errors import ConflictError, NotFoundError
from hexa.store import (
    Approval,
    ApprovalRepository,
    ApprovalStatus,
    AuditRepository,
    Decision,
    TurnRepository,
)
from hexa.users import Principal

REJECTED = (
    "The person rejected this call, so it was not run. Do not try it again; tell them what "
    "you did instead, or ask what they want."
)
EXPIRED = "The approval expired before the person answered, so the call was not run."
SUPERSEDED = "The person sent a new message instead of answering, so the call was not run."
NOT_CARRIED_OUT = "The call was not carried out."

Answer = bool | ToolApproved | ToolDenied


@dataclass(frozen=True)
class Decided:
    """An answered approval and where its turn stands."""

    approval: Approval
    turn_approvals: list[Approval]
    waiting: list[Approval]  # of the same turn, still unanswered


class Approvals:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        redactor: Redactor,
        clock: Callable[[], datetime],
        ttl: float,
    ) -> None:
        self._sessions = sessions
        self._redactor = redactor
        self._clock = clock
        self._ttl = ttl

    async def store(
        self,
        session: AsyncSession,
        user: Principal,
        notebook_id: str,
        turn_id: str,
        requests: DeferredToolRequests,
    ) -> list[PendingApproval]:
        """One row per call the run stopped at, with the gate's validated arguments, its
        preview and binding hash (see `hexa.agent.gate`), shown redacted."""
        now = self._clock()
        repo = ApprovalRepository(session)
        stored = []
        for call in requests.approvals:
            meta = requests.metadata.get(call.tool_call_id, {})
            bound = meta.get("binding_sha256")
            row = await repo.create(
                turn_id=turn_id,
                user_id=user.id,
                notebook_id=notebook_id,
                tool_call_id=call.tool_call_id,
                tool_name=call.tool_name,
                args=self._redactor.json(meta.get("arguments") or call.args_as_dict()),
                description=self._redactor.text(
                    str(meta.get("description") or f"Run {call.tool_name}")
                ),
                expires_at=now + timedelta(seconds=self._ttl),
                now=now,
                bound_sha256=bound if isinstance(bound, str) else None,
                preview=self._redactor.json(meta.get("preview") or {}),
            )
            stored.append(PendingApproval.of(row))
        return stored

    async def pending(self, user: Principal, notebook_id: str) -> list[PendingApproval]:
        async with self._sessions() as session:
            rows = await ApprovalRepository(session).list_pending(notebook_id, now=self._clock())
        return [PendingApproval.of(a) for a in rows if a.user_id == user.id]

    async def decide(
        self, user: Principal, notebook_id: str, approval_id: str, *, approve: bool
    ) -> Decided:
        """Answer a pending approval once; 404 when it is not the user's in this notebook,
        409 (with the reason) when it can no longer be answered."""
        now = self._clock()
        async with self._sessions.begin() as session:
            repo = ApprovalRepository(session)
            approval = await repo.get(approval_id)
            if approval is None or (approval.user_id, approval.notebook_id) != (
                user.id,
                notebook_id,
            ):
                raise NotFoundError(f"no approval {approval_id} in notebook {notebook_id}")
            await self.expire(session, user, now)
            decided = await repo.decide(approval_id, user.id, approve, now, notebook_id=notebook_id)
            if decided is None:
                await session.refresh(approval)
                problem = _unanswerable(approval)
            elif not approve:
                await self.audit_decision(
                    session, user, decided, Decision.REJECTED, f"not run: rejected by {user.name}"
                )
        if decided is None:
            raise problem
        async with self._sessions() as session:
            turn_approvals = await ApprovalRepository(session).for_turn(decided.turn_id)
        waiting = [
            a for a in turn_approvals if a.status is ApprovalStatus.PENDING and a.expires_at > now
        ]
        return Decided(decided, turn_approvals, waiting)

    async def supersede(
        self, session: AsyncSession, user: Principal, turn_id: str, reason: str
    ) -> list[Approval]:
        """Close a turn's unanswered approvals (rejected, or expired if due), audited."""
        now = self._clock()
        await self.expire(session, user, now)
        repo = ApprovalRepository(session)
        for approval in await repo.for_turn(turn_id):
            if approval.status is ApprovalStatus.PENDING:
                await repo.decide(approval.id, approval.user_id, False, now)
                await self.audit_decision(
                    session, user, approval, Decision.REJECTED, f"not run: {reason}"
                )
        return await repo.for_turn(turn_id)

    async def expire(self, session: AsyncSession, user: Principal, now: datetime) -> None:
        """Mark due approvals expired, with one audit entry each."""
        repo = ApprovalRepository(session)
        due = await repo.due(now)
        if not due:
            return
        await repo.expire_due(now)
        for approval in due:
            await self.audit_decision(
                session, user, approval, Decision.EXPIRED, "not run: the approval expired"
            )

    async def audit_decision(
        self,
        session: AsyncSession,
        user: Principal,
        approval: Approval,
        decision: Decision,
        outcome: str,
    ) -> None:
        turn = await TurnRepository(session).get(approval.turn_id)
        arguments: Any = json.loads(approval.args_json)
        target = arguments.get("notebook_id") if isinstance(arguments, dict) else None
        mine = approval.user_id == user.id
        await AuditRepository(session).append(
            user_id=approval.user_id,
            user_name=user.name if mine else None,
            notebook_id=target or approval.notebook_id,
            turn_id=approval.turn_id,
            prompt=turn.prompt if turn is not None else None,
            tool_name=approval.tool_name,
            args=approval.args_json,
            decision=decision,
            outcome=outcome,
        )


def resume_answers(approvals: Sequence[Approval]) -> tuple[dict[str, Answer], dict[str, str]]:
    """What a resumed run is told of each call, built only from stored decisions: True for
    an approved, unused yes (and its approval id, for the gate to claim); a denial the model
    reads for anything else."""
    answers: dict[str, Answer] = {}
    approved: dict[str, str] = {}
    for a in approvals:
        if a.status is ApprovalStatus.APPROVED and a.consumed_at is None:
            answers[a.tool_call_id] = True
            approved[a.tool_call_id] = a.id
        elif a.status is ApprovalStatus.REJECTED:
            answers[a.tool_call_id] = ToolDenied(REJECTED)
        elif a.status in (ApprovalStatus.EXPIRED, ApprovalStatus.PENDING):
            answers[a.tool_call_id] = ToolDenied(EXPIRED)
        else:
            answers[a.tool_call_id] = ToolDenied(NOT_CARRIED_OUT)
    return answers, approved


def carried_answers(unresolved: Sequence[str], approvals: Sequence[Approval]) -> dict[str, Answer]:
    """Denials for calls a turn left waiting when the person wrote again instead: none of
    them runs."""
    by_call = {a.tool_call_id: a for a in approvals}
    answers: dict[str, Answer] = {}
    for call_id in unresolved:
        approval = by_call.get(call_id)
        if approval is None or approval.status is ApprovalStatus.APPROVED:
            answers[call_id] = ToolDenied(NOT_CARRIED_OUT)
        elif approval.status is ApprovalStatus.EXPIRED:
            answers[call_id] = ToolDenied(EXPIRED)
        else:
            answers[call_id] = ToolDenied(SUPERSEDED)
    return answers


def _unanswerable(approval: Approval) -> ConflictError:
    """Why an approval the UPDATE did not match cannot be answered."""
    if approval.status is ApprovalStatus.EXPIRED:
        return ConflictError(
            f"approval {approval.id} expired at {approval.expires_at.isoformat()}; "
            "nothing was done. Ask the agent again."
        )
    return ConflictError(f"approval {approval.id} was already {approval.status.value}")
