"""The agent's live events, and `NotebookEvent`: the union `WS /api/ws/{notebook_id}` sends.

Each is a pydantic model told apart by its `type`; `/openapi.json` lists the union (as
`NotebookEvent`) so the web client's types are generated, not guessed.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field

from hexa.agent.views import CallStatus, PendingApproval, TurnOutcome
from hexa.live import Lagged, LiveEvent, NotebookStatusChanged


class TurnStarted(LiveEvent):
    type: Literal["turn_started"] = "turn_started"
    turn_id: str
    prompt: str
    resumed: bool = Field(False, description="True when the turn goes on after an approval.")


class TextDelta(LiveEvent):
    type: Literal["text_delta"] = "text_delta"
    turn_id: str
    delta: str


class ToolCallStarted(LiveEvent):
    type: Literal["tool_call_started"] = "tool_call_started"
    turn_id: str
    tool_call_id: str
    tool_name: str
    arguments: dict[str, Any]


class ToolCallFinished(LiveEvent):
    type: Literal["tool_call_finished"] = "tool_call_finished"
    turn_id: str
    tool_call_id: str
    tool_name: str
    ok: bool
    status: CallStatus
    summary: str
    duration_ms: float | None


class ApprovalRequested(LiveEvent):
    type: Literal["approval_requested"] = "approval_requested"
    turn_id: str
    approval: PendingApproval


class ApprovalDecided(LiveEvent):
    type: Literal["approval_decided"] = "approval_decided"
    turn_id: str
    approval_id: str
    decision: Literal["approved", "rejected"]


class TurnDone(LiveEvent):
    type: Literal["turn_done"] = "turn_done"
    turn_id: str
    status: TurnOutcome
    message: str


class TurnFailed(LiveEvent):
    """The model or its provider failed; `turn_done` (status `failed`) follows."""

    type: Literal["error"] = "error"
    turn_id: str
    message: str


class RunFinished(LiveEvent):
    """A run that outlived the tool's wait has ended."""

    type: Literal["run_finished"] = "run_finished"
    tool_name: str
    ok: bool
    message: str


class TurnUndone(LiveEvent):
    type: Literal["turn_undone"] = "turn_undone"
    turn_id: str
    message: str


class MarimoNotification(LiveEvent):
    """marimo's own notification (its `op` and `data`), relayed as it came."""

    type: Literal["marimo"] = "marimo"
    op: str
    data: Any


NotebookEvent = Annotated[
    TurnStarted
    | TextDelta
    | ToolCallStarted
    | ToolCallFinished
    | ApprovalRequested
    | ApprovalDecided
    | TurnDone
    | TurnFailed
    | RunFinished
    | TurnUndone
    | MarimoNotification
    | NotebookStatusChanged
    | Lagged,
    Field(discriminator="type"),
]
