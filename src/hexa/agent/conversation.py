"""What a new turn continues from: the last turn's model messages (trimmed), and answers
for calls that turn left waiting when the person wrote again instead of answering."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from pydantic_ai import DeferredToolResults
from pydantic_ai.messages import (
    BinaryContent,
    ModelMessage,
    ModelMessagesTypeAdapter,
    ModelRequest,
    ModelResponse,
    RetryPromptPart,
    ToolCallPart,
    ToolReturnPart,
    UserPromptPart,
)
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hexa.agent.approvals import Approvals, carried_answers
from hexa.store import TurnRepository, TurnStatus
from hexa.users import Principal

HISTORY_MESSAGES = 60  # model messages carried into the next turn


class Conversations:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], approvals: Approvals) -> None:
        self._sessions = sessions
        self._approvals = approvals
        # Notebooks whose last turn left nothing waiting (learnt from the database once,
        # then kept up to date here: turns of a notebook run one at a time, in this process).
        self._settled: set[str] = set()

    def settle(self, notebook_id: str, settled: bool) -> None:
        if settled:
            self._settled.add(notebook_id)
        else:
            self._settled.discard(notebook_id)

    async def continue_from(
        self, user: Principal, notebook_id: str, *, need_history: bool = True
    ) -> tuple[list[ModelMessage] | None, DeferredToolResults | None]:
        """The history the next turn continues, and denials for the calls left waiting."""
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
                approvals = await self._approvals.supersede(
                    session, user, last.id, "a new message was sent"
                )
                if last.status is TurnStatus.WAITING_APPROVAL:
                    await TurnRepository(session).update(last.id, status=TurnStatus.DONE)
            answers = carried_answers(unresolved, approvals)
            carried = DeferredToolResults(approvals=answers) if answers else None
        if carried is None and not need_history:
            return None, None
        return _without_images(_trim(history)), carried


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


def _without_images(history: list[ModelMessage]) -> list[ModelMessage]:
    """`history` with the images earlier turns were handed replaced by a mention: their
    text descriptions stay, and each later request would pay for them again."""
    out: list[ModelMessage] = []
    for message in history:
        if isinstance(message, ModelRequest) and any(
            isinstance(p, UserPromptPart) and not isinstance(p.content, str) for p in message.parts
        ):
            parts = [
                replace(
                    p,
                    content=[
                        "[an image shown in an earlier turn]" if isinstance(c, BinaryContent) else c
                        for c in p.content
                    ],
                )
                if isinstance(p, UserPromptPart) and not isinstance(p.content, str)
                else p
                for p in message.parts
            ]
            message = replace(message, parts=parts)
        out.append(message)
    return out


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
