"""What the agent service returns: pydantic models that are the API's replies themselves,
so `/openapi.json` describes exactly what is sent (and the web client's types follow)."""

from __future__ import annotations

import json
from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from hexa.store import Approval, AuditEntry, ChatMessage

CallStatus = Literal["running", "ok", "error", "pending_approval", "denied", "invalid"]
TurnOutcome = Literal["done", "waiting_approval", "failed"]


class View(BaseModel):
    model_config = ConfigDict(frozen=True)


class CellChange(View):
    """One cell a call would change: `before` None for a new cell, `after` None for a
    deleted one. `cell_id` is None for a cell that does not exist yet."""

    cell_id: str | None
    before: str | None = None
    after: str | None = None


class PendingApproval(View):
    """A destructive call waiting for the person: DESIGN.md §3's `pending_approval`."""

    id: str
    operation: str = Field(description="The tool's name.")
    description: str
    arguments: dict[str, Any]
    turn_id: str
    expires_at: AwareDatetime
    code_before: str | None = None
    code_after: str | None = None
    changes: list[CellChange] = Field(default_factory=list)

    @classmethod
    def of(cls, row: Approval) -> PendingApproval:
        preview: dict[str, Any] = json.loads(row.preview_json) if row.preview_json else {}
        return cls(
            id=row.id,
            operation=row.tool_name,
            description=row.description,
            arguments=json.loads(row.args_json),
            turn_id=row.turn_id,
            expires_at=row.expires_at,
            code_before=preview.get("code_before"),
            code_after=preview.get("code_after"),
            changes=preview.get("changes") or [],
        )


class ToolCall(View):
    tool_name: str
    arguments: dict[str, Any]
    tool_call_id: str
    status: CallStatus
    summary: str


class ChatReply(View):
    """The answer to a chat message, or to an approval or rejection (the resumed turn)."""

    message: str
    tool_calls: list[ToolCall]
    pending_approval: PendingApproval | None
    turn_id: str
    status: TurnOutcome
    error: str | None = Field(None, description="Set when the model or its provider failed.")


class ChatLine(View):
    id: int
    turn_id: str | None
    role: Literal["user", "assistant", "tool", "system"]
    content: str
    data: dict[str, Any] | None
    created_at: AwareDatetime

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


class ChatHistory(View):
    notebook_id: str
    messages: list[ChatLine]
    pending_approvals: list[PendingApproval] = Field(default_factory=list)


class AuditLine(View):
    id: int
    at: AwareDatetime
    user: str | None
    notebook_id: str
    turn_id: str | None
    prompt: str | None
    tool_name: str
    arguments: Any
    code_before: str | None
    code_after: str | None
    decision: Literal["auto", "approved", "rejected", "expired"] | None
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


class AuditLog(View):
    notebook_id: str
    entries: list[AuditLine]


class UndoResult(View):
    turn_id: str
    prompt: str
    message: str
    notebooks: list[str]


class ToolInfo(View):
    name: str
    tier: Literal["read", "write", "destructive"]


class Command(View):
    command: str
    does: str


class AgentInfo(View):
    """The model in use, the builtin's commands (when it is the builtin), and the tools."""

    model: str
    builtin: bool
    problem: str | None = Field(None, description="Why the configured model cannot be used.")
    commands: list[Command] = Field(default_factory=list)
    tools: list[ToolInfo]
