"""The agent service: chat turns, approvals, history, audit and undo for a user's notebooks.

A turn is persisted as it goes: the turn row and the person's message first, an audit
entry per tool call as soon as it is done, and at the end the reply, the tool lines and
pydantic-ai's message history. A turn that stops at a destructive call stores one
approval per call (and the history) before it answers; `approve` / `reject` decide it
once, atomically, and resume the run from the stored history, so an approval survives a
restart of the server.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from pydantic_ai import DeferredToolRequests, DeferredToolResults, ToolApproved, ToolDenied
from pydantic_ai.messages import (
    ModelMessage,
    ModelMessagesTypeAdapter,
    ModelRequest,
    ModelResponse,
    RetryPromptPart,
    ToolCallPart,
    ToolReturnPart,
    UserPromptPart,
)
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hexa.agent import prompts, undo
from hexa.agent.events import Event, EventBus, Subscription
from hexa.agent.ledger import DbLedger
from hexa.agent.models import ModelChoice
from hexa.agent.redaction import Redactor
from hexa.agent.registry import NotebookAccess, ToolContext, ToolRegistry
from hexa.agent.relay import MarimoRelay
from hexa.agent.runner import RunOutcome, TurnRunner
from hexa.agent.runs import BackgroundRunner
from hexa.agent.toolset import TurnState, canonical_arguments
from hexa.agent.views import (
    AuditLine,
    ChatHistory,
    ChatLine,
    ChatReply,
    PendingApproval,
    ToolCall,
    UndoResult,
)
from hexa.errors import (
    BadRequestError,
    ConflictError,
    NotFoundError,
    TooLargeError,
    UpstreamError,
)
from hexa.marimo.errors import CodeModeError, MarimoError
from hexa.store import (
    Approval,
    ApprovalRepository,
    ApprovalStatus,
    AuditRepository,
    ChatRepository,
    ChatRole,
    Decision,
    TurnRepository,
    TurnStatus,
    utcnow,
)
from hexa.users import Principal

logger = logging.getLogger(__name__)

MESSAGE_SLACK = 16 * 1024  # characters a message may have besides one cell's code
MAX_SELECTED = 50
HISTORY_MESSAGES = 60  # model messages carried into the next turn
LOCK_WAIT = 10.0  # seconds a message waits for the notebook's previous turn
REJECTED = (
    "The person rejected this call, so it was not run. Do not try it again; tell them what "
    "you did instead, or ask what they want."
)
EXPIRED = "The approval expired before the person answered, so the call was not run."
SUPERSEDED = "The person sent a new message instead of answering, so the call was not run."
NOT_CARRIED_OUT = "The call was not carried out."


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
    ) -> None:
        self._sessions = sessions
        self._notebooks = notebooks
        self._registry = registry
        self._model = model
        self._bus = bus
        self._redactor = redactor
        self._approval_ttl = approval_ttl
        self._run_wait = run_wait
        self._max_code_bytes = max_code_bytes
        self._clock = clock
        self._ledger = DbLedger(sessions, redactor, clock)
        self._runner = TurnRunner(
            registry, self._ledger, redactor=redactor, model_timeout=model_timeout
        )
        self._rules = prompts.RulesCache()
        self._background = BackgroundRunner(self._run_finished)
        self._relay = MarimoRelay(bus, notebooks)
        self._locks: dict[str, asyncio.Lock] = {}
        # What the agent last read or wrote in each cell, across turns (see ToolContext).
        self._seen: dict[str, dict[str, str]] = {}
        # Notebooks whose last turn left nothing waiting (learnt from the database once,
        # then kept up to date here: turns of a notebook run one at a time, in this process).
        self._settled: set[str] = set()

    # ------------------------------------------------------------------ public API

    @property
    def bus(self) -> EventBus:
        return self._bus

    @property
    def registry(self) -> ToolRegistry:
        return self._registry

    def info(self) -> dict[str, Any]:
        """The model in use (and the builtin's commands) and the tools with their tiers."""
        return {
            **self._model.describe(),
            "tools": [{"name": s.name, "tier": s.tier.value} for s in self._registry],
        }

    async def chat(
        self,
        user: Principal,
        notebook_id: str,
        message: str,
        context: Mapping[str, Any] | None = None,
    ) -> ChatReply:
        """Run one turn for the person's message and return its answer."""
        text = message.strip()
        if not text:
            raise BadRequestError("the message is empty")
        limit = self._max_code_bytes + MESSAGE_SLACK
        if len(text) > limit:
            raise TooLargeError(f"the message is longer than {limit} characters")
        selected = _selected_cells(context)
        tools = self._tools(user, notebook_id)
        # Someone else's notebook is a 404; the client is looked up once for the turn.
        await tools.client(notebook_id)
        async with self._exclusive(notebook_id, LOCK_WAIT):
            # The builtin model reads only the last message: a history would be dead weight,
            # except to answer calls an earlier turn left waiting.
            history, carried = await self._conversation(
                user, notebook_id, need_history=not self._model.builtin
            )
            # The cells as they are when the turn starts, read while the turn is stored
            # and the model thinks; kept if the turn changes them (for undo).
            early = self._ledger.read_early(tools, notebook_id)
            async with self._sessions.begin() as session:
                turn = await TurnRepository(session).create(notebook_id, user.id, text)
                await ChatRepository(session).add(
                    notebook_id,
                    ChatRole.USER,
                    self._redactor.text(text),
                    turn_id=turn.id,
                    data_json=json.dumps({"context": {"cell_ids": selected}}) if selected else None,
                )
                turn_id = turn.id
            self._publish(notebook_id, {"type": "turn_started", "turn_id": turn_id, "prompt": text})
            state = TurnState(tools, turn_id, text)
            self._ledger.adopt(state, notebook_id, early)
            try:
                instructions = await self._instructions(state, selected)
                outcome = await self._runner.run(
                    state,
                    model=self._model.for_turn(selected),
                    publish=lambda e: self._publish(notebook_id, e),
                    prompt=text,
                    history=history,
                    deferred=carried,
                    instructions=instructions,
                )
                return await self._conclude(user, notebook_id, state, outcome)
            finally:
                await self._ledger.forget(turn_id)

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
            pending = await ApprovalRepository(session).list_pending(notebook_id, now=self._clock())
        lines = [ChatLine.of(r) for r in rows]
        previews = _previews(lines)
        return ChatHistory(
            notebook_id,
            lines,
            [PendingApproval.of(a, previews.get(a.id)) for a in pending if a.user_id == user.id],
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
        async with self._exclusive(notebook_id, LOCK_WAIT):
            async with self._sessions() as session:
                turns = await TurnRepository(session).list_for_notebook(notebook_id, limit=200)
            turn = next(
                (
                    t
                    for t in turns
                    if t.status is not TurnStatus.UNDONE
                    and t.user_id == user.id
                    # A turn that changed nothing is not what a person means to undo.
                    and undo.changed(t.cells_before_json, t.cells_after_json)
                ),
                None,
            )
            if turn is None:
                raise ConflictError("there is no agent change to undo in this notebook")
            snapshots = undo.decode(turn.cells_before_json)
            afters = undo.decode(turn.cells_after_json) if turn.cells_after_json else None
            restored: list[str] = []
            spared: list[str] = []
            started = asyncio.get_running_loop().time()
            befores: list[str] = []
            for target_id, before in snapshots.items():
                client = (await self._notebooks.running(user, target_id)).client
                current = await undo.read_state(client)
                befores.append(undo.joined(current))
                left = afters.get(target_id) if afters is not None else None
                cells, kept = undo.spare_later_edits(before, left, current)
                spared.extend(kept)
                ops = undo.plan_restore(cells, current)
                if not ops:
                    continue
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
                        raise ConflictError(
                            f"the cells could not be restored: {exc.message}"
                        ) from exc
                except MarimoError as exc:
                    raise UpstreamError(f"marimo refused the undo: {exc.message}") from exc
                restored.append(target_id)
            elapsed = (asyncio.get_running_loop().time() - started) * 1000
            message = f"Undid the agent's turn {turn.prompt!r}: " + (
                f"restored {', '.join(restored)}." if restored else "nothing had changed."
            )
            if spared:
                message += (
                    " Left as you changed them after that turn: cell(s) "
                    + ", ".join(f"`{c}`" for c in spared)
                    + "."
                )
            async with self._sessions.begin() as session:
                await self._supersede(session, user, turn.id, "the turn was undone")
                await TurnRepository(session).update(turn.id, status=TurnStatus.UNDONE)
                await AuditRepository(session).append(
                    user_id=user.id,
                    user_name=user.name,
                    notebook_id=notebook_id,
                    turn_id=turn.id,
                    prompt=self._redactor.text(turn.prompt),
                    tool_name="undo_turn",
                    args={"turn_id": turn.id},
                    code_before=self._redactor.text("\n\n".join(befores)) or None,
                    code_after=self._redactor.text(
                        "\n\n".join(undo.joined(c) for c in snapshots.values())
                    ),
                    decision=None,
                    outcome=f"ok: undone by {user.name}",
                    duration_ms=round(elapsed, 1),
                )
                await ChatRepository(session).add(
                    notebook_id, ChatRole.SYSTEM, message, turn_id=turn.id
                )
            self._publish(
                notebook_id, {"type": "turn_undone", "turn_id": turn.id, "message": message}
            )
            return UndoResult(turn.id, turn.prompt, message, restored)

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

    async def recover(self) -> int:
        """At start: turns a crash left running are marked so, and their chats say it."""
        reason = (
            "This turn was interrupted: Hexa stopped while it ran. What its tool calls "
            "finished is in the notebook and the Activity log; nothing else was done."
        )
        async with self._sessions.begin() as session:
            turns = await TurnRepository(session).interrupt_running(reason, now=self._clock())
            for turn in turns:
                await ChatRepository(session).add(
                    turn.notebook_id, ChatRole.SYSTEM, reason, turn_id=turn.id
                )
        return len(turns)

    async def close(self) -> None:
        await self._relay.close()
        await self._background.close()

    # ------------------------------------------------------------------ turns

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

    async def _conversation(
        self, user: Principal, notebook_id: str, *, need_history: bool = True
    ) -> tuple[list[ModelMessage] | None, DeferredToolResults | None]:
        """The history the next turn continues, and answers for calls a previous turn left
        waiting (the person wrote again instead of answering: those are not run)."""
        if not need_history and notebook_id in self._settled:
            return None, None
        async with self._sessions() as session:
            turns = await TurnRepository(session).list_for_notebook(notebook_id, limit=20)
        last = next((t for t in turns if t.messages_json), None)
        if last is None or (not need_history and last.status is TurnStatus.DONE):
            return None, None
        history = list(ModelMessagesTypeAdapter.validate_json(last.messages_json or "[]"))
        unresolved = _unresolved(history)
        carried: DeferredToolResults | None = None
        if last.status is TurnStatus.WAITING_APPROVAL or unresolved:
            async with self._sessions.begin() as session:
                approvals = await self._supersede(session, user, last.id, "a new message was sent")
                if last.status is TurnStatus.WAITING_APPROVAL:
                    await TurnRepository(session).update(last.id, status=TurnStatus.DONE)
            by_call = {a.tool_call_id: a for a in approvals}
            answers: dict[str, bool | ToolApproved | ToolDenied] = {}
            for call_id in unresolved:
                approval = by_call.get(call_id)
                if approval is None or approval.status is ApprovalStatus.APPROVED:
                    answers[call_id] = ToolDenied(NOT_CARRIED_OUT)
                elif approval.status is ApprovalStatus.EXPIRED:
                    answers[call_id] = ToolDenied(EXPIRED)
                else:
                    answers[call_id] = ToolDenied(SUPERSEDED)
            carried = DeferredToolResults(approvals=answers) if answers else None
        if carried is None and not need_history:
            return None, None
        return _trim(history), carried

    async def _supersede(
        self, session: AsyncSession, user: Principal, turn_id: str, reason: str
    ) -> list[Approval]:
        """Close a turn's unanswered approvals (rejected, or expired if due), audited."""
        now = self._clock()
        await self._expire(session, user, now)
        repo = ApprovalRepository(session)
        for approval in await _turn_approvals(session, turn_id):
            if approval.status is ApprovalStatus.PENDING:
                await repo.decide(approval.id, approval.user_id, False, now)
                await self._audit_decision(
                    session, user, approval, Decision.REJECTED, f"not run: {reason}"
                )
        return await _turn_approvals(session, turn_id)

    async def _expire(self, session: AsyncSession, user: Principal, now: datetime) -> None:
        """Mark due approvals expired, with one audit entry each."""
        due = await _due_approvals(session, now)
        if not due:
            return
        await ApprovalRepository(session).expire_due(now)
        for approval in due:
            await self._audit_decision(
                session, user, approval, Decision.EXPIRED, "not run: the approval expired"
            )

    async def _conclude(
        self, user: Principal, notebook_id: str, state: TurnState, outcome: RunOutcome
    ) -> ChatReply:
        """Persist how the run ended, then tell the notebook's listeners."""
        calls = [
            ToolCall(v.tool_name, v.arguments, v.tool_call_id, v.status, v.summary)
            for v in outcome.calls
        ]
        pending: list[PendingApproval] = []
        turn_id = state.turn_id
        now = self._clock()
        after = await self._ledger.after_json(state)
        await self._ledger.flush(turn_id)  # the audit entries land before the turn's end
        async with self._sessions.begin() as session:
            chat = ChatRepository(session)
            for view in outcome.calls:
                await chat.add(
                    notebook_id,
                    ChatRole.TOOL,
                    self._redactor.text(view.summary or view.tool_name),
                    turn_id=turn_id,
                    data_json=json.dumps(self._redactor.json(view.json())),
                )
            turns = TurnRepository(session)
            # The undo snapshot, if the turn changed cells (taken before the change).
            snapshot = self._ledger.snapshot_json(turn_id)
            if after is not None:
                await turns.update(turn_id, cells_after_json=after)
            if outcome.error is not None:
                status, message = TurnStatus.FAILED, outcome.error
                await turns.update(
                    turn_id, status=status, reply=message, cells_before_json=snapshot
                )
                await chat.add(
                    notebook_id,
                    ChatRole.ASSISTANT,
                    message,
                    turn_id=turn_id,
                    data_json=json.dumps({"error": True}),
                )
            elif outcome.deferred is not None:
                status = TurnStatus.WAITING_APPROVAL
                pending = await self._store_approvals(
                    session, user, notebook_id, turn_id, outcome.deferred, now
                )
                message = _asking(outcome.text, pending)
                await turns.update(
                    turn_id,
                    status=status,
                    reply=message,
                    messages_json=ModelMessagesTypeAdapter.dump_json(outcome.messages).decode(),
                    cells_before_json=snapshot,
                )
                await chat.add(
                    notebook_id,
                    ChatRole.ASSISTANT,
                    message,
                    turn_id=turn_id,
                    data_json=json.dumps(
                        {"approvals": [_approval_json(p) for p in pending]}, default=str
                    ),
                )
            else:
                status, message = TurnStatus.DONE, self._redactor.text(outcome.text or "")
                await turns.update(
                    turn_id,
                    status=status,
                    reply=message,
                    messages_json=ModelMessagesTypeAdapter.dump_json(outcome.messages).decode(),
                    cells_before_json=snapshot,
                )
                await chat.add(notebook_id, ChatRole.ASSISTANT, message, turn_id=turn_id)
        if status is TurnStatus.WAITING_APPROVAL:
            self._settled.discard(notebook_id)
        else:
            self._settled.add(notebook_id)
        for approval in pending:
            self._publish(
                notebook_id,
                {
                    "type": "approval_requested",
                    "turn_id": turn_id,
                    "approval": _approval_json(approval),
                },
            )
        if outcome.error is not None:
            self._publish(
                notebook_id, {"type": "error", "turn_id": turn_id, "message": outcome.error}
            )
        self._publish(
            notebook_id,
            {"type": "turn_done", "turn_id": turn_id, "status": status.value, "message": message},
        )
        return ChatReply(
            message=message,
            tool_calls=calls,
            pending_approval=pending[0] if pending else None,
            turn_id=turn_id,
            status=status.value,
            error=outcome.error,
        )

    async def _store_approvals(
        self,
        session: AsyncSession,
        user: Principal,
        notebook_id: str,
        turn_id: str,
        requests: DeferredToolRequests,
        now: datetime,
    ) -> list[PendingApproval]:
        repo = ApprovalRepository(session)
        stored = []
        for call in requests.approvals:
            spec = self._registry.get(call.tool_name)
            meta = dict(requests.metadata.get(call.tool_call_id, {}))
            # The arguments as validated (what the call will run with), shown redacted; the
            # binding (arguments as they are, and the cells shown) is stored as a hash.
            arguments = (
                canonical_arguments(spec, call.args_as_dict()) if spec else call.args_as_dict()
            )
            bound = meta.pop("binding_sha256", None)
            row = await repo.create(
                turn_id=turn_id,
                user_id=user.id,
                notebook_id=notebook_id,
                tool_call_id=call.tool_call_id,
                tool_name=call.tool_name,
                args=self._redactor.json(arguments),
                description=self._redactor.text(
                    str(meta.get("description") or f"Run {call.tool_name}")
                ),
                expires_at=now + timedelta(seconds=self._approval_ttl),
                now=now,
                bound_sha256=bound if isinstance(bound, str) else None,
            )
            stored.append(
                PendingApproval.of(
                    row,
                    {
                        k: self._redactor.text(v) if isinstance(v, str) else v
                        for k, v in meta.items()
                    },
                )
            )
        return stored

    # ------------------------------------------------------------------ approvals

    async def _decide(
        self, user: Principal, notebook_id: str, approval_id: str, *, approve: bool
    ) -> ChatReply:
        await self._notebooks.get(user, notebook_id)
        await self._check_answerable(user, notebook_id, approval_id)
        async with self._exclusive(notebook_id, LOCK_WAIT):
            now = self._clock()
            async with self._sessions.begin() as session:
                decided = await ApprovalRepository(session).decide(
                    approval_id, user.id, approve, now, notebook_id=notebook_id
                )
                if decided is not None and not approve:
                    await self._audit_decision(
                        session,
                        user,
                        decided,
                        Decision.REJECTED,
                        f"not run: rejected by {user.name}",
                    )
            if decided is None:
                await self._check_answerable(user, notebook_id, approval_id)
                raise ConflictError(f"approval {approval_id} can no longer be answered")
            self._publish(
                notebook_id,
                {
                    "type": "approval_decided",
                    "turn_id": decided.turn_id,
                    "approval_id": approval_id,
                    "decision": "approved" if approve else "rejected",
                },
            )
            async with self._sessions() as session:
                turn = await TurnRepository(session).get(decided.turn_id)
                approvals = await _turn_approvals(session, decided.turn_id)
            if turn is None or not turn.messages_json:
                raise NotFoundError(f"the turn of approval {approval_id} is gone")
            waiting = [
                a for a in approvals if a.status is ApprovalStatus.PENDING and a.expires_at > now
            ]
            if waiting:
                # Several destructive calls in one step: the run resumes once all are answered.
                previews = await self._approval_previews(notebook_id)
                return ChatReply(
                    message=f"Noted. {len(waiting)} more call(s) of this turn wait for an answer.",
                    tool_calls=[],
                    pending_approval=PendingApproval.of(waiting[0], previews.get(waiting[0].id)),
                    turn_id=turn.id,
                    status=TurnStatus.WAITING_APPROVAL.value,
                )
            return await self._resume(
                user,
                notebook_id,
                turn.id,
                turn.prompt,
                turn.messages_json,
                turn.cells_before_json,
                approvals,
            )

    async def _resume(
        self,
        user: Principal,
        notebook_id: str,
        turn_id: str,
        prompt: str,
        messages_json: str,
        cells_before_json: str | None,
        approvals: Sequence[Approval],
    ) -> ChatReply:
        # Built only from stored decisions: True for an approved, unused yes; a denial
        # (told to the model) for anything else.
        results: dict[str, bool | ToolApproved | ToolDenied] = {}
        approved: dict[str, str] = {}
        for a in approvals:
            if a.status is ApprovalStatus.APPROVED and a.consumed_at is None:
                results[a.tool_call_id] = True
                approved[a.tool_call_id] = a.id
            elif a.status is ApprovalStatus.REJECTED:
                results[a.tool_call_id] = ToolDenied(REJECTED)
            elif a.status is ApprovalStatus.EXPIRED or a.status is ApprovalStatus.PENDING:
                results[a.tool_call_id] = ToolDenied(EXPIRED)
            else:
                results[a.tool_call_id] = ToolDenied(NOT_CARRIED_OUT)
        async with self._sessions.begin() as session:
            await TurnRepository(session).update(turn_id, status=TurnStatus.RUNNING)
        self._publish(
            notebook_id,
            {"type": "turn_started", "turn_id": turn_id, "prompt": prompt, "resumed": True},
        )
        history = ModelMessagesTypeAdapter.validate_json(messages_json)
        state = TurnState(self._tools(user, notebook_id), turn_id, prompt, approved=approved)
        self._ledger.load(turn_id, cells_before_json)
        try:
            outcome = await self._runner.run(
                state,
                model=self._model.for_turn(),
                publish=lambda e: self._publish(notebook_id, e),
                history=history,
                deferred=DeferredToolResults(approvals=dict(results)),
                instructions=await self._instructions(state, ()),
            )
            return await self._conclude(user, notebook_id, state, outcome)
        finally:
            await self._ledger.forget(turn_id)

    async def _check_answerable(self, user: Principal, notebook_id: str, approval_id: str) -> None:
        """Raise the precise reason an approval cannot be answered (404, or 409)."""
        now = self._clock()
        async with self._sessions() as session:
            approval = await ApprovalRepository(session).get(approval_id)
        if approval is None or approval.user_id != user.id or approval.notebook_id != notebook_id:
            raise NotFoundError(f"no approval {approval_id} in notebook {notebook_id}")
        if approval.status is ApprovalStatus.PENDING and approval.expires_at <= now:
            async with self._sessions.begin() as session:
                await self._expire(session, user, now)
            raise ConflictError(
                f"approval {approval_id} expired at {approval.expires_at.isoformat()}; "
                "nothing was done. Ask the agent again."
            )
        if approval.status is ApprovalStatus.EXPIRED:
            raise ConflictError(f"approval {approval_id} expired; nothing was done. Ask again.")
        if approval.status is not ApprovalStatus.PENDING:
            raise ConflictError(f"approval {approval_id} was already {approval.status.value}")

    async def _audit_decision(
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

    async def _approval_previews(self, notebook_id: str) -> dict[str, dict[str, Any]]:
        async with self._sessions() as session:
            rows = await ChatRepository(session).list_for_notebook(notebook_id, limit=50)
        return _previews([ChatLine.of(r) for r in rows])

    # ------------------------------------------------------------------ plumbing

    @contextlib.asynccontextmanager
    async def _exclusive(self, notebook_id: str, wait: float) -> AsyncIterator[None]:
        """One turn at a time per notebook (in this process)."""
        lock = self._locks.setdefault(notebook_id, asyncio.Lock())
        try:
            async with asyncio.timeout(wait):
                await lock.acquire()
        except TimeoutError:
            raise ConflictError(
                "the agent is still working on another message for this notebook; "
                "try again when it has answered"
            ) from None
        try:
            yield
        finally:
            lock.release()

    def _publish(self, notebook_id: str, event: Event) -> None:
        self._bus.publish(notebook_id, event)

    def _run_finished(self, notebook_id: str, label: str, error: BaseException | None) -> None:
        if error is not None and not isinstance(error, CodeModeError):
            message = f"{label}: the run failed: {self._redactor.text(str(error))}"
        elif isinstance(error, CodeModeError) and error.applied:
            message = f"{label}: the run finished; a cell raised an error"
        else:
            message = f"{label}: the run finished"
        self._publish(
            notebook_id,
            {"type": "run_finished", "tool_name": label, "ok": error is None, "message": message},
        )


# ---------------------------------------------------------------------- helpers


async def _turn_approvals(session: AsyncSession, turn_id: str) -> list[Approval]:
    # (A query ApprovalRepository lacks: every approval of one turn.)
    stmt = (
        select(Approval)
        .where(Approval.turn_id == turn_id)
        .order_by(Approval.created_at, Approval.id)
    )
    return list((await session.scalars(stmt.execution_options(populate_existing=True))).all())


async def _due_approvals(session: AsyncSession, now: datetime) -> list[Approval]:
    stmt = select(Approval).where(
        Approval.status == ApprovalStatus.PENDING, Approval.expires_at <= now
    )
    return list((await session.scalars(stmt)).all())


def _unresolved(history: Sequence[ModelMessage]) -> list[str]:
    """Ids of tool calls in `history` that never got a result (left waiting)."""
    calls: dict[str, None] = {}
    answered: set[str] = set()
    for message in history:
        if isinstance(message, ModelResponse):
            for call in message.parts:
                if isinstance(call, ToolCallPart):
                    calls[call.tool_call_id] = None
        else:
            for result in message.parts:
                if isinstance(result, ToolReturnPart | RetryPromptPart):
                    answered.add(result.tool_call_id)
    return [c for c in calls if c not in answered]


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


def _trim(history: list[ModelMessage]) -> list[ModelMessage]:
    """The last messages of a long conversation, cut where a person's message starts (so
    no tool result is separated from its call)."""
    if len(history) <= HISTORY_MESSAGES:
        return history
    for start in range(len(history) - HISTORY_MESSAGES, len(history)):
        message = history[start]
        if (
            isinstance(message, ModelRequest)
            and message.parts
            and all(isinstance(p, UserPromptPart) for p in message.parts)
        ):
            return history[start:]
    return history[-1:] if isinstance(history[-1], ModelRequest) else []


def _approval_json(approval: PendingApproval) -> dict[str, Any]:
    return {
        "id": approval.id,
        "operation": approval.operation,
        "description": approval.description,
        "arguments": approval.arguments,
        "turn_id": approval.turn_id,
        "expires_at": approval.expires_at.isoformat(),
        "code_before": approval.code_before,
        "code_after": approval.code_after,
    }


def _previews(lines: Sequence[ChatLine]) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    for line in lines:
        for item in (line.data or {}).get("approvals") or []:
            if isinstance(item, dict) and "id" in item:
                found[str(item["id"])] = item
    return found


def _asking(text: str | None, pending: Sequence[PendingApproval]) -> str:
    asks = "\n".join(f"- {p.description}" for p in pending)
    lead = (text or "").strip()
    question = f"I need your approval before I go on:\n{asks}"
    return f"{lead}\n\n{question}" if lead else question
