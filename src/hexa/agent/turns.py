"""Chat turns: one message in, tool calls streamed, one reply out, everything persisted.

A turn is stored as it goes: the turn row and the person's message first, then an audit
entry per tool call, each written while the turn waits on the model or on marimo (the
ledger's `TurnWrites`; what is left goes with the end), and at the end the reply, the tool
lines and pydantic-ai's message history. A turn that stops at destructive calls stores one
approval per call (and the history) before it answers; `resume` carries on from the stored
history once they are all answered, so an approval survives a restart of the server.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from typing import Any

from pydantic_ai import DeferredToolResults
from pydantic_ai.messages import ModelMessagesTypeAdapter
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hexa.agent import prompts
from hexa.agent.approvals import Approvals, resume_answers
from hexa.agent.conversation import Conversations
from hexa.agent.events import ApprovalRequested, TurnDone, TurnFailed, TurnStarted
from hexa.agent.ledger import DbLedger
from hexa.agent.model_run import RunOutcome, TurnRunner
from hexa.agent.models import ModelChoice
from hexa.agent.redaction import Redactor
from hexa.agent.registry import ToolContext
from hexa.agent.toolset import TurnState
from hexa.agent.views import ChatReply, PendingApproval
from hexa.cluster.locks import SharedLocks
from hexa.errors import BadRequestError, ConflictError, TooLargeError
from hexa.live import EventBus
from hexa.store import (
    Approval,
    ChatRepository,
    ChatRole,
    TurnRepository,
    TurnStatus,
    new_uuid,
    utcnow,
)
from hexa.users import Principal

MESSAGE_SLACK = 16 * 1024  # characters a message may have besides one cell's code
MAX_SELECTED = 50
LOCK_WAIT = 10.0  # seconds a message waits for the notebook's previous turn


class TurnLocks:
    """One turn (or undo) at a time per notebook: in this process, and across replicas
    when they share a database (`shared`)."""

    def __init__(self, shared: SharedLocks | None = None) -> None:
        self._locks: dict[str, asyncio.Lock] = {}
        self._shared = shared

    @contextlib.asynccontextmanager
    async def hold(self, notebook_id: str, wait: float = LOCK_WAIT) -> AsyncIterator[None]:
        lock = self._locks.setdefault(notebook_id, asyncio.Lock())
        deadline = time.monotonic() + wait
        try:
            async with asyncio.timeout(wait):
                await lock.acquire()
        except TimeoutError:
            raise _busy() from None
        try:
            if self._shared is None:
                yield
                return
            left = max(0.0, deadline - time.monotonic())
            async with self._shared.hold(f"turn:{notebook_id}", left) as held:
                if not held:
                    raise _busy()
                yield
        finally:
            lock.release()


def _busy() -> ConflictError:
    return ConflictError(
        "the agent is still working on another message for this notebook; "
        "try again when it has answered"
    )


class Turns:
    def __init__(
        self,
        *,
        sessions: async_sessionmaker[AsyncSession],
        model: ModelChoice,
        runner: TurnRunner,
        ledger: DbLedger,
        approvals: Approvals,
        conversations: Conversations,
        bus: EventBus,
        redactor: Redactor,
        tools: Callable[[Principal, str], ToolContext],
        run_wait: float,
        max_code_bytes: int,
        replica_id: str | None = None,
    ) -> None:
        self._sessions = sessions
        self._replica_id = replica_id
        self._model = model
        self._runner = runner
        self._ledger = ledger
        self._approvals = approvals
        self._conversations = conversations
        self._bus = bus
        self._redactor = redactor
        self._tools = tools
        self._run_wait = run_wait
        self._max_code_bytes = max_code_bytes
        self._rules = prompts.RulesCache()

    def warm(self) -> None:
        """Pay the first turn's one-time costs now (from a thread, at start-up): the tools'
        JSON schemas, the model pricing data pydantic-ai loads when a model is made
        (a large module; the builtin model is made per turn), and the history's schema."""
        self._runner.warm()
        self._model.for_turn()
        warm_history()

    def check_message(
        self, message: str, context: Mapping[str, Any] | None
    ) -> tuple[str, list[str]]:
        """The message to run (stripped) and the selected cells; 400 or 413 when unusable."""
        text = message.strip()
        if not text:
            raise BadRequestError("the message is empty")
        limit = self._max_code_bytes + MESSAGE_SLACK
        if len(text) > limit:
            raise TooLargeError(f"the message is longer than {limit} characters")
        return text, _selected_cells(context)

    async def run(
        self, user: Principal, notebook_id: str, text: str, selected: list[str]
    ) -> ChatReply:
        """Run one turn for the person's message (the caller holds the notebook's lock)."""
        tools = self._tools(user, notebook_id)
        # The builtin model reads only the last message: a history would be dead weight,
        # except to answer calls an earlier turn left waiting.
        history, carried = await self._conversations.continue_from(
            user, notebook_id, need_history=not self._model.builtin
        )
        turn_id, now = new_uuid(), utcnow()

        async def rows(session: AsyncSession) -> None:  # the turn and the person's message
            await TurnRepository(session).create(
                notebook_id, user.id, text, replica_id=self._replica_id, turn_id=turn_id, now=now
            )
            await ChatRepository(session).add(
                notebook_id,
                ChatRole.USER,
                self._redactor.text(text),
                turn_id=turn_id,
                data_json=json.dumps({"context": {"cell_ids": selected}}) if selected else None,
                now=now,
            )

        state = TurnState(tools, turn_id, text, images=self._model.images)
        # Written while the turn waits, ahead of its audit entries (see TurnWrites).
        self._ledger.begin(turn_id, rows, at_calls=self._model.builtin)
        try:
            self._bus.publish(notebook_id, TurnStarted(turn_id=turn_id, prompt=text))
            outcome = await self._runner.run(
                state,
                model=self._model.for_turn(selected),
                publish=lambda e: self._bus.publish(notebook_id, e),
                prompt=text,
                history=history,
                deferred=carried,
                instructions=await self._instructions(state, selected),
            )
            return await self._conclude(user, notebook_id, state, outcome)
        finally:
            await self._ledger.forget(turn_id)

    async def resume(
        self, user: Principal, notebook_id: str, turn_id: str, approvals: Sequence[Approval]
    ) -> ChatReply:
        """Carry on a turn whose approvals are all answered, from its stored history."""
        async with self._sessions.begin() as session:
            turns = TurnRepository(session)
            turn = await turns.get(turn_id)
            if turn is None or not turn.messages_json:
                raise ConflictError(f"turn {turn_id} can no longer be resumed")
            await turns.update(turn_id, status=TurnStatus.RUNNING)
        answers, approved = resume_answers(approvals)
        self._bus.publish(
            notebook_id, TurnStarted(turn_id=turn_id, prompt=turn.prompt, resumed=True)
        )
        state = TurnState(
            self._tools(user, notebook_id),
            turn_id,
            turn.prompt,
            approved=approved,
            images=self._model.images,
        )
        self._ledger.load(turn_id, turn.cells_before_json)
        try:
            outcome = await self._runner.run(
                state,
                model=self._model.for_turn(),
                publish=lambda e: self._bus.publish(notebook_id, e),
                history=ModelMessagesTypeAdapter.validate_json(turn.messages_json),
                deferred=DeferredToolResults(approvals=answers),
                instructions=await self._instructions(state, ()),
            )
            return await self._conclude(user, notebook_id, state, outcome)
        finally:
            await self._ledger.forget(turn_id)

    async def _instructions(self, state: TurnState, selected: Sequence[str]) -> str | None:
        if self._model.builtin or self._model.problem is not None:
            return None  # the builtin model reads no instructions: skip the reads
        client = await state.tools.client(state.tools.notebook_id)
        return await prompts.instructions(
            notebook_id=state.tools.notebook_id,
            client=client,
            rules=self._rules,
            run_wait=self._run_wait,
            selected=selected,
        )

    async def _conclude(
        self, user: Principal, notebook_id: str, state: TurnState, outcome: RunOutcome
    ) -> ChatReply:
        """Persist how the run ended (in one transaction), then tell the listeners."""
        turn_id = state.turn_id
        await self._ledger.take_late_reports(state)  # the snapshot complete, then the end
        after = await self._ledger.after_json(state)
        unwritten = await self._ledger.settle(turn_id)  # the turn's rows, then its end
        snapshot = self._ledger.snapshot_json(turn_id)  # taken before the first change
        pending: list[PendingApproval] = []
        data: dict[str, Any] | None
        # The tool lines, then the reply: written together, in one round trip.
        lines: list[tuple[ChatRole, str, str | None]] = [
            (
                ChatRole.TOOL,
                self._redactor.text(call.summary or call.tool_name),
                json.dumps(self._redactor.json(call.view().model_dump(mode="json"))),
            )
            for call in outcome.calls
        ]
        async with self._sessions.begin() as session:
            for rows in unwritten:
                await rows(session)
            if outcome.error is not None:
                status, message, data = TurnStatus.FAILED, outcome.error, {"error": True}
            elif outcome.deferred is not None:
                pending = await self._approvals.store(
                    session, user, notebook_id, turn_id, outcome.deferred
                )
                status, message = TurnStatus.WAITING_APPROVAL, _asking(outcome.text, pending)
                data = {"approvals": [p.model_dump(mode="json") for p in pending]}
            else:
                status, data = TurnStatus.DONE, None
                message = self._redactor.text(outcome.text or "")
            await TurnRepository(session).end(
                turn_id,
                status,
                message,
                cells_before_json=snapshot,
                cells_after_json=after,
                messages_json=None if outcome.error else _dumped(outcome),
            )
            lines.append(
                (ChatRole.ASSISTANT, message, json.dumps(data) if data is not None else None)
            )
            await ChatRepository(session).add_many(notebook_id, lines, turn_id=turn_id)
        self._ledger.written(turn_id, unwritten)
        self._conversations.settle(notebook_id, status is not TurnStatus.WAITING_APPROVAL)
        for approval in pending:
            self._bus.publish(notebook_id, ApprovalRequested(turn_id=turn_id, approval=approval))
        if outcome.error is not None:
            self._bus.publish(notebook_id, TurnFailed(turn_id=turn_id, message=outcome.error))
        self._bus.publish(
            notebook_id, TurnDone(turn_id=turn_id, status=status.value, message=message)
        )
        return ChatReply(
            message=message,
            tool_calls=[call.view() for call in outcome.calls],
            pending_approval=pending[0] if pending else None,
            turn_id=turn_id,
            status=status.value,
            error=outcome.error,
        )


def warm_history() -> None:
    """pydantic-ai builds the message history's schema on its first use (about 30 ms, the
    first turn's end paid it): build it now."""
    ModelMessagesTypeAdapter.dump_json([])


def _dumped(outcome: RunOutcome) -> str:
    return ModelMessagesTypeAdapter.dump_json(outcome.messages).decode()


def _selected_cells(context: Mapping[str, Any] | None) -> list[str]:
    if not context:
        return []
    ids = context.get("cell_ids")
    if ids is None:
        return []
    if not isinstance(ids, list) or not all(isinstance(i, str) and 0 < len(i) <= 64 for i in ids):
        raise BadRequestError("context.cell_ids must be a list of cell ids")
    if len(ids) > MAX_SELECTED:
        raise BadRequestError(f"at most {MAX_SELECTED} selected cells")
    return list(dict.fromkeys(ids))


def _asking(text: str | None, pending: Sequence[PendingApproval]) -> str:
    asks = "\n".join(f"- {p.description}" for p in pending)
    lead = (text or "").strip()
    question = f"I need your approval before I go on:\n{asks}"
    return f"{lead}\n\n{question}" if lead else question
