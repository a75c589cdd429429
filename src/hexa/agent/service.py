"""The agent service: the face the API talks to. It holds the parts and runs each request
under the notebook's turn lock; the work is in the modules named for it:

- `turns`: a chat message becomes a turn, streamed and persisted;
- `approvals`: destructive calls wait for a yes, decided once (the gate that enforces it
  when the call runs is `gate`);
- `undo`: the agent's last turn taken back;
- `relay`: marimo's own notifications for the notebook's listeners.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hexa.agent.approvals import Approvals
from hexa.agent.conversation import Conversations
from hexa.agent.events import ApprovalDecided, RunFinished
from hexa.agent.ledger import DbLedger
from hexa.agent.model_run import TurnRunner
from hexa.agent.models import ModelChoice
from hexa.agent.redaction import Redactor
from hexa.agent.registry import NotebookAccess, ToolContext, ToolRegistry
from hexa.agent.relay import MarimoRelay
from hexa.agent.runs import BackgroundRunner
from hexa.agent.turns import TurnLocks, Turns
from hexa.agent.undo import Undo
from hexa.agent.views import (
    AgentInfo,
    AuditLine,
    ChatHistory,
    ChatLine,
    ChatReply,
    PendingApproval,
    ToolInfo,
    UndoResult,
)
from hexa.cluster.locks import SharedLocks
from hexa.live import EventBus, Subscription
from hexa.marimo.errors import CodeModeError
from hexa.store import AuditRepository, ChatRepository, ChatRole, TurnRepository, TurnStatus, utcnow
from hexa.users import Principal

logger = logging.getLogger(__name__)


class AgentService:
    def __init__(
        self,
        *,
        sessions: async_sessionmaker[AsyncSession],
        notebooks: NotebookAccess,
        registry: ToolRegistry,
        model: ModelChoice,
        bus: EventBus,
        redactor: Redactor,
        approval_ttl: float,
        run_wait: float,
        max_code_bytes: int,
        model_timeout: float,
        clock: Callable[[], datetime] = utcnow,
        replica_id: str | None = None,
        shared_locks: SharedLocks | None = None,
    ) -> None:
        self._sessions = sessions
        self._notebooks = notebooks
        self._registry = registry
        self._model = model
        self._bus = bus
        self._redactor = redactor
        self._run_wait = run_wait
        self._max_code_bytes = max_code_bytes
        self._clock = clock
        self._locks = TurnLocks(shared_locks)
        self._background = BackgroundRunner(self._run_finished)
        self._relay = MarimoRelay(bus, notebooks)
        # What the agent last read or wrote in each cell, across turns (see ToolContext).
        self._seen: dict[str, dict[str, str]] = {}
        ledger = DbLedger(sessions, redactor, clock)
        self._approvals = Approvals(sessions, redactor, clock, approval_ttl)
        self._turns = Turns(
            sessions=sessions,
            model=model,
            runner=TurnRunner(registry, ledger, redactor=redactor, model_timeout=model_timeout),
            ledger=ledger,
            approvals=self._approvals,
            conversations=Conversations(sessions, self._approvals),
            bus=bus,
            redactor=redactor,
            tools=self._tools,
            replica_id=replica_id,
            run_wait=run_wait,
            max_code_bytes=max_code_bytes,
        )
        self._undo = Undo(sessions, notebooks, self._approvals, bus, redactor)

    @property
    def bus(self) -> EventBus:
        return self._bus

    @property
    def registry(self) -> ToolRegistry:
        return self._registry

    def info(self) -> AgentInfo:
        """The model in use (and the builtin's commands) and the tools with their tiers."""
        return AgentInfo.model_validate(
            {
                **self._model.describe(),
                "tools": [ToolInfo(name=s.name, tier=s.tier.value) for s in self._registry],
            }
        )

    async def chat(
        self,
        user: Principal,
        notebook_id: str,
        message: str,
        context: Mapping[str, Any] | None = None,
    ) -> ChatReply:
        """Run one turn for the person's message and return its answer."""
        text, selected = self._turns.check_message(message, context)
        # Someone else's notebook is a 404; the client is looked up once for the turn.
        await self._tools(user, notebook_id).client(notebook_id)
        async with self._locks.hold(notebook_id):
            return await self._turns.run(user, notebook_id, text, selected)

    async def approve(self, user: Principal, notebook_id: str, approval_id: str) -> ChatReply:
        """Say yes to a pending approval; the turn resumes and carries the call out."""
        return await self._decide(user, notebook_id, approval_id, approve=True)

    async def reject(self, user: Principal, notebook_id: str, approval_id: str) -> ChatReply:
        """Say no; the model is told, and answers."""
        return await self._decide(user, notebook_id, approval_id, approve=False)

    async def history(
        self, user: Principal, notebook_id: str, *, limit: int = 200, after_id: int | None = None
    ) -> ChatHistory:
        await self._notebooks.get(user, notebook_id)
        async with self._sessions() as session:
            rows = await ChatRepository(session).list_for_notebook(
                notebook_id, limit=limit if after_id is None else None, after_id=after_id
            )
        return ChatHistory(
            notebook_id=notebook_id,
            messages=[ChatLine.of(r) for r in rows],
            pending_approvals=await self._approvals.pending(user, notebook_id),
        )

    async def audit(
        self, user: Principal, notebook_id: str, *, limit: int = 100, before_id: int | None = None
    ) -> list[AuditLine]:
        await self._notebooks.get(user, notebook_id)
        async with self._sessions() as session:
            rows = await AuditRepository(session).list_for_notebook(
                notebook_id, user_id=user.id, limit=limit, before_id=before_id
            )
        return [AuditLine.of(r) for r in rows]

    async def undo(self, user: Principal, notebook_id: str) -> UndoResult:
        """Put the cells back as they were before the agent's last turn not yet undone."""
        await self._notebooks.get(user, notebook_id)
        async with self._locks.hold(notebook_id):
            return await self._undo.last_turn(user, notebook_id)

    @contextlib.asynccontextmanager
    async def listen(self, user: Principal, notebook_id: str) -> AsyncIterator[Subscription]:
        """The notebook's events (agent and marimo) until the caller leaves; the caller
        has checked that the notebook is the user's."""
        subscription = self._bus.subscribe(notebook_id)
        detach = self._relay.attach(user, notebook_id)
        try:
            yield subscription
        finally:
            detach()
            subscription.close()

    async def warm_up(self) -> None:
        """The first turn's one-time costs, paid in a thread while the server already
        serves (about 0.6 s of CPU that the first message after a start waited for)."""
        try:
            await asyncio.to_thread(self._turns.warm)
        except Exception:  # only ever a head start: the first turn does it again
            logger.exception("warming the agent up failed")

    async def recover(self, spare: Iterable[str] = ()) -> int:
        """At start: turns a crash left running are marked so, and their chats say it;
        those of the live replicas in `spare` still run there and are left alone."""
        reason = (
            "This turn was interrupted: Hexa stopped while it ran. What its tool calls "
            "finished is in the notebook and the Activity log; nothing else was done."
        )
        async with self._sessions.begin() as session:
            turns = await TurnRepository(session).interrupt_running(
                reason, spare=spare, now=self._clock()
            )
            for turn in turns:
                await ChatRepository(session).add(
                    turn.notebook_id, ChatRole.SYSTEM, reason, turn_id=turn.id
                )
        return len(turns)

    async def close(self) -> None:
        await self._relay.close()
        await self._background.close()

    async def _decide(
        self, user: Principal, notebook_id: str, approval_id: str, *, approve: bool
    ) -> ChatReply:
        await self._notebooks.get(user, notebook_id)
        async with self._locks.hold(notebook_id):
            decided = await self._approvals.decide(user, notebook_id, approval_id, approve=approve)
            turn_id = decided.approval.turn_id
            self._bus.publish(
                notebook_id,
                ApprovalDecided(
                    turn_id=turn_id,
                    approval_id=approval_id,
                    decision="approved" if approve else "rejected",
                ),
            )
            if decided.waiting:
                # Several destructive calls in one step: the run resumes once all are answered.
                return ChatReply(
                    message=f"Noted. {len(decided.waiting)} more call(s) of this turn wait "
                    "for an answer.",
                    tool_calls=[],
                    pending_approval=PendingApproval.of(decided.waiting[0]),
                    turn_id=turn_id,
                    status=TurnStatus.WAITING_APPROVAL.value,
                )
            return await self._turns.resume(user, notebook_id, turn_id, decided.turn_approvals)

    def _tools(self, user: Principal, notebook_id: str) -> ToolContext:
        return ToolContext(
            user=user,
            notebook_id=notebook_id,
            notebooks=self._notebooks,
            run_wait=self._run_wait,
            max_code_bytes=self._max_code_bytes,
            background=self._background,
            seen=self._seen,
        )

    def _run_finished(self, notebook_id: str, label: str, error: BaseException | None) -> None:
        if error is not None and not isinstance(error, CodeModeError):
            message = f"{label}: the run failed: {self._redactor.text(str(error))}"
        elif isinstance(error, CodeModeError) and error.applied:
            message = f"{label}: the run finished; a cell raised an error"
        else:
            message = f"{label}: the run finished"
        self._bus.publish(
            notebook_id, RunFinished(tool_name=label, ok=error is None, message=message)
        )
