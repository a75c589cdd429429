"""What the agent service returns: plain, JSON-ready values (the router serialises them)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from hexa.store import Approval, AuditEntry, ChatMessage


@dataclass(frozen=True)
class PendingApproval:
    """A destructive call waiting for the person: DESIGN.md §3's `pending_approval`."""

    id: str
    operation: str  # the tool's name
    description: str
    arguments: dict[str, Any]
    turn_id: str
    expires_at: datetime
    code_before: str | None = None
    code_after: str | None = None

    @classmethod
    def of(cls, row: Approval, preview: dict[str, Any] | None = None) -> PendingApproval:
        extra = preview or {}
        return cls(
            id=row.id,
            operation=row.tool_name,
            description=row.description,
            arguments=json.loads(row.args_json),
            turn_id=row.turn_id,
            expires_at=row.expires_at,
            code_before=extra.get("code_before"),
            code_after=extra.get("code_after"),
        )


@dataclass(frozen=True)
class ToolCall:
    tool_name: str
    arguments: dict[str, Any]
    tool_call_id: str
    status: str  # ok | error | pending_approval | denied | invalid
    summary: str


@dataclass(frozen=True)
class ChatReply:
    """The answer to a chat message, or to an approval or rejection (the resumed turn)."""

    message: str
    tool_calls: list[ToolCall]
    pending_approval: PendingApproval | None
    turn_id: str
    status: str  # done | waiting_approval | failed
    error: str | None = None  # set when the model or provider failed (message says why)


@dataclass(frozen=True)
class ChatLine:
    id: int
    turn_id: str | None
    role: str
    content: str
    data: dict[str, Any] | None
    created_at: datetime

    @classmethod
    def of(cls, row: ChatMessage) -> ChatLine:
        return cls(
            id=row.id,
            turn_id=row.turn_id,
            role=row.role.value,
            content=row.content,
            data=json.loads(row.data_json) if row.data_json else None,
            created_at=row.created_at,
        )


@dataclass(frozen=True)
class ChatHistory:
    notebook_id: str
    messages: list[ChatLine]
    pending_approvals: list[PendingApproval] = field(default_factory=list)


@dataclass(frozen=True)
class AuditLine:
    id: int
    at: datetime
    user: str | None
    notebook_id: str
    turn_id: str | None
    prompt: str | None
    tool_name: str
    arguments: Any
    code_before: str | None
    code_after: str | None
    decision: str | None
    outcome: str
    duration_ms: float | None

    @classmethod
    def of(cls, row: AuditEntry) -> AuditLine:
        try:
            arguments: Any = json.loads(row.args_json)
        except ValueError:
            arguments = row.args_json
        return cls(
            id=row.id,
            at=row.at,
            user=row.user_name,
            notebook_id=row.notebook_id,
            turn_id=row.turn_id,
            prompt=row.prompt,
            tool_name=row.tool_name,
            arguments=arguments,
            code_before=row.code_before,
            code_after=row.code_after,
            decision=row.decision.value if row.decision is not None else None,
            outcome=row.outcome,
            duration_ms=row.duration_ms,
        )


@dataclass(frozen=True)
class UndoResult:
    turn_id: str
    prompt: str
    message: str
    notebooks: list[str]
